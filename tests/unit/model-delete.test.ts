import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { caller, completedErasure, finishedJob, waitForJob } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

let services: LetheServices
let call: ReturnType<typeof caller>
let dataDir: string
let erasure: Awaited<ReturnType<typeof completedErasure>>
/** A second trained version of the same dataset, which also learned from the request's rows. */
let sibling: string

const modelDir = (id: string) => path.join(dataDir, 'models', id)
const datasetDir = (id: string) => path.join(dataDir, 'datasets', id)
/** Every event file of the chain, as stored: what an append-only log keeps forever. */
const chainFiles = () => {
  const folder = path.join(dataDir, 'ledger', 'events')
  return readdirSync(folder, { recursive: true })
    .map((name) => path.join(folder, String(name)))
    .filter((file) => statSync(file).isFile())
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n')
}
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail')
    },
    (error: { code: string; message: string }) => error,
  )
const registry = () => call<Output<'registry.list'>>('registry.list', {})
const holding = () =>
  call<Output<'models.holdingRows'>>('models.holdingRows', { requestId: erasure.request.id })
/** Everything stored about the engine's data, to show a refused call changed none of it. */
const snapshot = async () => ({
  files: ['models', 'datasets'].flatMap((kind) =>
    readdirSync(path.join(dataDir, kind), { recursive: true }).map(String).sort(),
  ),
  manifest: readFileSync(path.join(modelDir(erasure.model.id), 'manifest.json'), 'utf8'),
  registry: await registry(),
})

beforeAll(async () => {
  dataDir = tempDir('lethe-model-delete-')
  services = createServices({
    dataDir,
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: testKeys,
  })
  call = caller(services)
  erasure = await completedErasure(services, false)
  const trained = await finishedJob(call, 'models.train', {
    datasetId: erasure.dataset.id,
    arch: { kind: 'logreg' },
    training: { epochs: 5, seed: 7 },
  })
  sibling = (trained.result as { id: string }).id
}, 120_000)
afterAll(async () => {
  await services.close()
})

