import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import forge from 'node-forge'
import PDFDocument from 'pdfkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addSignaturePlaceholder,
  inspectPdfSignature,
  signPdf,
} from '../../electron/certificates/pdf-signature'
import {
  createSigningIdentity,
  fingerprint,
  fromPkcs12,
  toPkcs12,
  type SigningIdentity,
} from '../../electron/certificates/signing-identity'

const FONTS = resolve(import.meta.dirname, '../../resources/fonts')
// Non-ASCII on purpose: forge mangles UTF-8 issuer names in PKCS#7 unless the signer works round it.
const ORGANISATION = 'Čapek & Partner s.r.o.'
const TITLE = 'Čapek — Zürich'
const REASON = 'Certificate of removal (GDPR Art. 17) — Zürich'

const hasPoppler = existsSync('/usr/bin/pdfsig')
const hasQpdf = existsSync('/usr/bin/qpdf')
const hasOpenssl = existsSync('/usr/bin/openssl')

function run(command: string, args: string[], input?: string) {
  const result = spawnSync(command, args, { encoding: 'utf8', input })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

async function certificatePdf(): Promise<Buffer> {
  const doc = new PDFDocument({ size: 'A4', info: { Title: 'Certificate of removal', Author: ORGANISATION } })
  const chunks: Buffer[] = []
  doc.on('data', (chunk: Buffer) => chunks.push(chunk))
  const finished = new Promise<Buffer>((done, fail) => {
    doc.on('end', () => done(Buffer.concat(chunks)))
    doc.on('error', fail)
  })
  doc.registerFont('Sans', join(FONTS, 'DejaVuSans.ttf'))
  doc.registerFont('Sans-Bold', join(FONTS, 'DejaVuSans-Bold.ttf'))
  doc.font('Sans-Bold').fontSize(22).text(TITLE)
  doc.font('Sans').fontSize(11).text('Records of one requester were erased and unlearned.')
  const manifest = JSON.stringify({ request: 'R-2026-0042', records: 3, model: 'sha256:abc' })
  doc.file(Buffer.from(manifest), {
    name: 'manifest.json',
    type: 'application/json',
    description: 'Manifest',
  })
  addSignaturePlaceholder(doc, {
    reason: REASON,
    contactInfo: 'dpo@capek.example',
    name: ORGANISATION,
    location: 'Zürich',
  })
  doc.end()
  return finished
}

let dir: string
let identity: SigningIdentity
let unsigned: Buffer
let signed: Buffer
let signedPath: string
let tamperedPath: string

/** The signed PDF with one byte of the attachment's (compressed) stream changed. */
function tamper(pdf: Buffer): Buffer {
  const text = pdf.toString('latin1')
  const embedded = text.indexOf('/Type /EmbeddedFile')
  const data = text.indexOf('stream', embedded) + 'stream\n'.length
  expect(embedded).toBeGreaterThan(0)
  const copy = Buffer.from(pdf)
  copy[data + 5] = (copy[data + 5] ?? 0) ^ 0x01
  return copy
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lethe-pdf-signature-'))
  identity = createSigningIdentity(ORGANISATION, new Date('2026-03-01T12:00:00Z'))
  unsigned = await certificatePdf()
  signed = await signPdf(unsigned, identity)
  signedPath = join(dir, 'signed.pdf')
  tamperedPath = join(dir, 'tampered.pdf')
  writeFileSync(signedPath, signed)
  writeFileSync(tamperedPath, tamper(signed))
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('signPdf and inspectPdfSignature', () => {
  it('signs the whole file but the signature, as the organisation', () => {
    const before = Date.now()
    expect(inspectPdfSignature(signed)).toEqual({
      present: true,
      coversWholeFile: true,
      digestMatches: true,
      signer: ORGANISATION,
      signerFingerprint: fingerprint(identity.certificatePem),
      signedAt: expect.any(String),
      reason: REASON,
    })
    const signedAt = Date.parse(inspectPdfSignature(signed).signedAt ?? '')
    expect(Math.abs(signedAt - before)).toBeLessThan(5 * 60_000)
  })

  it('names the signer by the certificate whose key verifies, not by a name or serial a look-alike can copy', () => {
    // A look-alike certificate: the organisation's name and the genuine certificate's serial, another key.
    const genuine = forge.pki.certificateFromPem(identity.certificatePem)
    const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 })
    const lookalike = forge.pki.createCertificate()
    Object.assign(lookalike, { serialNumber: genuine.serialNumber, validity: genuine.validity })
    lookalike.publicKey = keys.publicKey
    // forge hands back UTF8String names as raw bytes; decoded, they are written as they were.
    const name = genuine.subject.attributes.map((a) => ({
      ...a,
      value: forge.util.decodeUtf8(a.value as string),
    }))
    lookalike.setSubject(name)
    lookalike.setIssuer(name)
    lookalike.sign(keys.privateKey, forge.md.sha256.create())
    const lookalikePem = forge.pki.certificateToPem(lookalike)
    // The forgery carries the genuine certificate first, then signs with the look-alike's key.
    const text = signed.toString('latin1')
    const [a, b, c, d] = (/\/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]/.exec(text)?.slice(1) ?? []).map(
      Number,
    ) as [number, number, number, number]
    const p7 = forge.pkcs7.createSignedData()
    p7.content = forge.util.createBuffer(
      Buffer.concat([signed.subarray(a, a + b), signed.subarray(c, c + d)]).toString('binary'),
    )
    p7.addCertificate(genuine)
    p7.addCertificate(lookalike)
    p7.addSigner({
      key: keys.privateKey,
      certificate: lookalike,
      digestAlgorithm: forge.pki.oids.sha256 ?? '',
      authenticatedAttributes: [
        { type: forge.pki.oids.contentType ?? '', value: forge.pki.oids.data },
        { type: forge.pki.oids.messageDigest ?? '' },
      ],
    })
    p7.sign({ detached: true })
    const hex = Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary').toString('hex')
    const forged = Buffer.from(signed)
    forged.write(hex.padEnd(c - b - 2, '0'), b + 1, 'latin1')

    const found = inspectPdfSignature(forged)
    expect(found.digestMatches).toBe(true) // a valid signature…
    expect(found.signer).toBe(ORGANISATION) // …under the organisation's name…
    expect(found.signerFingerprint).toBe(fingerprint(lookalikePem)) // …by another certificate
    expect(found.signerFingerprint).not.toBe(fingerprint(identity.certificatePem))
  })

  it('finds no signature in the placeholder alone', () => {
    expect(inspectPdfSignature(unsigned)).toMatchObject({
      present: false,
      digestMatches: false,
      signer: null,
    })
    expect(inspectPdfSignature(Buffer.from('%PDF-1.3\n%%EOF'))).toMatchObject({ present: false })
  })

  it('notices one changed byte in the signed range', () => {
    expect(inspectPdfSignature(readFileSync(tamperedPath))).toMatchObject({
      present: true,
      coversWholeFile: true,
      digestMatches: false,
    })
  })

  it('notices bytes appended after the signed range', () => {
    const appended = Buffer.concat([signed, Buffer.from('\n% appended\n')])
    expect(inspectPdfSignature(appended)).toMatchObject({ present: true, coversWholeFile: false })
  })

  it.skipIf(!hasPoppler)('pdfsig finds a valid signature by the organisation over the whole document', () => {
    const { output } = run('pdfsig', ['-nocert', signedPath])
    expect(output).toContain('Signature Validation: Signature is Valid.')
    expect(output).toContain(`Signer Certificate Common Name: ${ORGANISATION}`)
    expect(output).toContain('Total document signed')
  })

  it.skipIf(!hasPoppler)('pdfsig rejects the tampered file', () => {
    const { output } = run('pdfsig', ['-nocert', tamperedPath])
    // pdfsig exits 0 either way: the verdict is in its output.
    expect(output).toContain('Signature Validation: Digest Mismatch.')
    expect(output).not.toContain('Signature is Valid')
  })

  it.skipIf(!hasQpdf)('qpdf finds the signed file well formed', () => {
    const { status, output } = run('qpdf', ['--check', signedPath])
    expect(output).toContain('No syntax or stream encoding errors')
    expect(status).toBe(0)
  })

  it.skipIf(!hasPoppler)('keeps the attachment, the text and a page that renders', () => {
    expect(run('pdfdetach', ['-list', signedPath]).output).toContain('manifest.json')
    expect(run('pdftotext', ['-enc', 'UTF-8', signedPath, '-']).output).toContain(TITLE)

    const png = join(dir, 'page')
    expect(
      run('pdftoppm', ['-png', '-r', '40', '-f', '1', '-l', '1', '-singlefile', signedPath, png]).status,
    ).toBe(0)
    const bytes = readFileSync(`${png}.png`)
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG')
    expect(bytes.length).toBeGreaterThan(1000)

    // The same page as a binary greymap (P5) is easy to read pixel by pixel: text is not white.
    const pgm = join(dir, 'gray')
    run('pdftoppm', ['-gray', '-r', '40', '-f', '1', '-l', '1', '-singlefile', signedPath, pgm])
    const image = readFileSync(`${pgm}.pgm`)
    const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(image.subarray(0, 32).toString('latin1'))
    expect(header).not.toBeNull()
    const pixels = image.subarray(header?.[0].length)
    expect(pixels.length).toBe(Number(header?.[1]) * Number(header?.[2]))
    expect(pixels.filter((value) => value < 128).length).toBeGreaterThan(50)
  })
})

