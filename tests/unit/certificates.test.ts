import { generateKeyPairSync, sign } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extractAttachments } from '../../electron/certificates/attachments'
import { manifestBytes, manifestSha256, type CertificateManifest } from '../../electron/certificates/manifest'
import { loadOrganisation, publicIdentity } from '../../electron/certificates/organisation'
import { keyFingerprint } from '../../electron/lib/digest'
import { passphraseProtector } from '../../electron/lib/key-protector'
import { renderCertificatePdf } from '../../electron/certificates/pdf'
import { signDetached } from '../../electron/certificates/pdf-signature'
import { createSigningIdentity } from '../../electron/certificates/signing-identity'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { caller, completedErasure } from '../support/engine'
import { tempDir } from '../support/fixtures'

const protector = async () => passphraseProtector('correct horse battery')
const hasPoppler = existsSync('/usr/bin/pdfsig') && existsSync('/usr/bin/qpdf')
const hasAuditorTools = hasPoppler && existsSync('/usr/bin/pdfdetach') && existsSync('/usr/bin/openssl')

let services: LetheServices
let dataDir: string
let call: ReturnType<typeof caller>
let issued: Output<'certificates.issue'>
let requestId: string

beforeAll(async () => {
  dataDir = tempDir('lethe-certificates-')
  services = createServices({
    dataDir,
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: protector,
  })
  call = caller(services)
  const erasure = await completedErasure(services, false)
  requestId = erasure.request.id
})
afterAll(async () => {
  await services.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const verify = (file: string) => call<Output<'certificates.verify'>>('certificates.verify', { path: file })
const item = (checklist: Output<'certificates.verify'>, id: string) =>
  checklist.items.find((i) => i.id === id)?.pass

/**
 * The attack: edit the signed bytes in place, then sign the same byte range again with a
 * certificate made on the spot whose CN and O are the organisation's name.
 */
function resignWithLookalike(pdf: Buffer, organisation: string, edit: (pdf: Buffer) => void): Buffer {
  const copy = Buffer.from(pdf)
  edit(copy)
  const range = /\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(copy.toString('latin1'))
  const [a, b, c, d] = (range?.slice(1) ?? []).map(Number) as [number, number, number, number]
  const signed = Buffer.concat([copy.subarray(a, a + b), copy.subarray(c, c + d)])
  const signature = signDetached(signed, createSigningIdentity(organisation)).toString('hex')
  const slot = c - b - 2 // between the < and > of /Contents
  expect(signature.length).toBeLessThanOrEqual(slot)
  copy.write(signature.padEnd(slot, '0'), b + 1, 'latin1')
  return copy
}

/** README's auditor commands, run as one bash script (-e: the first failing step ends it) beside the file. */
function auditorProcedure(pdf: Buffer): { status: number | null; output: string } {
  const readme = readFileSync('README.md', 'utf8')
  const section = readme.slice(readme.indexOf('### How an auditor checks a certificate without Lethe'))
  const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? 'exit 99'
  const folder = tempDir('lethe-auditor-')
  try {
    writeFileSync(path.join(folder, 'certificate.pdf'), pdf)
    const result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: folder,
      encoding: 'utf8',
    })
    return { status: result.status, output: `${result.stdout}${result.stderr}` }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

describe('issuing a certificate', () => {
  it('is refused without the organisation’s keys, and while the erasure is not complete', async () => {
    await expect(call('certificates.issue', { requestId })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/keys/),
    })
    await call('organisation.create', { name: 'Ørsted Klinik' })
    await expect(call('certificates.issue', { requestId })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/in-progress; only a completed erasure can be certified/),
    })
    const { events } = await call<Output<'requests.get'>>('requests.get', { id: requestId })
    expect(events.at(-1)).toMatchObject({ type: 'request.refused', payload: { action: 'certify' } })
  })

  it('makes a PDF that pdfsig and qpdf accept, records it in the ledger, and verifies item by item', async () => {
    await call('requests.transition', { id: requestId, to: 'completed' })
    issued = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      recipients: ['Research partner'],
    })
    expect(issued.certificateId).toMatch(/^CERT-\d{4}-0001$/)
    const list = await call<Output<'certificates.list'>>('certificates.list', {})
    expect(list.map((c) => c.certificateId)).toEqual([issued.certificateId])
    const { request } = await call<Output<'requests.get'>>('requests.get', { id: requestId })
    expect(request.links.certificates).toEqual([issued.certificateId])

    const checklist = await verify(issued.path)
    expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
    expect(checklist).toMatchObject({ ok: true, certificateId: issued.certificateId, requestId })
    if (hasPoppler) {
      expect(spawnSync('pdfsig', ['-nocert', issued.path], { encoding: 'utf8' }).stdout).toContain(
        'Signature is Valid',
      )
      expect(spawnSync('qpdf', ['--check', issued.path]).status).toBe(0)
    }
  })

  it('a second certificate for the same request replaces the first only with supersede, and gets the next number', async () => {
    await expect(call('certificates.issue', { requestId })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(issued.certificateId),
    })
    const again = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      supersede: true,
    })
    expect(again).toMatchObject({
      certificateId: expect.stringMatching(/-0002$/),
      supersedes: issued.certificateId,
    })
  })
})

