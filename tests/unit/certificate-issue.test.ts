/**
 * Issuing is a decision (#17 item 5): the versions covered are chosen, the certificate is previewed
 * unsigned before it is signed, recipients are carried, and a second certificate for a request
 * replaces the first only when asked to, naming it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extractAttachments } from '../../electron/certificates/attachments'
import { manifestBytes, manifestSha256, type CertificateManifest } from '../../electron/certificates/manifest'
import { loadOrganisation, publicIdentity } from '../../electron/certificates/organisation'
import { PREVIEW_MARK, renderCertificatePdf } from '../../electron/certificates/pdf'
import { verifyCertificate } from '../../electron/certificates/verify'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { verifyLedger } from '../../electron/ledger/verify'
import { keyFingerprint } from '../../electron/lib/digest'
import { lethe } from '../support/cli'
import { caller, completedErasure, waitForJob } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

const hasPoppler = existsSync('/usr/bin/pdfsig') && existsSync('/usr/bin/pdftotext')

let services: LetheServices | undefined
let dataDir: string
let call: ReturnType<typeof caller>
let requestId: string
/** The request's two unlearned versions: by exact retraining, then (its linked result) by fine-tuning. */
let retrained: string
let finetuned: string
/** The version both were unlearned from, still trained on the request's rows. */
let original: string

