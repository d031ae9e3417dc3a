/**
 * A certificate names the deployed file: an export of a version is on record in the ledger (file
 * names and hashes, never a folder), the certificate of the version lists the files it was
 * exported as, and `lethe verify cert.pdf --model FILE` passes only for one of them. Deleting the
 * version keeps the record of its exports.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extractAttachments } from '../../electron/certificates/attachments'
import { manifestBytes, manifestSha256, type CertificateManifest } from '../../electron/certificates/manifest'
import { loadOrganisation, publicIdentity } from '../../electron/certificates/organisation'
import { NO_DEPLOYED_FILES, renderCertificatePdf } from '../../electron/certificates/pdf'
import { verifyCertificate, withModelCheck } from '../../electron/certificates/verify'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { folders } from '../../electron/engine/folders'
import { createServices, type LetheServices } from '../../electron/host/services'
import { verifyLedger } from '../../electron/ledger/verify'
import { keyFingerprint, sha256Hex } from '../../electron/lib/digest'
import { lethe } from '../support/cli'
import { caller, waitForJob } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

const hasPoppler = existsSync('/usr/bin/pdftotext') && existsSync('/usr/bin/pdfinfo')
const ORIGINAL = path.resolve('tests/fixtures/onnx/breast-cancer-mlp.onnx')
/** A folder named after a person, as a deployment path can be: the ledger must never hold it. */
const PERSONAL_FOLDER = 'jane-doe-laptop'

let services: LetheServices | undefined
let dataDir: string
let call: ReturnType<typeof caller>
let requestId: string
let resultId: string
let exported: Output<'models.export'>
let exportSeq: number
let certificate: Output<'certificates.issue'>

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