describe('the verifier', () => {
  it('fails the PDF signature when any byte of the file changes', async () => {
    const pdf = readFileSync(issued.path)
    const at = pdf.indexOf('Certificate of removal') // inside the signed range, in the document info
    pdf[at] = 'c'.charCodeAt(0)
    const file = path.join(dataDir, 'tampered.pdf')
    writeFileSync(file, pdf)
    const checklist = await verify(file)
    expect(checklist.ok).toBe(false)
    expect(item(checklist, 'pdf-signature')).toBe(false)
    if (hasPoppler)
      expect(spawnSync('pdfsig', ['-nocert', file], { encoding: 'utf8' }).stdout).not.toContain(
        'Signature is Valid',
      )
  })

  async function rerender(
    edit: (manifest: CertificateManifest) => { bytes: Buffer; signature: Buffer; keyPem?: string },
  ) {
    const files = extractAttachments(readFileSync(issued.path))
    const manifest = JSON.parse(files.get('manifest.json')?.toString() ?? '') as CertificateManifest
    const org = await loadOrganisation(path.join(dataDir, 'organisation'), await protector())
    const identity = await publicIdentity(path.join(dataDir, 'organisation'))
    const { bytes, signature, keyPem } = edit(manifest)
    const pdf = await renderCertificatePdf({
      manifest: JSON.parse(bytes.toString()) as CertificateManifest,
      manifestBytes: bytes,
      manifestSignature: signature,
      manifestSha256: manifestSha256(JSON.parse(bytes.toString()) as CertificateManifest),
      organisation: keyPem ? { ...identity, manifestPublicKeyPem: keyPem } : identity,
      signing: org.pdfSigning,
      fontsDir: path.resolve('resources/fonts'),
    })
    const file = path.join(dataDir, `rerendered-${Date.now()}.pdf`)
    writeFileSync(file, pdf)
    return verify(file)
  }

  it('fails the manifest signature when the manifest was changed, even in a freshly signed PDF', async () => {
    const checklist = await rerender((manifest) => {
      const original = manifestBytes(manifest)
      const changed = manifestBytes({
        ...manifest,
        records: { ...manifest.records, count: manifest.records.count - 1 },
      })
      const signature = extractAttachments(readFileSync(issued.path)).get('manifest.sig') as Buffer
      expect(changed.equals(original)).toBe(false)
      return { bytes: changed, signature }
    })
    expect(item(checklist, 'pdf-signature')).toBe(true)
    expect(item(checklist, 'manifest-signature')).toBe(false)
    expect(item(checklist, 'ledger-issuance')).toBe(false)
  })

  it('fails when the manifest is signed with another key than the organisation’s', async () => {
    const other = generateKeyPairSync('ed25519')
    const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const checklist = await rerender((manifest) => {
      const bytes = manifestBytes({
        ...manifest,
        issuer: { ...manifest.issuer, manifestKeyFingerprint: keyFingerprint(otherPem) },
      })
      return { bytes, signature: sign(null, bytes, other.privateKey), keyPem: otherPem }
    })
    expect(item(checklist, 'manifest-signature')).toBe(true) // consistent with the key it carries…
    expect(item(checklist, 'organisation-key')).toBe(false) // …but that key is not the organisation's
    expect(checklist.ok).toBe(false)
  })

  it('fails the ledger check when the ledger was altered after issuance', async () => {
    const events = path.join(dataDir, 'ledger', 'events')
    const file = path.join(events, readdirSync(events).sort().at(-1) as string)
    const original = readFileSync(file, 'utf8')
    writeFileSync(
      file,
      original.replace(
        '"type":"certificate.issued","requestId":"',
        '"type":"certificate.issued","requestId":"X',
      ),
    )
    try {
      const checklist = await verify(issued.path)
      expect(item(checklist, 'pdf-signature')).toBe(true)
      expect(item(checklist, 'ledger-chain')).toBe(false)
    } finally {
      writeFileSync(file, original)
    }
  })

  it('checks what it can without a ledger: an outside auditor’s view', async () => {
    const outside = createServices({
      dataDir: tempDir('lethe-auditor-'),
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      ledger: { readOnly: true },
      keyProtector: protector,
    })
    try {
      const checklist = await caller(outside)<Output<'certificates.verify'>>('certificates.verify', {
        path: issued.path,
      })
      expect(checklist.ok).toBe(true)
      expect(checklist.items.filter((i) => i.pass === null).map((i) => i.id)).toEqual([
        'organisation-key',
        'ledger-key',
        'models',
        'ledger-chain',
        'ledger-issuance',
      ])
    } finally {
      await outside.close()
      rmSync(outside.dataDir, { recursive: true, force: true })
    }
  })

  it('fails, never skips, the ledger checks when the ledger here is damaged', async () => {
    const events = path.join(dataDir, 'ledger', 'events')
    const first = path.join(events, readdirSync(events).sort()[0] as string)
    const original = readFileSync(first)
    writeFileSync(first, original.subarray(0, original.length >> 1)) // truncated
    // A fresh process (the CLI, say) opens the damaged ledger read-only.
    const reader = createServices({
      dataDir,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      ledger: { readOnly: true },
      keyProtector: protector,
    })
    try {
      const checklist = await caller(reader)<Output<'certificates.verify'>>('certificates.verify', {
        path: issued.path,
      })
      expect(checklist.ok).toBe(false)
      expect(item(checklist, 'organisation-key')).toBe(true) // organisation/ is intact and still checked
      for (const id of ['ledger-key', 'models', 'ledger-chain', 'ledger-issuance']) {
        expect(item(checklist, id), id).toBe(false)
        expect(checklist.items.find((i) => i.id === id)?.detail).toMatch(/ledger cannot be read/)
      }
    } finally {
      await reader.close()
      writeFileSync(first, original)
    }
  })

  it('fails a copy re-signed with a look-alike certificate of the organisation’s name, as README’s procedure does', async () => {
    const genuine = readFileSync(issued.path)
    const forged = resignWithLookalike(genuine, 'Ørsted Klinik', (pdf) => {
      // Visible text edited in place, no offset moved: the document info's title.
      const at = pdf.indexOf('Certificate of removal')
      pdf.write('Certificate of nothing!', at, 'latin1')
    })
    const file = path.join(dataDir, 'forged.pdf')
    writeFileSync(file, forged)
    const checklist = await verify(file)
    expect(item(checklist, 'pdf-signature')).toBe(true) // a valid signature…
    expect(item(checklist, 'manifest-signature')).toBe(true) // …over the genuine, signed manifest…
    expect(item(checklist, 'signer')).toBe(false) // …by a key that is not the organisation's
    expect(checklist.items.find((i) => i.id === 'signer')?.detail).toMatch(/was signed with [0-9A-F:]{95}/)
    expect(checklist.ok).toBe(false)
    if (!hasAuditorTools) return
    // pdfsig alone is fooled; the procedure in README is not.
    expect(spawnSync('pdfsig', ['-nocert', file], { encoding: 'utf8' }).stdout).toContain(
      'Signature is Valid',
    )
    const ok = auditorProcedure(genuine)
    expect(ok.status, ok.output).toBe(0)
    expect(ok.output).toContain('CMS Verification successful')
    const caught = auditorProcedure(forged)
    expect(caught.status).not.toBe(0)
    expect(caught.output).toMatch(/Verification failure/)
  })

  it('pins the ledger: its key in the organisation, its head in every certificate; a rollback is caught', async () => {
    const verified = await call<Output<'ledger.verify'>>('ledger.verify', {})
    expect(verified.ok).toBe(true)
    expect(verified.pins.map((p) => [p.source, p.pass])).toEqual([
      ['The organisation’s identity', true],
      ['Certificate CERT-2026-0001', true], // its head…
      ['Certificate CERT-2026-0001', true], // …and its key
      ['Certificate CERT-2026-0002', true],
      ['Certificate CERT-2026-0002', true],
    ])
    const shown = await call<Output<'organisation.get'>>('organisation.get', {})
    expect(shown?.ledgerKeyFingerprint).toBe(verified.keyFingerprint)

    // An installation whose ledger folder was put back to the backup taken before any issuance.
    const copy = tempDir('lethe-rolled-back-')
    for (const part of ['organisation', 'certificates'])
      cpSync(path.join(dataDir, part), path.join(copy, part), { recursive: true })
    const backups = path.join(dataDir, 'ledger-backups')
    cpSync(path.join(backups, readdirSync(backups).sort()[0] as string), path.join(copy, 'ledger'), {
      recursive: true,
    })
    const rolledBack = createServices({
      dataDir: copy,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      ledger: { readOnly: true },
      keyProtector: protector,
    })
    try {
      const report = await caller(rolledBack)<Output<'ledger.verify'>>('ledger.verify', {})
      expect(report.ok).toBe(false)
      expect(report.firstBad?.reason).toMatch(/^Certificate CERT-2026-0001 pins entry \d+ .*rolled back/)
      const checklist = await caller(rolledBack)<Output<'certificates.verify'>>('certificates.verify', {
        path: issued.path,
      })
      expect(item(checklist, 'ledger-issuance')).toBe(false)
    } finally {
      await rolledBack.close()
      rmSync(copy, { recursive: true, force: true })
    }
  })

  it('refuses a file that is not a PDF with a clear error', async () => {
    const file = path.join(dataDir, 'not.pdf')
    writeFileSync(file, 'hello')
    await expect(verify(file)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/is not a PDF/),
    })
  })
})