beforeAll(async () => {
  dataDir = tempDir('lethe-certificate-issue-')
  services = createServices({
    dataDir,
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: testKeys,
  })
  call = caller(services)
  const erasure = await completedErasure(services, false)
  requestId = erasure.request.id
  retrained = erasure.run.model.id
  original = erasure.model.id
  const again = await waitForJob(
    call,
    (
      await call<{ jobId: string }>('unlearn.start', {
        modelId: erasure.model.id,
        method: 'finetune',
        requestId,
      })
    ).jobId,
  )
  finetuned = (again.result as { model: { id: string } }).model.id
  await call('requests.transition', { id: requestId, to: 'completed' })
  await call('organisation.create', { name: 'Ørsted Klinik' })
}, 180_000)
afterAll(async () => {
  await services?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const openLedger = () => {
  if (!services) throw new Error('the services were closed')
  return services.ledger.ledger()
}
const manifestOf = (pdf: Buffer) =>
  JSON.parse(extractAttachments(pdf).get('manifest.json')?.toString() ?? '{}') as CertificateManifest
const textOf = (file: string) =>
  spawnSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ')
const pagesOf = (file: string) =>
  Number(/^Pages:\s+(\d+)$/m.exec(spawnSync('pdfinfo', [file], { encoding: 'utf8' }).stdout)?.[1])
/** Everything stored that an issuance changes: the ledger's head, the request's links, the PDFs. */
async function stored() {
  const ledger = await openLedger()
  const certificates = path.join(dataDir, 'certificates')
  return {
    seq: ledger.state.seq,
    links: structuredClone(ledger.state.requests.get(requestId)?.links),
    files: existsSync(certificates) ? readdirSync(certificates).sort() : [],
  }
}
const save = (name: string, bytes: Buffer) => {
  const file = path.join(dataDir, name)
  writeFileSync(file, bytes)
  return file
}

let first: Output<'certificates.issue'>

describe('issuing a certificate, as a decision', () => {
  it('previews the certificate unsigned and marked, with the chosen model and recipients, recording nothing', async () => {
    const before = await stored()
    const preview = await call<Output<'certificates.preview'>>('certificates.preview', {
      requestId,
      modelIds: [retrained],
      recipients: ['Payroll processor Ltd'],
    })
    expect(preview).toMatchObject({ requestId, modelIds: [retrained], supersedes: null })
    expect(preview.certificateId).toMatch(/^CERT-\d{4}-0001$/)
    const pdf = Buffer.from(preview.pdfBase64, 'base64')
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-')
    expect(pdf.includes('/ByteRange')).toBe(false)
    const attached = extractAttachments(pdf)
    expect(attached.has('manifest.sig')).toBe(false)
    const manifest = manifestOf(pdf)
    expect(manifest.model.after.id).toBe(retrained)
    expect(manifest.scope.recipientsToNotify).toEqual(['Payroll processor Ltd'])
    expect(await stored()).toEqual(before)

    const file = save('preview.pdf', pdf)
    const checklist = await call<Output<'certificates.verify'>>('certificates.verify', { path: file })
    expect(checklist.ok).toBe(false)
    expect(checklist.items.find((i) => i.id === 'pdf-signature')?.pass).toBe(false)
    if (hasPoppler) {
      expect(spawnSync('pdfsig', [file], { encoding: 'utf8' }).stdout).toContain(
        'does not contain any signatures',
      )
      const text = textOf(file)
      expect(text).toContain(PREVIEW_MARK)
      expect(text).toContain('Payroll processor Ltd')
      expect(pagesOf(file)).toBeLessThanOrEqual(2)
    }
  })

  it('covers the versions chosen, not only the newest, and carries the recipients in manifest and PDF', async () => {
    first = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      modelIds: [retrained],
      recipients: ['Payroll processor Ltd', 'Research partner GmbH'],
    })
    expect(first).toMatchObject({ modelId: retrained, modelIds: [retrained], supersedes: null })
    const manifest = manifestOf(readFileSync(first.path))
    expect(manifest).toMatchObject({ version: 4, supersedes: null })
    expect(manifest.model.after.id).toBe(retrained)
    expect(manifest.models?.map((m) => m.after.id)).toEqual([retrained])
    expect(manifest.scope.models).not.toContain(finetuned)
    expect(manifest.scope.recipientsToNotify).toEqual(['Payroll processor Ltd', 'Research partner GmbH'])
    const checklist = await call<Output<'certificates.verify'>>('certificates.verify', { path: first.path })
    expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
    if (hasPoppler) {
      const text = textOf(first.path)
      expect(text).toContain('Research partner GmbH')
      expect(text).not.toContain(PREVIEW_MARK)
      expect(spawnSync('pdfsig', ['-nocert', first.path], { encoding: 'utf8' }).stdout).toContain(
        'Signature is Valid',
      )
    }
  })

  it('refuses a second certificate for the request without supersede, naming the first, and changes nothing', async () => {
    const before = await stored()
    await expect(call('certificates.issue', { requestId })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(first.certificateId),
      details: { certificateId: first.certificateId },
    })
    await expect(call('certificates.preview', { requestId })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(first.certificateId),
    })
    expect(await stored()).toEqual(before)
  })

  it('refuses models the request does not link, and e-mail addresses as recipients', async () => {
    await expect(
      call('certificates.preview', { requestId, modelIds: ['m-000000000000'], supersede: true }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('not linked') })
    await expect(
      call('certificates.preview', { requestId, recipients: ['jane@example.com'], supersede: true }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('e-mail') })
  })

  it('with supersede, issues the next one naming the first; both are listed, one superseded by the other', async () => {
    const second = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      supersede: true,
      recipients: ['Payroll processor Ltd'],
    })
    // By default, the request's linked result: the newest version.
    expect(second).toMatchObject({ modelIds: [finetuned], supersedes: first.certificateId })
    const manifest = manifestOf(readFileSync(second.path))
    expect(manifest).toMatchObject({ version: 4, supersedes: first.certificateId })
    expect(manifest.model.after.id).toBe(finetuned)

    const list = await call<Output<'certificates.list'>>('certificates.list', {})
    expect(list.map((c) => [c.certificateId, c.supersedes, c.supersededBy])).toEqual([
      [second.certificateId, first.certificateId, null],
      [first.certificateId, null, second.certificateId],
    ])
    const { request } = await call<Output<'requests.get'>>('requests.get', { id: requestId })
    expect(request.links.certificates).toEqual([first.certificateId, second.certificateId])
    for (const c of [first, second]) {
      const checklist = await call<Output<'certificates.verify'>>('certificates.verify', { path: c.path })
      expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
    }
    if (hasPoppler) {
      expect(textOf(second.path)).toContain(`supersedes ${first.certificateId}`)
      expect(pagesOf(second.path)).toBeLessThanOrEqual(2)
    }
  })

  it('covers several versions at once, all listed and all checked against the registry', async () => {
    const preview = await call<Output<'certificates.preview'>>('certificates.preview', {
      requestId,
      modelIds: [finetuned, retrained],
      supersede: true,
    })
    const manifest = manifestOf(Buffer.from(preview.pdfBase64, 'base64'))
    expect(manifest.models?.map((m) => m.after.id)).toEqual([finetuned, retrained])
    expect(manifest.scope.models).toEqual(expect.arrayContaining([finetuned, retrained]))
    if (hasPoppler) {
      const file = save('preview-two.pdf', Buffer.from(preview.pdfBase64, 'base64'))
      expect(textOf(file)).toContain('Versions covered')
      expect(pagesOf(file)).toBeLessThanOrEqual(2)
    }
  })

  it('still verifies a version-2 manifest, as certificates issued before version 3 carry', async () => {
    const v3 = manifestOf(readFileSync(first.path))
    const v2: CertificateManifest = { ...v3, version: 2 }
    delete v2.models
    delete v2.supersedes
    delete v2.versions
    delete v2.artifacts
    const orgDir = path.join(dataDir, 'organisation')
    const organisation = await loadOrganisation(orgDir, await testKeys())
    const identity = await publicIdentity(orgDir)
    const bytes = manifestBytes(v2)
    const pdf = await renderCertificatePdf({
      manifest: v2,
      manifestBytes: bytes,
      manifestSignature: organisation.signManifest(bytes),
      manifestSha256: manifestSha256(v2),
      organisation: identity,
      signing: organisation.pdfSigning,
      fontsDir: path.resolve('resources/fonts'),
    })
    const ledger = await openLedger()
    const issuance = await ledger.issuanceOf(first.certificateId)
    const checklist = await verifyCertificate(pdf, {
      organisationKeyPem: identity.manifestPublicKeyPem,
      ledger: {
        keyFingerprint: keyFingerprint(ledger.storage.keyMaterial.publicKeyPem),
        registry: ledger.state.registry,
        chain: () => verifyLedger(ledger),
        // The ledger's entry for this manifest, as the ledger of an installation that issued it holds.
        issuance: async () => issuance && { ...issuance, payload: { manifestSha256: manifestSha256(v2) } },
        eventAt: async (seq) => (await ledger.storage.readEvents([seq]))[0] ?? null,
      },
    })
    expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
  })
})

