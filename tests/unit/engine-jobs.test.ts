import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { dispatch } from '../../electron/contract/dispatch'
import { workerThreadChannel } from '../../electron/engine/host'
import type { UnlearnResult } from '../../electron/engine/models/runs'
import { createServices, type LetheServices } from '../../electron/host/services'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'
import { caller, waitForJob } from '../support/engine'

let services: LetheServices
const call = async (method: string, input: unknown) => {
  const result = await dispatch(services.handlers, method, input, { transport: 'cli' })
  if (!result.ok) throw Object.assign(new Error(result.error.message), result.error)
  return result.value as never
}
const waitFor = (jobId: string) => waitForJob(caller(services), jobId)

let datasetId: string

beforeAll(async () => {
  services = createServices({
    dataDir: tempDir('lethe-jobs-'),
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: testKeys,
  })
  const dataset: Output<'datasets.import'> = await call('datasets.import', {
    path: path.resolve('resources/datasets/breast-cancer.csv'),
    subjectColumn: 'patient_id',
    labelColumn: 'diagnosis',
  })
  datasetId = dataset.id
})
afterAll(async () => {
  await services.close()
})

describe('engine jobs', () => {
  it('keep the main thread answering while they run, report progress, and can be cancelled', async () => {
    const { jobId } = await call('models.train', {
      datasetId,
      arch: { kind: 'mlp', hidden: [64] },
      training: { epochs: 400 },
    })
    let progressed = false
    const unsubscribe = services.events.subscribe((e) => {
      if (e.name === 'job.progress' && e.payload.jobId === jobId) progressed = true
    })
    // While the worker trains, the main thread still answers calls and timers promptly.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const lags: number[] = []
    for (let i = 0; i < 10; i++) {
      const start = performance.now()
      await new Promise((resolve) => setTimeout(resolve, 0))
      lags.push(performance.now() - start)
      const answered = performance.now()
      const summary: Output<'requests.summary'> = await call('requests.summary', {})
      expect(summary.open).toBe(0)
      lags.push(performance.now() - answered)
    }
    expect(Math.max(...lags)).toBeLessThan(250)
    expect(((await call('jobs.get', { jobId })) as Output<'jobs.get'>).state).toBe('running')
    expect(progressed).toBe(true)
    await call('jobs.cancel', { jobId })
    const job = await waitFor(jobId)
    expect(job.state).toBe('cancelled')
    unsubscribe()
    expect(((await call('models.list', {})) as Output<'models.list'>).length).toBe(0)
  })

  it('train, then unlearn a request’s subjects with an exact reference, all on the ledger', async () => {
    const trained = await waitFor(
      (
        (await call('models.train', {
          datasetId,
          arch: { kind: 'mlp', hidden: [16] },
          training: { epochs: 10 },
        })) as { jobId: string }
      ).jobId,
    )
    expect(trained.state).toBe('succeeded')
    const model = trained.result as { id: string }
    const request: Output<'requests.create'> = await call('requests.create', {
      requester: { name: 'Pat' },
      subjectIds: [
        { type: 'customer-id', value: 'P-0007' },
        { type: 'customer-id', value: 'P-0100' },
        { type: 'customer-id', value: 'P-9999' },
      ],
      jurisdiction: 'gdpr',
      received: '2026-11-20',
    })
    const { jobId } = (await call('unlearn.start', {
      modelId: model.id,
      method: 'retrain',
      requestId: request.id,
      reference: true,
    })) as { jobId: string }
    const job = await waitFor(jobId)
    expect(job.error).toBeNull()
    const result = job.result as UnlearnResult
    expect(result.forgotten + result.heldOut).toBe(2)
    expect(result.guarantee.kind).toBe('exact')
    // Exact retraining in replay mode is its own reference.
    expect(result.report.distance.unlearnedToReference).toBe(0)
    const models: Output<'models.list'> = await call('models.list', {})
    expect(models.find((m) => m.id === result.model.id)).toMatchObject({
      parentId: model.id,
      method: 'retrain',
      requestId: request.id,
    })
    const registry: Output<'registry.list'> = await call('registry.list', { kind: 'model' })
    expect(registry.map((e) => e.id)).toContain(result.model.id)
    const { request: after, events } = (await call('requests.get', {
      id: request.id,
    })) as Output<'requests.get'>
    expect(after.links.models).toEqual([result.model.id])
    expect(after.links.runs).toEqual([jobId])
    expect(events.map((e) => e.type)).toEqual([
      'request.created',
      'work.started',
      'request.linked',
      'request.linked',
      'work.finished',
    ])
  })

  it('refuses a model that does not exist, and rows it was not trained on', async () => {
    await expect(
      call('unlearn.start', { modelId: 'm-000000000000', method: 'retrain', rows: [1] }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('the digits demo as images', () => {
  it('imports with its 8×8 shape and trains a CNN through the job', async () => {
    const digits: Output<'datasets.importDemo'> = await call('datasets.importDemo', { demo: 'digits' })
    expect(digits.shape).toEqual([8, 8, 1])
    const job = await waitFor(
      (
        (await call('models.train', {
          datasetId: digits.id,
          arch: { kind: 'cnn', filters: [4], dense: 16 },
          training: { epochs: 2 },
        })) as { jobId: string }
      ).jobId,
    )
    expect(job.error).toBeNull()
    const models: Output<'models.list'> = await call('models.list', {})
    // conv 3×3×1×4 + 4, dense (4·4·4)×16 + 16, head 16×10 + 10.
    expect(models.find((m) => m.id === (job.result as { id: string }).id)?.parameters).toBe(40 + 1040 + 170)
  })

  it('refuses a shape the columns do not fit, and stores nothing', async () => {
    const before: Output<'datasets.list'> = await call('datasets.list', {})
    await expect(
      call('datasets.import', {
        path: path.resolve('resources/datasets/digits.csv'),
        subjectColumn: 'subject_id',
        labelColumn: 'digit',
        imageShape: [9, 9, 1],
        name: 'digits, wrong shape',
      }),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'An image of 9×9×1 has 81 pixels, but the file has 64 feature columns.',
    })
    expect(await call('datasets.list', {})).toEqual(before)
  })
})

describe('a job the ledger cannot record', () => {
  it('fails with a clear message instead of crashing the process', async () => {
    const dataDir = tempDir('lethe-jobs-readonly-')
    const writer = createServices({
      dataDir,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      keyProtector: testKeys,
    })
    const imported = await dispatch(
      writer.handlers,
      'datasets.import',
      {
        path: path.resolve('resources/datasets/breast-cancer.csv'),
        subjectColumn: 'patient_id',
        labelColumn: 'diagnosis',
      },
      { transport: 'cli' },
    )
    await writer.close()
    const reader = createServices({
      dataDir,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      ledger: { readOnly: true },
    })
    try {
      const started = await dispatch(
        reader.handlers,
        'models.train',
        {
          datasetId: (imported as { value: { id: string } }).value.id,
          arch: { kind: 'logreg' },
          training: { epochs: 1 },
        },
        { transport: 'cli' },
      )
      const { jobId } = (started as { value: { jobId: string } }).value
      let job: Output<'jobs.get'>
      do {
        await new Promise((resolve) => setTimeout(resolve, 50))
        job = (
          (await dispatch(reader.handlers, 'jobs.get', { jobId }, { transport: 'cli' })) as {
            value: Output<'jobs.get'>
          }
        ).value
      } while (job.state === 'running')
      expect(job.state).toBe('failed')
      expect(job.error?.message).toMatch(/recording it in the ledger failed: This ledger is open read-only/)
    } finally {
      await reader.close()
    }
  })
})
