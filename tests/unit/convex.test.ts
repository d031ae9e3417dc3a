/**
 * Convex recipes reach their optimum: a logistic regression trained with 'lbfgs', and its exact
 * retrain without a subject's rows, against an independent float64 Newton solver on exactly the
 * same rows. SGD's retrain stays a replayed trajectory, and says so.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { methods } from '../../electron/contract'
import { TrainOptions } from '../../electron/contract/engine'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { trainModel, unlearnModel, type JobControl } from '../../electron/engine/jobs'
import { retrainMethod } from '../../electron/engine/methods/baselines'
import { loadModel, type ModelManifest } from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'
import { exactLogregOptimum } from '../support/exact-logreg'
import { importedDemo } from '../support/engine'
import { tempDir } from '../support/fixtures'

const control: JobControl = { signal: new AbortController().signal, progress: () => {} }
let dataDir: string

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-convex-')
})

/** ‖a − b‖ / ‖b‖ */
function relativeDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let difference = 0
  let size = 0
  for (let i = 0; i < b.length; i++) {
    difference += ((a[i] as number) - (b[i] as number)) ** 2
    size += (b[i] as number) ** 2
  }
  return Math.sqrt(difference / size)
}

const recipe = (overrides: Partial<z.input<typeof TrainOptions>> = {}) =>
  TrainOptions.parse({ optimizer: 'lbfgs', l2: 0.01, ...overrides })

const trainLogreg = (dataset: Dataset, overrides: Partial<z.input<typeof TrainOptions>> = {}) =>
  trainModel(
    { dataDir, datasetId: dataset.manifest.id, arch: { kind: 'logreg' }, training: recipe(overrides) },
    control,
  )

const retrainWithout = (modelId: string, rows: number[], mode: 'replay' | 'independent' = 'replay') =>
  unlearnModel(
    {
      dataDir,
      modelId,
      method: 'retrain',
      rows,
      strictRows: true,
      requestId: null,
      reference: false,
      options: { mode },
    },
    control,
  )

/** The Newton optimum of the model's recipe on the given training rows. */
function optimumOn(dataset: Dataset, rows: Int32Array, l2: number) {
  const { featureDim, classes } = dataset.manifest
  return exactLogregOptimum(dataset.features, dataset.labels, rows, featureDim, classes.length, l2)
}

const paramsOf = async (manifest: ModelManifest) =>
  (await loadModel(folders(dataDir).models, manifest.id)).params