describe('the other versions trained on the request’s rows', () => {
  const versionsIn = async () => {
    const preview = await call<Output<'certificates.preview'>>('certificates.preview', {
      requestId,
      supersede: true,
    })
    const file = save(`versions-${Date.now()}.pdf`, Buffer.from(preview.pdfBase64, 'base64'))
    return { versions: manifestOf(readFileSync(file)).versions, text: hasPoppler ? textOf(file) : null }
  }
  const hash = async (id: string) => (await openLedger()).state.registry.get(id)?.contentHash

  it('are listed as kept, with the reason recorded or none, and as deleted once deleted', async () => {
    const still = await versionsIn()
    expect(still.versions).toEqual({
      deleted: [],
      kept: [{ id: original, sha256: await hash(original), reason: 'no reason recorded; not deleted' }],
    })
    await call('models.retain', { modelId: original, requestId, reason: 'held for the audit until 2027' })
    const kept = await versionsIn()
    expect(kept.versions?.kept).toEqual([
      { id: original, sha256: await hash(original), reason: 'held for the audit until 2027' },
    ])
    if (kept.text !== null) expect(kept.text).toContain(`${original} kept (held for the audit until 2027)`)

    await call('models.delete', { modelId: original, reason: 'the erasure', requestId })
    const deleted = await versionsIn()
    expect(deleted.versions).toEqual({ deleted: [{ id: original, sha256: await hash(original) }], kept: [] })
    if (deleted.text !== null) expect(deleted.text).toContain(`${original} deleted`)
  })
})

describe('lethe certificate preview and issue', () => {
  it('chooses the model and recipients, and writes --out with --json too', async () => {
    await services?.close()
    services = undefined
    const previewFile = path.join(dataDir, 'cli-preview.pdf')
    const previewed = lethe(
      [
        'certificate',
        'preview',
        requestId,
        '--model',
        retrained,
        '--recipient',
        'Payroll processor Ltd',
        '--supersede',
        '--out',
        previewFile,
        '--json',
      ],
      { dataDir },
    )
    expect(previewed.code, previewed.stderr).toBe(0)
    const preview = JSON.parse(previewed.stdout) as Record<string, unknown>
    expect(preview).toMatchObject({ requestId, modelIds: [retrained], out: previewFile })
    expect(preview).not.toHaveProperty('pdfBase64')
    expect(manifestOf(readFileSync(previewFile)).scope.recipientsToNotify).toEqual(['Payroll processor Ltd'])

    const refused = lethe(['certificate', 'issue', requestId, '--json'], { dataDir })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('CONFLICT')

    const out = path.join(dataDir, 'cli-certificate.pdf')
    const issued = lethe(
      [
        'certificate',
        'issue',
        requestId,
        '--model',
        retrained,
        '--model',
        finetuned,
        '--recipient',
        'Payroll processor Ltd',
        '--recipient',
        'Research partner GmbH',
        '--supersede',
        '--out',
        out,
        '--json',
      ],
      { dataDir },
    )
    expect(issued.code, issued.stderr).toBe(0)
    const result = JSON.parse(issued.stdout) as Output<'certificates.issue'> & { out: string }
    expect(result).toMatchObject({ requestId, out, modelIds: [retrained, finetuned] })
    expect(result.supersedes).toMatch(/^CERT-/)
    expect(readFileSync(out).equals(readFileSync(result.path))).toBe(true)
    const manifest = manifestOf(readFileSync(out))
    expect(manifest.models?.map((m) => m.after.id)).toEqual([retrained, finetuned])
    expect(manifest.scope.recipientsToNotify).toEqual(['Payroll processor Ltd', 'Research partner GmbH'])
    expect(manifest.supersedes).toBe(result.supersedes)
  }, 120_000)
})
