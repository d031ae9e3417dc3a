import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  manifestBytes,
  manifestSha256,
  rowsDigest,
  type CertificateManifest,
} from '../../electron/certificates/manifest'
import type { PublicIdentity } from '../../electron/certificates/organisation'
import { keyFingerprint } from '../../electron/lib/digest'
import { longDate, renderCertificatePdf, type CertificatePdfInput } from '../../electron/certificates/pdf'
import { inspectPdfSignature } from '../../electron/certificates/pdf-signature'
import {
  createSigningIdentity,
  fingerprint,
  type SigningIdentity,
} from '../../electron/certificates/signing-identity'

const ROOT = resolve(import.meta.dirname, '../..')
const FONTS = join(ROOT, 'resources/fonts')
const ARTIFACTS = join(ROOT, 'artifacts/certificates')
const ORGANISATION = 'Ørsted Klinik'

const hasPoppler = existsSync('/usr/bin/pdfsig')
const hasQpdf = existsSync('/usr/bin/qpdf')
const hasOpenssl = existsSync('/usr/bin/openssl')

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

function sampleManifest(organisation: PublicIdentity): CertificateManifest {
  return {
    format: 'lethe-certificate',
    version: 2,
    certificateId: 'CERT-2026-0007',
    issuedAt: '2026-11-22T09:30:00.000Z',
    issuer: {
      organisation: organisation.name,
      software: 'Lethe 0.1.0',
      manifestKeyFingerprint: organisation.manifestKeyFingerprint,
      certificateFingerprint: organisation.certificateFingerprint,
    },
    request: {
      id: 'RTBF-2026-0042',
      jurisdiction: 'gdpr',
      legalBasis: 'gdpr-art-17',
      ground: 'Art. 17(1)(b)',
      received: '2026-11-02',
      completed: '2026-11-20',
      subjectReference: '3f9a0c1de4b27788a1c05e6f9b2d4c7e8f1029384756abcdef0123456789abcd',
    },
    records: {
      count: 37,
      rowsSha256: rowsDigest([1204, 88, 3071, 15, 947]),
      datasetId: 'ds-138421fef161',
      datasetSha256: '9c1e5b7a2f4d8c0e6b3a1f9d7c5e3b1a0f8e6d4c2b0a9f7e5d3c1b0a9e8d7c6b',
    },
    model: {
      before: { id: 'mdl-7f3a21', sha256: 'b'.repeat(64) },
      after: { id: 'mdl-c90e44', sha256: 'c'.repeat(64) },
    },
    method: {
      name: 'finetune',
      guarantee: {
        kind: 'empirical',
        meaning:
          'No formal guarantee: the removal is measured (forget accuracy, membership inference), not proven.',
      },
    },
    verification: {
      before: {
        forgetAccuracy: 0.973,
        retainAccuracy: 0.968,
        testAccuracy: 0.912,
        miaAuc: 0.68,
        miaInterval: [0.61, 0.75],
      },
      after: {
        forgetAccuracy: 0.919,
        retainAccuracy: 0.961,
        testAccuracy: 0.908,
        miaAuc: 0.52,
        miaInterval: [0.44, 0.6],
      },
      retrained: {
        forgetAccuracy: 0.905,
        retainAccuracy: 0.965,
        testAccuracy: 0.91,
        miaAuc: 0.5,
        miaInterval: [0.42, 0.58],
      },
      distanceToRetrained: { after: 0.184, before: 0.611 },
    },
    compute: { backend: 'wasm', unlearningMs: 1840 },
    ledger: { ledgerId: 'ledger-5b1f', seq: 118, hash: 'e'.repeat(64), keyFingerprint: 'AB:CD' },
    scope: {
      datasets: ['ds-138421fef161 (patients-2025.csv)'],
      models: ['mdl-7f3a21 (before)', 'mdl-c90e44 (after)'],
      notCovered: [
        'Backups: removed when next restored, within 35 days',
        'Copies outside Lethe, such as exports and analysts’ notebooks',
      ],
      recipientsToNotify: [
        'Research partner: Aarhus University Hospital',
        'Model hosting: internal MLOps team',
      ],
    },
  }
}

let dir: string
let signing: SigningIdentity
let input: CertificatePdfInput
let pdf: Buffer
let pdfPath: string