describe('certificates in the app', () => {
  it('can be downloaded again and verified from their bytes, as a dropped file is', async () => {
    const got = await call<Output<'certificates.get'>>('certificates.get', {
      certificateId: issued.certificateId,
    })
    expect(Buffer.from(got.pdfBase64, 'base64').equals(readFileSync(issued.path))).toBe(true)
    const checklist = await call<Output<'certificates.verify'>>('certificates.verify', {
      pdfBase64: got.pdfBase64,
    })
    expect(checklist.ok).toBe(true)
    await expect(call('certificates.get', { certificateId: 'CERT-2026-0999' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })
})

describe('the organisation’s own PKCS#12', () => {
  it('replaces the PDF-signing certificate; later certificates are signed with it and still verify', async () => {
    const dir = tempDir('lethe-p12-')
    const key = path.join(dir, 'key.pem')
    const cert = path.join(dir, 'cert.pem')
    const p12 = path.join(dir, 'org.p12')
    const run = (args: string[]) => expect(spawnSync('openssl', args, { encoding: 'utf8' }).status).toBe(0)
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      '/CN=Orsted Klinik A-S/O=Orsted',
    ])
    run(['pkcs12', '-export', '-inkey', key, '-in', cert, '-out', p12, '-passout', 'pass:p12 secret'])
    await expect(call('organisation.importPkcs12', { path: p12, passphrase: 'wrong' })).rejects.toMatchObject(
      { code: 'BAD_INPUT' },
    )
    const org = await call<Output<'organisation.importPkcs12'>>('organisation.importPkcs12', {
      path: p12,
      passphrase: 'p12 secret',
    })
    const fingerprint = spawnSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], {
      encoding: 'utf8',
    }).stdout
    expect(fingerprint.toUpperCase()).toContain(org.certificateFingerprint)
    const next = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      supersede: true,
    })
    const checklist = await verify(next.path)
    expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
    if (hasPoppler) {
      expect(spawnSync('pdfsig', ['-nocert', next.path], { encoding: 'utf8' }).stdout).toContain(
        'Common Name: Orsted Klinik A-S',
      )
    }
  })
})