beforeAll(async () => {
  dataDir = tempDir('lethe-certificate-binding-')
  services = createServices({
    dataDir,
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: testKeys,
  })
  call = caller(services)
  const dataset = await call<Output<'datasets.import'>>('datasets.import', {
    path: path.resolve('resources/datasets/breast-cancer.csv'),
    subjectColumn: 'patient_id',
    labelColumn: 'diagnosis',
  })
  const imported = await call<Output<'models.import'>>('models.import', {
    datasetId: dataset.id,
    path: ORIGINAL,
  })
  const request = await call<Output<'requests.create'>>('requests.create', {
    requester: { name: 'Jane Doe', email: 'jane@example.com' },
    subjectIds: ['P-0007', 'P-0100', 'P-0200'].map((value) => ({ type: 'customer-id', value })),
    jurisdiction: 'gdpr',
    received: '2026-11-02',
  })
  requestId = request.id
  await call('requests.transition', { id: requestId, to: 'identity-verified', method: 'e-mail' })
  await call('requests.transition', { id: requestId, to: 'in-progress' })
  const run = await waitForJob(
    call,
    (
      await call<{ jobId: string }>('unlearn.start', {
        modelId: imported.id,
        method: 'finetune',
        requestId,
      })
    ).jobId,
  )
  expect(run.state, run.error?.message).toBe('succeeded')
  resultId = (run.result as { model: { id: string } }).model.id
  await call('requests.transition', { id: requestId, to: 'completed' })
  await call('organisation.create', { name: 'Ørsted Klinik' })
}, 180_000)
afterAll(async () => {
  await services?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('a certificate bound to the deployed file', () => {
  it('says, before any export, that no file can be bound to the model', async () => {
    const preview = await call<Output<'certificates.preview'>>('certificates.preview', { requestId })
    const pdf = Buffer.from(preview.pdfBase64, 'base64')
    expect(manifestOf(pdf)).toMatchObject({ version: 4, artifacts: [] })
    if (hasPoppler) {
      const file = path.join(dataDir, 'preview.pdf')
      writeFileSync(file, pdf)
      expect(textOf(file)).toContain(NO_DEPLOYED_FILES)
    }
  })

  it('records an export in the ledger with the file name and hash, never its folder', async () => {
    const folder = path.join(dataDir, PERSONAL_FOLDER)
    mkdirSync(folder)
    exported = await call<Output<'models.export'>>('models.export', {
      modelId: resultId,
      format: 'onnx',
      path: path.join(folder, 'model.onnx'),
    })
    expect(exported.sha256).toBe(sha256Hex(readFileSync(exported.path)))
    const ledger = await openLedger()
    exportSeq = ledger.state.seq
    const [event] = await ledger.storage.readEvents([exportSeq])
    expect(event).toMatchObject({
      type: 'model.exported',
      requestId: null,
      payload: {
        modelId: resultId,
        format: 'onnx',
        files: [{ fileName: 'model.onnx', sha256: exported.sha256, bytes: exported.bytes }],
      },
    })
    expect(JSON.stringify(event)).not.toContain(PERSONAL_FOLDER)
    expect(ledger.state.registry.get(resultId)?.exports).toEqual([
      {
        format: 'onnx',
        at: event?.at,
        files: [{ fileName: 'model.onnx', sha256: exported.sha256, bytes: exported.bytes }],
      },
    ])
    expect((await verifyLedger(ledger)).ok).toBe(true)
  })

  it('lists the exported file in the manifest and prints its SHA-256 in full', async () => {
    certificate = await call<Output<'certificates.issue'>>('certificates.issue', { requestId })
    const manifest = manifestOf(readFileSync(certificate.path))
    expect(manifest.model.after.id).toBe(resultId)
    expect(manifest.version).toBe(4)
    expect(manifest.artifacts).toEqual([
      {
        format: 'onnx',
        fileName: 'model.onnx',
        sha256: exported.sha256,
        bytes: exported.bytes,
        exportedAt: (await openLedger()).state.registry.get(resultId)?.exports?.[0]?.at,
      },
    ])
    if (hasPoppler) {
      const text = textOf(certificate.path)
      expect(text).toContain('Deployed files')
      expect(text).toContain(`model.onnx (ONNX), ${exported.bytes} bytes`)
      expect(text).toContain(exported.sha256)
      expect(text).not.toContain(NO_DEPLOYED_FILES)
      expect(pagesOf(certificate.path)).toBeLessThanOrEqual(2)
    }
  })

  it('verifies with --model the exported file, and says what differs for another', () => {
    const bound = lethe(['verify', certificate.path, '--model', exported.path], { dataDir })
    expect(bound.code, bound.stdout + bound.stderr).toBe(0)
    expect(bound.stdout).toContain('VERIFIED')
    expect(bound.stdout).toMatch(
      /ok +The model file is one the certificate lists: model\.onnx is model\.onnx/,
    )

    const asJson = lethe(['verify', certificate.path, '--model', exported.path, '--json'], { dataDir })
    expect(asJson.code, asJson.stderr).toBe(0)
    const checklist = JSON.parse(asJson.stdout) as Output<'certificates.verify'>
    expect(checklist.ok).toBe(true)
    expect(checklist.items.find((i) => i.id === 'model-file')).toMatchObject({ pass: true })

    const original = lethe(['verify', certificate.path, '--model', ORIGINAL], { dataDir })
    expect(original.code).toBe(3)
    expect(original.stdout).toContain('NOT VERIFIED')
    expect(original.stdout).toContain(
      `breast-cancer-mlp.onnx has SHA-256 ${sha256Hex(readFileSync(ORIGINAL))}; the certificate lists ${exported.sha256} (model.onnx, onnx) for ${resultId}`,
    )
    // The certificate's own checks still pass: only the file is not the one it lists.
    expect(original.stdout).not.toMatch(/FAIL +The PDF signature/)

    const missing = lethe(['verify', certificate.path, '--model', path.join(dataDir, 'nowhere.onnx')], {
      dataDir,
    })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Cannot read the model file')
  }, 180_000)

  it('verifies a TF.js model.json with the weight file beside it, and names a changed weight file', async () => {
    const folder = path.join(dataDir, PERSONAL_FOLDER, 'web')
    mkdirSync(folder)
    const tfjs = await call<Output<'models.export'>>('models.export', {
      modelId: resultId,
      format: 'tfjs',
      path: path.join(folder, 'model.json'),
    })
    expect(tfjs.files.length).toBeGreaterThan(1)
    const replacing = await call<Output<'certificates.issue'>>('certificates.issue', {
      requestId,
      supersede: true,
    })
    expect(manifestOf(readFileSync(replacing.path)).artifacts?.map((a) => [a.format, a.fileName])).toEqual([
      ['onnx', 'model.onnx'],
      ...tfjs.files.map((f) => ['tfjs', path.basename(f.name)]),
    ])

    const bound = lethe(['verify', replacing.path, '--model', tfjs.path], { dataDir })
    expect(bound.code, bound.stdout + bound.stderr).toBe(0)

    const shard = (tfjs.files[1] as { name: string }).name
    writeFileSync(shard, Buffer.concat([readFileSync(shard), Buffer.from([0])]))
    const changed = lethe(['verify', replacing.path, '--model', tfjs.path], { dataDir })
    expect(changed.code).toBe(3)
    expect(changed.stdout).toContain(`${path.basename(shard)} has SHA-256 ${sha256Hex(readFileSync(shard))}`)
    // model.json itself is still the one listed: only the weight file is named.
    expect(changed.stdout).not.toContain('model.json has SHA-256')
  }, 120_000)

  it('binds no file with a version-3 certificate, which still verifies by itself', async () => {
    const v4 = manifestOf(readFileSync(certificate.path))
    const v3: CertificateManifest = { ...v4, version: 3 }
    delete v3.artifacts
    const orgDir = path.join(dataDir, 'organisation')
    const organisation = await loadOrganisation(orgDir, await testKeys())
    const identity = await publicIdentity(orgDir)
    const bytes = manifestBytes(v3)
    const pdf = await renderCertificatePdf({
      manifest: v3,
      manifestBytes: bytes,
      manifestSignature: organisation.signManifest(bytes),
      manifestSha256: manifestSha256(v3),
      organisation: identity,
      signing: organisation.pdfSigning,
      fontsDir: path.resolve('resources/fonts'),
    })
    const ledger = await openLedger()
    const issuance = await ledger.issuanceOf(certificate.certificateId)
    const checklist = await verifyCertificate(pdf, {
      organisationKeyPem: identity.manifestPublicKeyPem,
      ledger: {
        keyFingerprint: keyFingerprint(ledger.storage.keyMaterial.publicKeyPem),
        registry: ledger.state.registry,
        chain: () => verifyLedger(ledger),
        // The ledger's entry for this manifest, as the ledger of an installation that issued it holds.
        issuance: async () => issuance && { ...issuance, payload: { manifestSha256: manifestSha256(v3) } },
        eventAt: async (seq) => (await ledger.storage.readEvents([seq]))[0] ?? null,
      },
    })
    expect(checklist.items.filter((i) => i.pass !== true)).toEqual([])
    const withModel = withModelCheck(checklist, pdf, exported.path)
    expect(withModel.ok).toBe(false)
    expect(withModel.items.at(-1)?.detail).toContain('manifest version 3')
  })

  it('keeps the record of exports when the version is deleted, and records no refused export', async () => {
    await call('models.delete', { modelId: resultId, reason: 'replaced by a newer model' })
    const exportsFile = path.join(folders(dataDir).models, resultId, 'exports.json')
    expect(JSON.parse(readFileSync(exportsFile, 'utf8'))).toMatchObject([
      { format: 'onnx', sha256: exported.sha256, bytes: exported.bytes },
      { format: 'tfjs' },
    ])
    const ledger = await openLedger()
    expect(ledger.state.registry.get(resultId)?.exports?.map((e) => e.format)).toEqual(['onnx', 'tfjs'])

    const seq = ledger.state.seq
    await expect(
      call('models.export', { modelId: resultId, format: 'onnx', path: path.join(dataDir, 'again.onnx') }),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    expect(ledger.state.seq).toBe(seq)
    expect(existsSync(path.join(dataDir, 'again.onnx'))).toBe(false)
  })
})