describe('L-BFGS on breast cancer (30 features, 2 classes)', () => {
  let dataset: Dataset
  let rowsOfSubjects: (skip: number, count: number) => number[]
  let model: ModelManifest

  beforeAll(async () => {
    ;({ dataset, rowsOfSubjects } = await importedDemo('breast-cancer', dataDir))
    model = await trainLogreg(dataset)
  })

  it('trains to the optimum and records that it converged', async () => {
    const exact = optimumOn(dataset, dataset.train, 0.01)
    expect(exact.gradientNorm).toBeLessThanOrEqual(1e-10)
    const params = await paramsOf(model)
    expect(relativeDistance(params, exact.params)).toBeLessThanOrEqual(1e-4)
    const convergence = model.training.convergence
    expect(convergence).toMatchObject({ solver: 'lbfgs', converged: true, tolerance: 1e-6 })
    expect(convergence?.gradientNorm).toBeLessThanOrEqual(convergence?.threshold as number)
    expect(convergence?.iterations).toBeGreaterThan(0)
    // The recorded bound holds against the independent optimum, and is within the tolerance asked.
    const distance = relativeDistance(params, exact.params) * Math.hypot(...exact.params)
    expect(distance).toBeLessThanOrEqual(convergence?.distanceBound as number)
    // (plus the float32 rounding of the stored parameters, ≤ 6e-8 relative)
    expect(convergence?.distanceBound).toBeLessThanOrEqual(1.1e-6 * Math.max(1, Math.hypot(...params)))
  })

  it('retrains without some patients to the optimum on exactly the retained rows, in both modes', async () => {
    const forget = rowsOfSubjects(0, 25)
    const gone = new Set(forget)
    const retained = dataset.train.filter((r) => !gone.has(r))
    const exact = optimumOn(dataset, retained, 0.01)
    // The forgotten rows matter: the original is measurably away from the retained optimum.
    expect(relativeDistance(await paramsOf(model), exact.params)).toBeGreaterThan(1e-3)
    for (const mode of ['replay', 'independent'] as const) {
      const result = await retrainWithout(model.id, forget, mode)
      expect(result.details).toMatchObject({ mode, reference: 'optimum', convergence: { converged: true } })
      expect(relativeDistance(await paramsOf(result.model), exact.params)).toBeLessThanOrEqual(1e-4)
    }
  })

  it('labels an SGD recipe’s retrain as a replayed trajectory, not the optimum', async () => {
    const sgd = await trainLogreg(dataset, { optimizer: 'sgd', epochs: 3 })
    expect(sgd.training.convergence).toBeUndefined()
    const result = await retrainWithout(sgd.id, rowsOfSubjects(0, 5))
    expect(result.details.reference).toBe('replayed trajectory')
    expect(retrainMethod.description).toMatch(/replayed.*not the optimum|trajectory rather than the optimum/)
  })

  it('stops when cancelled', async () => {
    const cancelled = new AbortController()
    cancelled.abort()
    await expect(
      trainModel(
        { dataDir, datasetId: dataset.manifest.id, arch: { kind: 'logreg' }, training: recipe() },
        { ...control, signal: cancelled.signal },
      ),
    ).rejects.toMatchObject({ code: 'CANCELLED' })
  })

  it('refuses lbfgs for a non-convex model, without l2, and with HF preparation, naming the option', async () => {
    const train = (
      arch: { kind: 'logreg' } | { kind: 'mlp'; hidden: number[] },
      training = recipe(),
      prepare?: 'hf',
    ) => trainModel({ dataDir, datasetId: dataset.manifest.id, arch, training, prepare }, control)
    await expect(train({ kind: 'mlp', hidden: [8] })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/optimizer 'lbfgs' is only for logistic regression/),
    })
    await expect(train({ kind: 'logreg' }, recipe({ l2: 0 }))).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/optimizer 'lbfgs' needs l2 > 0/),
    })
    await expect(train({ kind: 'logreg' }, recipe(), 'hf')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/HF preparation records a plain SGD trajectory/),
    })
    // The API refuses them at its boundary too.
    const checked = methods['models.train'].input.safeParse({
      datasetId: dataset.manifest.id,
      arch: { kind: 'mlp' },
      training: { optimizer: 'lbfgs', l2: 0 },
    })
    expect(checked.success).toBe(false)
    const messages = checked.error?.issues.map((issue) => issue.message).join('\n')
    expect(messages).toMatch(/only for logistic regression/)
    expect(messages).toMatch(/needs l2 > 0/)
  })
})

describe('L-BFGS on handwritten digits (64 features, 10 classes)', () => {
  it('retrains without five writers to the optimum on exactly the retained rows', async () => {
    const { dataset } = await importedDemo('digits', dataDir)
    const model = await trainLogreg(dataset)
    const writers = new Set(['W-001', 'W-002', 'W-003', 'W-004', 'W-005'])
    const forget = Array.from(dataset.train).filter((r) => writers.has(dataset.subjects[r] as string))
    const gone = new Set(forget)
    const exact = optimumOn(
      dataset,
      dataset.train.filter((r) => !gone.has(r)),
      0.01,
    )
    const result = await retrainWithout(model.id, forget)
    const original = relativeDistance(await paramsOf(model), exact.params)
    const retrained = relativeDistance(await paramsOf(result.model), exact.params)
    const { iterations } = result.details.convergence as { iterations: number }
    console.info(
      `digits logreg, ${forget.length} rows forgotten: relative distance to the Newton optimum ${retrained.toExponential(2)} after ${iterations} L-BFGS iterations (original: ${original.toExponential(2)})`,
    )
    expect(result.details.reference).toBe('optimum')
    expect(original).toBeGreaterThan(1e-3)
    expect(retrained).toBeLessThanOrEqual(1e-4)
  })
})