describe('a PKCS#12 given as its bytes, as an upload is', () => {
  it('replaces the PDF-signing certificate; the path and the bytes are exclusive', async () => {
    const dir = tempDir('lethe-p12-upload-')
    const key = path.join(dir, 'key.pem')
    const cert = path.join(dir, 'cert.pem')
    const p12 = path.join(dir, 'upload.p12')
    const run = (args: string[]) => expect(spawnSync('openssl', args, { encoding: 'utf8' }).status).toBe(0)
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      '/CN=Uploaded Klinik',
    ])
    run(['pkcs12', '-export', '-inkey', key, '-in', cert, '-out', p12, '-passout', 'pass:uploaded'])
    const p12Base64 = readFileSync(p12).toString('base64')

    await expect(
      call('organisation.importPkcs12', { path: p12, p12Base64, passphrase: 'uploaded' }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/either path or p12Base64/) })
    await expect(call('organisation.importPkcs12', { passphrase: 'uploaded' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
    await expect(
      call('organisation.importPkcs12', {
        p12Base64: Buffer.from('not a p12').toString('base64'),
        passphrase: 'x',
      }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/not a PKCS#12/) })
    await expect(call('organisation.importPkcs12', { p12Base64, passphrase: 'wrong' })).rejects.toMatchObject(
      { code: 'BAD_INPUT', message: expect.stringMatching(/wrong passphrase/) },
    )

    const org = await call<Output<'organisation.importPkcs12'>>('organisation.importPkcs12', {
      p12Base64,
      passphrase: 'uploaded',
    })
    const fingerprint = spawnSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], {
      encoding: 'utf8',
    }).stdout
    expect(fingerprint.toUpperCase()).toContain(org.certificateFingerprint)
    const stored = (await call<Output<'organisation.get'>>('organisation.get', {}))?.certificatePem
    expect(stored?.replace(/\r\n/g, '\n')).toBe(readFileSync(cert, 'utf8'))
  })
})