describe('deleting what still holds the data', () => {
  it('lists the versions still trained on the request’s rows, not the unlearned one', async () => {
    const versions = await holding()
    expect(versions.map((v) => v.id).sort()).toEqual([erasure.model.id, sibling].sort())
    expect(versions.every((v) => v.remaining > 0 && v.deleted === null && v.keptReason === null)).toBe(true)
    expect(versions.map((v) => v.id)).not.toContain(erasure.run.model.id)
  })

  it('refuses bad input with clear errors and changes nothing stored', async () => {
    const before = await snapshot()
    const unknown = await failure(call('models.delete', { modelId: 'm-000000000000', reason: 'gone' }))
    expect(unknown.code).toBe('NOT_FOUND')
    expect(unknown.message).toContain('m-000000000000')
    const empty = await failure(call('models.delete', { modelId: erasure.model.id, reason: '   ' }))
    expect(empty.code).toBe('BAD_INPUT')
    expect(empty.message).toMatch(/reason/)
    const noRequest = await failure(
      call('models.delete', { modelId: erasure.model.id, reason: 'erased', requestId: 'RTBF-2026-9999' }),
    )
    expect(noRequest.code).toBe('NOT_FOUND')
    const noKeepReason = await failure(
      call('models.retain', { modelId: sibling, requestId: erasure.request.id, reason: '' }),
    )
    expect(noKeepReason.code).toBe('BAD_INPUT')
    expect(await snapshot()).toEqual(before)
  })

  it('refuses to delete a version a running job reads', async () => {
    const { jobId } = await call<{ jobId: string }>('unlearn.start', {
      modelId: erasure.model.id,
      method: 'retrain',
      subjects: ['P-0001', 'P-0002'],
      reference: true,
      noiseFloor: true,
    })
    const busy = await failure(call('models.delete', { modelId: erasure.model.id, reason: 'erased' }))
    expect(busy.code).toBe('CONFLICT')
    expect(busy.message).toContain(jobId)
    await call('jobs.cancel', { jobId })
    await waitForJob(call, jobId)
    expect(existsSync(path.join(modelDir(erasure.model.id), 'params.f32'))).toBe(true)
  })

  it('shreds the parameters, keeps a tombstone with the hash, and records it in the ledger', async () => {
    const deleted = await call<Output<'models.delete'>>('models.delete', {
      modelId: erasure.model.id,
      reason: 'original of the erasure',
      requestId: erasure.request.id,
    })
    expect(deleted.shredded).toContain('params.f32')
    expect(deleted.paramsSha256).toBe(erasure.model.paramsSha256)
    const dir = modelDir(erasure.model.id)
    expect(readdirSync(dir).sort()).toEqual(['manifest.json'])
    const tombstone = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
    expect(tombstone.paramsSha256).toBe(erasure.model.paramsSha256)
    expect(tombstone.deleted).toMatchObject({
      reason: 'original of the erasure',
      requestId: erasure.request.id,
    })

    const entry = (await registry()).find((e) => e.id === erasure.model.id)
    expect(entry?.deletedAt).not.toBeNull()
    expect(entry?.deletionRequestId).toBe(erasure.request.id)
    expect((await registry()).find((e) => e.id === sibling)?.deletedAt).toBeNull()

    const listed = (await call<Output<'models.list'>>('models.list', {})).find(
      (m) => m.id === erasure.model.id,
    )
    expect(listed?.deleted?.reason).toBe('original of the erasure')
    // The reason is free text about a person's request: in its personal record, not the chain.
    const events = JSON.stringify(await call<Output<'ledger.events'>>('ledger.events', {}))
    expect(events).toContain('model.deleted')
    expect(events).toContain('original of the erasure')
    expect(chainFiles()).toContain('model.deleted')
    expect(chainFiles()).not.toContain('original of the erasure')
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
  })

  it('refuses every use of the deleted version, and deleting it twice', async () => {
    const unlearn = await failure(
      call('unlearn.start', { modelId: erasure.model.id, method: 'retrain', subjects: ['P-0001'] }),
    )
    expect(unlearn.code).toBe('CONFLICT')
    expect(unlearn.message).toContain('was deleted on')
    expect(unlearn.message).toContain('original of the erasure')
    const evaluate = await failure(call('models.evaluate', { modelId: erasure.model.id, rows: [0, 1] }))
    expect(evaluate.code).toBe('CONFLICT')
    expect(evaluate.message).toContain('original of the erasure')
    const before = await snapshot()
    const twice = await failure(call('models.delete', { modelId: erasure.model.id, reason: 'again' }))
    expect(twice.code).toBe('CONFLICT')
    expect(twice.message).toContain('already deleted')
    expect(await snapshot()).toEqual(before)
  })

  it('shows deletions and retentions among the versions holding the rows', async () => {
    await call('models.retain', { modelId: sibling, requestId: erasure.request.id, reason: 'legal hold 42' })
    const versions = await holding()
    expect(versions.find((v) => v.id === erasure.model.id)?.deleted?.reason).toBe('original of the erasure')
    expect(versions.find((v) => v.id === sibling)?.keptReason).toBe('legal hold 42')
    expect(chainFiles()).toContain('model.retained')
    expect(chainFiles()).not.toContain('legal hold 42')
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
  })

  it('removes the request’s subjects from the dataset and tombstones the old version', async () => {
    const old = erasure.dataset
    const { dataset, removedRows } = await call<Output<'datasets.removeSubjects'>>(
      'datasets.removeSubjects',
      { datasetId: old.id, requestId: erasure.request.id },
    )
    expect(removedRows).toBe(3)
    expect(dataset.rows).toBe(old.rows - 3)
    expect(dataset.id).not.toBe(old.id)
    expect(dataset.replaces).toBe(old.id)
    const subjects = JSON.parse(readFileSync(path.join(datasetDir(dataset.id), 'subjects.json'), 'utf8'))
    expect(subjects).not.toContain('P-0007')
    expect(subjects).toHaveLength(old.rows - 3)
    expect(readdirSync(datasetDir(old.id))).toEqual(['manifest.json'])

    const entries = await registry()
    expect(entries.find((e) => e.id === dataset.id)?.parentId).toBe(old.id)
    expect(entries.find((e) => e.id === old.id)?.deletedAt).not.toBeNull()
    const listed = await call<Output<'datasets.list'>>('datasets.list', {})
    expect(listed.find((d) => d.id === old.id)?.deleted?.replacedBy).toBe(dataset.id)

    // Models trained on the old version stay listed, and those holding the rows are still found.
    expect((await holding()).map((v) => v.id).sort()).toEqual([erasure.model.id, sibling].sort())
    const unlearn = await failure(
      call('unlearn.start', { modelId: erasure.run.model.id, method: 'retrain', subjects: ['P-0001'] }),
    )
    expect(unlearn.code).toBe('CONFLICT')
    expect(unlearn.message).toContain(dataset.id)
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
  })

  it('keeps the reason of a deletion without a request on the tombstone only, never in the chain', async () => {
    await call('models.delete', { modelId: sibling, reason: 'housekeeping asked by Ada Quill' })
    const listed = (await call<Output<'models.list'>>('models.list', {})).find((m) => m.id === sibling)
    expect(listed?.deleted).toMatchObject({ reason: 'housekeeping asked by Ada Quill', requestId: null })
    expect(chainFiles()).not.toContain('Ada Quill')
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
  })
})