function makeInput(name: string): CertificatePdfInput {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const manifestPublicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const organisation: PublicIdentity = {
    name,
    manifestPublicKeyPem,
    manifestKeyFingerprint: keyFingerprint(manifestPublicKeyPem),
    certificatePem: signing.certificatePem,
    certificateFingerprint: fingerprint(signing.certificatePem),
    ledgerKeyFingerprint: null,
  }
  const manifest = sampleManifest(organisation)
  const bytes = manifestBytes(manifest)
  return {
    manifest,
    manifestBytes: bytes,
    manifestSignature: sign(null, bytes, privateKey),
    manifestSha256: manifestSha256(manifest),
    organisation,
    signing,
    fontsDir: FONTS,
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lethe-certificate-pdf-'))
  signing = createSigningIdentity(ORGANISATION, new Date('2026-01-05T08:00:00Z'))
  input = makeInput(ORGANISATION)
  pdf = await renderCertificatePdf(input)
  pdfPath = join(dir, 'certificate.pdf')
  writeFileSync(pdfPath, pdf)
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('renderCertificatePdf', () => {
  it('signs the whole file as the organisation', () => {
    expect(inspectPdfSignature(pdf)).toMatchObject({
      present: true,
      coversWholeFile: true,
      digestMatches: true,
      signer: ORGANISATION,
      reason: 'Certificate of removal CERT-2026-0007',
    })
  })

  it.skipIf(!hasPoppler)('passes pdfsig: valid, total document signed', () => {
    const { output } = run('pdfsig', ['-nocert', pdfPath])
    expect(output).toContain('Signature Validation: Signature is Valid.')
    expect(output).toContain(`Signer Certificate Common Name: ${ORGANISATION}`)
    expect(output).toContain('Total document signed')
  })

  it.skipIf(!hasQpdf)('passes qpdf --check', () => {
    const { status, output } = run('qpdf', ['--check', pdfPath])
    expect(output).toContain('No syntax or stream encoding errors')
    expect(status).toBe(0)
  })

  it.skipIf(!hasPoppler)('carries the manifest, its signature, the key and the certificate', () => {
    const listed = run('pdfdetach', ['-list', pdfPath]).output
    for (const name of [
      'manifest.json',
      'manifest.sig',
      'organisation-manifest-key.pem',
      'organisation-certificate.pem',
    ]) {
      expect(listed).toContain(name)
    }
    expect(listed).toMatch(/^4 embedded files/m)

    const out = join(dir, 'detached')
    mkdirSync(out)
    expect(run('pdfdetach', ['-saveall', '-o', out, pdfPath]).status).toBe(0)
    expect(readFileSync(join(out, 'manifest.json')).equals(input.manifestBytes)).toBe(true)
    expect(readFileSync(join(out, 'manifest.sig')).equals(input.manifestSignature)).toBe(true)
    expect(readFileSync(join(out, 'organisation-manifest-key.pem'), 'utf8')).toBe(
      input.organisation.manifestPublicKeyPem,
    )
    expect(readFileSync(join(out, 'organisation-certificate.pem'), 'utf8')).toBe(signing.certificatePem)

    // The command the certificate tells an auditor to run.
    if (hasOpenssl) {
      const verified = spawnSync(
        'openssl',
        [
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          'organisation-manifest-key.pem',
          '-rawin',
          '-in',
          'manifest.json',
          '-sigfile',
          'manifest.sig',
        ],
        { cwd: out, encoding: 'utf8' },
      )
      expect(verified.stdout).toContain('Signature Verified Successfully')
    }
  })

  it.skipIf(!hasPoppler)('states the facts in text a person and pdftotext can read', () => {
    const text = run('pdftotext', ['-enc', 'UTF-8', pdfPath, '-']).output
    const flat = text.replace(/\s+/g, ' ')
    expect(flat).toContain('Certificate of removal')
    expect(flat).toContain(ORGANISATION)
    expect(flat).toContain('CERT-2026-0007')
    expect(flat).toContain('22 November 2026')
    expect(flat).toContain('RTBF-2026-0042')
    expect(flat).toContain('37 training records')
    expect(flat).toContain('from model mdl-7f3a21')
    expect(flat).toContain('The result is model mdl-c90e44')
    expect(flat).toContain('GDPR Art. 17')
    expect(flat).toContain('no formal guarantee; the removal was measured, not proven')
    expect(flat).toContain('Backups: removed when next restored')
    expect(flat).toContain('Aarhus University Hospital')
    expect(flat).toContain('pdfsig certificate.pdf')
    expect(flat).toContain('pdfdetach -saveall certificate.pdf')
    expect(flat).toContain('0.52 (0.44–0.60)')
    // The hash is printed in groups of four: it is there once the spaces are gone.
    expect(text.replace(/\s+/g, '')).toContain(input.manifestSha256)
    expect(text.replace(/\s+/g, '')).toContain(input.manifestSignature.toString('base64'))
  })

  it.skipIf(!hasPoppler)('has deterministic metadata, PDF 1.7, and claims PDF/A-3b', () => {
    const info = run('pdfinfo', ['-isodates', pdfPath]).output
    expect(info).toMatch(/^Title:\s+Certificate of removal CERT-2026-0007$/m)
    expect(info).toMatch(new RegExp(`^Author:\\s+${ORGANISATION}$`, 'm'))
    expect(info).toMatch(/^Subject:\s+Removal of 37 records for request RTBF-2026-0042$/m)
    expect(info).toMatch(/^Creator:\s+Lethe$/m)
    expect(info).toMatch(/^CreationDate:\s+2026-11-22T09:30:00/m)
    expect(info).toMatch(/^ModDate:\s+2026-11-22T09:30:00/m)
    expect(info).toMatch(/^PDF version:\s+1\.7$/m)
    expect(info).toMatch(/^Tagged:\s+yes$/m)
    const pages = Number(/^Pages:\s+(\d+)$/m.exec(info)?.[1])
    expect(pages).toBeGreaterThanOrEqual(1)
    expect(pages).toBeLessThanOrEqual(2)

    const xmp = run('pdfinfo', ['-meta', pdfPath]).output
    expect(xmp).toContain('<pdfaid:part>3</pdfaid:part>')
    expect(xmp).toContain('<pdfaid:conformance>B</pdfaid:conformance>')
    expect(xmp).toContain('<xmp:ModifyDate>2026-11-22T09:30:00Z</xmp:ModifyDate>')
  })

  it.skipIf(!hasPoppler)('embeds its fonts and uses none of the standard 14', () => {
    const fonts = run('pdffonts', [pdfPath]).output.split('\n').slice(2).filter(Boolean)
    expect(fonts.length).toBeGreaterThan(0)
    for (const line of fonts) {
      expect(line).toMatch(/DejaVuSans/)
      expect(line).toMatch(/\byes\s+yes\s+yes\b/) // embedded, subset, with a Unicode map
    }
  })

  it.skipIf(!hasPoppler)('renders pages that are not blank, saved under artifacts/ to look at', () => {
    const pages = Number(/^Pages:\s+(\d+)$/m.exec(run('pdfinfo', [pdfPath]).output)?.[1])
    mkdirSync(ARTIFACTS, { recursive: true })
    for (const stale of readdirSync(ARTIFACTS).filter((name) => /^sample-page-\d+\.png$/.test(name))) {
      rmSync(join(ARTIFACTS, stale))
    }
    copyFileSync(pdfPath, join(ARTIFACTS, 'sample.pdf'))
    for (let n = 1; n <= pages; n++) {
      const png = join(dir, `page-${n}`)
      const args = ['-r', '60', '-f', String(n), '-l', String(n), '-singlefile', pdfPath]
      expect(run('pdftoppm', ['-png', ...args, png]).status).toBe(0)
      const bytes = readFileSync(`${png}.png`)
      expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG')
      copyFileSync(`${png}.png`, join(ARTIFACTS, `sample-page-${n}.png`))

      // A binary greymap (P5) is easy to read pixel by pixel: text and the header band are not white.
      const pgm = join(dir, `gray-${n}`)
      run('pdftoppm', ['-gray', ...args, pgm])
      const image = readFileSync(`${pgm}.pgm`)
      const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(image.subarray(0, 32).toString('latin1'))
      expect(header).not.toBeNull()
      const pixels = image.subarray(header?.[0].length)
      expect(pixels.length).toBe(Number(header?.[1]) * Number(header?.[2]))
      const dark = pixels.filter((value) => value < 160).length
      expect(dark / pixels.length).toBeGreaterThan(n === 1 ? 0.05 : 0.01)
    }
  })

  it('renders the same input to the same bytes but for the signature and its time', async () => {
    const again = await renderCertificatePdf(input)
    expect(inspectPdfSignature(again)).toMatchObject({
      present: true,
      coversWholeFile: true,
      digestMatches: true,
    })
    expect(again.length).toBe(pdf.length)
    const mask = (file: Buffer) =>
      file
        .toString('latin1')
        .replace(/\/Contents <[0-9a-fA-F]+>/, '/Contents <>')
        .replace(/\/M \(D:[^)]*\)/, '/M ()')
    // The signature and its time may or may not differ: both renders can fall in the same second.
    expect(mask(again)).toBe(mask(pdf))
  })

  it.skipIf(!hasPoppler)('escapes an organisation name with XML characters in the XMP metadata', async () => {
    const name = 'Čapek & <Partner> s.r.o.'
    const other = makeInput(name)
    const file = join(dir, 'capek.pdf')
    writeFileSync(file, await renderCertificatePdf(other))
    const xmp = run('pdfinfo', ['-meta', file]).output
    expect(xmp).toContain('<rdf:li>Čapek &#38; &#60;Partner&#62; s.r.o.</rdf:li>')
    expect(run('pdfinfo', [file]).output).toMatch(/^Author:\s+Čapek & <Partner> s\.r\.o\.$/m)
    expect(run('pdftotext', ['-enc', 'UTF-8', file, '-']).output).toContain(name)
  })
})

describe('renderCertificatePdf with less to show', () => {
  it.skipIf(!hasPoppler)(
    'says what a certified guarantee means, and what is missing when nothing was retrained',
    async () => {
      const base = makeInput(ORGANISATION)
      const scores = { ...base.manifest.verification.after, miaAuc: null, miaInterval: null }
      const manifest: CertificateManifest = {
        ...base.manifest,
        request: {
          ...base.manifest.request,
          jurisdiction: 'ccpa',
          legalBasis: 'ccpa-1798-105',
          ground: null,
        },
        records: { ...base.manifest.records, count: 1 },
        method: {
          name: 'certified-newton',
          guarantee: { kind: 'certified', epsilon: 1, delta: 1e-5, meaning: 'A Newton step with noise.' },
        },
        verification: { before: scores, after: scores, retrained: null, distanceToRetrained: null },
        scope: { datasets: [], models: [], notCovered: [], recipientsToNotify: [] },
      }
      const bytes = manifestBytes(manifest)
      const file = join(dir, 'certified.pdf')
      writeFileSync(
        file,
        await renderCertificatePdf({
          ...base,
          manifest,
          manifestBytes: bytes,
          manifestSha256: manifestSha256(manifest),
        }),
      )
      mkdirSync(ARTIFACTS, { recursive: true })
      copyFileSync(file, join(ARTIFACTS, 'sample-certified.pdf'))
      expect(run('pdfsig', ['-nocert', file]).output).toContain('Signature is Valid')
      const flat = run('pdftotext', ['-enc', 'UTF-8', file, '-']).output.replace(/\s+/g, ' ')
      expect(flat).toContain('removed the influence of 1 training record of the data subject')
      expect(flat).toContain('(CCPA § 1798.105)')
      // A manifest issued before guarantees were graded: ε = 1 reads as strong.
      expect(flat).toContain(
        'Certified, strong (ε = 1, δ = 0.00001). Strong: any outcome of using the model is at most e¹ ≈ 2.7 times more or less likely',
      )
      expect(flat).toContain('almost indistinguishable')
      expect(flat).toContain('A Newton step with noise.')
      expect(flat).toContain('No retrained reference was computed')
      expect(flat).toContain('n/a')
      expect(flat).toContain('Recipients to notify (CCPA Regulations § 7022(b))')
      expect(flat).toContain('None recorded.')
      expect(flat).not.toContain('Retrained reference')
    },
  )
})

describe('renderCertificatePdf for a weak guarantee', () => {
  it.skipIf(!hasPoppler)(
    'says a release at ε = 100 is weak, and never calls it indistinguishable',
    async () => {
      const base = makeInput(ORGANISATION)
      const manifest: CertificateManifest = {
        ...base.manifest,
        method: {
          name: 'hf',
          guarantee: {
            kind: 'certified',
            epsilon: 100,
            delta: 1e-5,
            strength: 'weak',
            meaning: 'Gaussian noise of σ = 0.0123 on every parameter hides any difference up to Δ = 0.456.',
          },
        },
      }
      const bytes = manifestBytes(manifest)
      const file = join(dir, 'weak.pdf')
      writeFileSync(
        file,
        await renderCertificatePdf({
          ...base,
          manifest,
          manifestBytes: bytes,
          manifestSha256: manifestSha256(manifest),
        }),
      )
      const flat = run('pdftotext', ['-enc', 'UTF-8', file, '-']).output.replace(/\s+/g, ' ')
      expect(flat).toContain('Certified, weak (ε = 100, δ = 0.00001)')
      expect(flat).toContain(
        'Weak: this is a formal bound, but too loose to promise anything a person would recognise',
      )
      expect(flat).toContain('e¹⁰⁰ ≈ 2.7 × 10⁴³ times more or less likely')
      expect(flat).not.toMatch(/indistinguishable/i)
    },
  )
})

describe('longDate', () => {
  it('writes dates and timestamps the way a letter does, in UTC', () => {
    expect(longDate('2026-11-22T09:30:00.000Z')).toBe('22 November 2026')
    expect(longDate('2026-11-02')).toBe('2 November 2026')
    expect(longDate('2026-12-31T23:59:59Z')).toBe('31 December 2026')
    expect(longDate('not a date')).toBe('not a date')
  })
})