describe('the organisation’s logo', () => {
  const icon = readFileSync(path.resolve('resources/icon.png'))
  const logo = () => call<Output<'organisation.logo'>>('organisation.logo', {})
  const setLogo = (imageBase64: string | null, mediaType?: string) =>
    call<Output<'organisation.setLogo'>>('organisation.setLogo', { imageBase64, mediaType })
  const imageCount = (pdf: Buffer) => pdf.toString('latin1').match(/\/Subtype \/Image\b/g)?.length ?? 0

  it('is drawn in the header of the next certificate, which still verifies', async () => {
    expect(await logo()).toBeNull()
    const before = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      supersede: true,
    })
    expect(imageCount(readFileSync(before.path))).toBe(0)

    await setLogo(icon.toString('base64'), 'image/png')
    expect(await logo()).toEqual({ imageBase64: icon.toString('base64'), mediaType: 'image/png' })
    expect(readFileSync(path.join(dataDir, 'organisation', 'logo.png')).equals(icon)).toBe(true)

    const next = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      supersede: true,
    })
    const pdf = readFileSync(next.path)
    // The RGBA icon: an image XObject for its colours and one for its alpha channel (the SMask).
    expect(imageCount(pdf)).toBe(2)
    expect(pdf.toString('latin1')).toContain('/SMask')
    const checklist = await verify(next.path)
    expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
    if (hasPoppler) {
      expect(spawnSync('pdfsig', ['-nocert', next.path], { encoding: 'utf8' }).stdout).toContain(
        'Signature is Valid',
      )
      expect(spawnSync('qpdf', ['--check', next.path]).status).toBe(0)
      const images = spawnSync('pdfimages', ['-list', next.path], { encoding: 'utf8' }).stdout
      expect(images).toMatch(/^\s+1\s+0\s+image\s+512\s+512\s+rgb/m)
    }
  })

  it('refuses what is not a PNG or JPEG, is damaged or too large, and keeps the logo it had', async () => {
    const kept = { imageBase64: icon.toString('base64'), mediaType: 'image/png' }
    const refused = async (bytes: Buffer, mediaType: string, message: RegExp) => {
      await expect(setLogo(bytes.toString('base64'), mediaType)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(message),
      })
      expect(await logo()).toEqual(kept)
    }
    await refused(Buffer.from('%PDF-1.7 not an image'), 'image/png', /not an image: give a PNG or JPEG/)
    await refused(icon, 'image/jpeg', /content is a PNG image, not image\/jpeg/)
    const big = Buffer.concat([icon, Buffer.alloc(200_000)])
    await refused(big, 'image/png', /is 225 KB; it may be at most 200 KB/)
    // Cut off inside its image data: the header is fine, the pixels are not.
    await refused(icon.subarray(0, 12_000), 'image/png', /PNG image is damaged/)
    const flipped = Buffer.from(icon)
    const at = flipped.indexOf('IDAT') + 40
    flipped[at] = (flipped[at] ?? 0) ^ 0xff
    await refused(flipped, 'image/png', /PNG image is damaged/)
    await refused(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), 'image/jpeg', /JPEG image is damaged/)
    await expect(
      call('organisation.setLogo', { imageBase64: icon.toString('base64') }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/mediaType/) })
  })

  it('takes a JPEG in place of the PNG, and is removed with null', async () => {
    const dir = tempDir('lethe-logo-')
    const jpeg = path.join(dir, 'logo.jpg')
    // A JPEG is easiest made from a certificate's first page.
    if (hasPoppler) {
      const certificate = (await call<Output<'certificates.list'>>('certificates.list', {}))[0]
      spawnSync('pdftoppm', [
        '-jpeg',
        '-r',
        '20',
        '-singlefile',
        certificate?.path ?? '',
        path.join(dir, 'logo'),
      ])
      const bytes = readFileSync(jpeg)
      await setLogo(bytes.toString('base64'), 'image/jpeg')
      expect(await logo()).toMatchObject({ mediaType: 'image/jpeg' })
      expect(existsSync(path.join(dataDir, 'organisation', 'logo.png'))).toBe(false)
      const next = await call<Output<'certificates.issue'>>('certificates.issue', {
        requestId,
        supersede: true,
      })
      const pdf = readFileSync(next.path)
      expect(pdf.toString('latin1')).toContain('/DCTDecode')
      expect((await verify(next.path)).ok).toBe(true)
    }
    expect(await setLogo(null)).toBeNull()
    expect(await logo()).toBeNull()
    expect(readdirSync(path.join(dataDir, 'organisation')).filter((f) => f.startsWith('logo'))).toEqual([])
  })
})