describe('signing identity', () => {
  it('is a self-signed RSA-2048 certificate for the organisation, valid for ten years', () => {
    const cert = new X509Certificate(identity.certificatePem)
    expect(cert.subject).toContain(`CN=${ORGANISATION}`)
    expect(cert.subject).toContain(`O=${ORGANISATION}`)
    expect(cert.issuer).toBe(cert.subject)
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-03-01T12:00:00.000Z')
    expect(new Date(cert.validTo).toISOString()).toBe('2036-03-01T12:00:00.000Z')
    expect(cert.verify(cert.publicKey)).toBe(true)
  })

  it('survives a PKCS#12 round trip', () => {
    const p12 = toPkcs12(identity, 'pw')
    expect(fromPkcs12(p12, 'pw')).toEqual(identity)
  })

  it('refuses a wrong passphrase and a file that is no PKCS#12', () => {
    const p12 = toPkcs12(identity, 'pw')
    expect(() => fromPkcs12(p12, 'wrong')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    expect(() => fromPkcs12(Buffer.from('not a p12'), 'pw')).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    )
  })

  it.skipIf(!hasOpenssl)('prints the fingerprint as openssl does', () => {
    const { output } = run('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], identity.certificatePem)
    const printed = output.trim().split('=')[1] ?? ''
    expect(printed).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i)
    expect(fingerprint(identity.certificatePem).toLowerCase()).toBe(printed.toLowerCase())
  })

  it.skipIf(!hasOpenssl)('imports an openssl PKCS#12 with an RSA key, and refuses one with an EC key', () => {
    const make = (name: string, keyArgs: string[]) => {
      const key = join(dir, `${name}.key`)
      const cert = join(dir, `${name}.crt`)
      const p12 = join(dir, `${name}.p12`)
      const req = ['req', '-x509', '-nodes', ...keyArgs, '-keyout', key, '-out', cert, '-days', '30']
      expect(run('openssl', [...req, '-subj', `/CN=${name}/O=${name}`]).status).toBe(0)
      expect(
        run('openssl', ['pkcs12', '-export', '-in', cert, '-inkey', key, '-out', p12, '-passout', 'pass:pw'])
          .status,
      ).toBe(0)
      return { p12: readFileSync(p12), pem: readFileSync(cert, 'utf8') }
    }
    const rsa = make('Acme', ['-newkey', 'rsa:2048'])
    const imported = fromPkcs12(rsa.p12, 'pw')
    expect(fingerprint(imported.certificatePem)).toBe(fingerprint(rsa.pem))

    const ec = make('Elliptic', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'])
    expect(() => fromPkcs12(ec.p12, 'pw')).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/RSA/) }),
    )
  })
})
