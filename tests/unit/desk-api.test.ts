import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { caller, completedErasure } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

let services: LetheServices
let erasure: Awaited<ReturnType<typeof completedErasure>>
const call = () => caller(services)

beforeAll(async () => {
  services = createServices({
    dataDir: tempDir('lethe-match-'),
    host: 'cli',
    spawnEngine: workerThreadChannel,
    keyProtector: testKeys,
  })
  erasure = await completedErasure(services, false)
})
afterAll(() => services.close())

/** The source rows of the demo file, by patient id. */
function sourceRows(): Map<string, string[]> {
  const [, ...lines] = readFileSync('resources/datasets/breast-cancer.csv', 'utf8').trim().split('\n')
  return new Map(lines.map((line) => [line.split(',')[0] as string, line.split(',')]))
}

describe('the desk’s engine API: matching, runs and methods', () => {
  it('finds the subjects’ rows, shows them as in the source file, and says which models still learned from them', async () => {
    const preview = await call()<Output<'matching.preview'>>('matching.preview', {
      requestId: erasure.request.id,
      limit: 10,
    })
    const dataset = preview.datasets[0] as Output<'matching.preview'>['datasets'][number]
    expect(dataset.datasetId).toBe(erasure.dataset.id)
    // Three patients, one row each in this file; the split decides train or test.
    expect((dataset.matched.train ?? 0) + (dataset.matched.test ?? 0)).toBe(3)
    expect(dataset.matched.train).toBe(erasure.run.forgotten)
    // Each previewed row decodes to the values of one requested patient's source line.
    const source = sourceRows()
    const requested = ['P-0007', 'P-0100', 'P-0200'].map((id) => source.get(id) as string[])
    for (const row of dataset.preview ?? []) {
      const line = requested.find((fields) =>
        fields
          .slice(1, 1 + dataset.columns.length)
          .every(
            (v, i) => Math.abs(Number(v) - Number(row.values[i])) < 1e-3 * Math.max(1, Math.abs(Number(v))),
          ),
      )
      expect(line, `row ${row.row} is one of the requested patients`).toBeDefined()
      expect(row.label).toBe(line?.at(-1))
    }
    expect(dataset.columns[0]).toBe('mean_radius')
    expect(dataset.preview).toHaveLength(3)
    // The original still learned from the matched training rows; the unlearned version did not.
    const byId = new Map(dataset.models.map((m) => [m.id, m]))
    expect(byId.get(erasure.model.id)?.remaining).toBe(erasure.run.forgotten)
    expect(byId.get(erasure.run.model.id)).toMatchObject({
      remaining: 0,
      parentId: erasure.model.id,
      requestId: erasure.request.id,
    })
  })

  it('keeps the loss curve of a run, phase by phase', async () => {
    const jobs = await call()<Output<'jobs.list'>>('jobs.list', {})
    const run = jobs.find((j) => j.kind === 'unlearn')
    const phases = new Set(run?.curve.map((p) => p.phase))
    expect(phases.has('Reference retraining')).toBe(true)
    for (const point of run?.curve ?? []) expect(Number.isFinite(point.loss)).toBe(true)
  })

  it('imports a demo dataset that ships with the app, and matches nothing of the request in it', async () => {
    const digits = await call()<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'digits' })
    expect(digits).toMatchObject({ id: 'ds-b7d6f9357266', rows: 1797, subjects: 180 })
    const preview = await call()<Output<'matching.preview'>>('matching.preview', {
      requestId: erasure.request.id,
    })
    expect(preview.datasets.find((d) => d.datasetId === digits.id)).toMatchObject({
      matched: { train: 0, test: 0 },
      preview: [],
      models: [],
    })
  })

  it('gives back a run’s record after the job is gone, and lists the methods with their guarantees', async () => {
    const record = await call()<Output<'unlearn.get'>>('unlearn.get', { modelId: erasure.run.model.id })
    expect(record).toMatchObject({
      method: 'retrain',
      parent: { id: erasure.model.id },
      guarantee: { kind: 'exact' },
      forgotten: erasure.run.forgotten,
    })
    expect(record.report.reference?.forget.rows).toBe(erasure.run.forgotten)
    await expect(call()('unlearn.get', { modelId: erasure.model.id })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    const methods = await call()<Output<'unlearn.methods'>>('unlearn.methods', {})
    expect(methods.map((m) => [m.name, m.guarantee.kind])).toEqual([
      ['retrain', 'exact'],
      ['finetune', 'empirical'],
      ['neggrad', 'empirical'],
      ['hf', 'certified'],
      ['certified', 'certified'],
      ['del', 'empirical'],
    ])
  })

  it('names an unknown request', async () => {
    await expect(call()('matching.preview', { requestId: 'RTBF-2026-9999' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/RTBF-2026-9999/),
    })
  })
})
