/**
 * Certified unlearning for deep networks (one Newton step by LiSSA, then calibrated noise) through
 * the engine's own jobs, against the replayed exact retrain: a no-op would give a distance ratio
 * of 1, so these tests fail if the method does nothing.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { TrainOptions } from '../../electron/contract/engine'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { trainModel, unlearnModel, type JobControl } from '../../electron/engine/jobs'
import { certifiedBound, lissa, retainedGradient } from '../../electron/engine/methods/certified'
import { specOf } from '../../electron/engine/models/spec'
import { loadModel, loadNoiseless } from '../../electron/engine/models/store'
import { analyticGaussianSigma } from '../../electron/engine/privacy'
import { exactLogregHessian, topEigenvalue } from '../../electron/engine/second-order'
import { choleskySolve } from '../support/exact-logreg'
import { tf } from '../../electron/engine/tf'
import { uploadData } from '../../electron/engine/train'
import { certificationOf, distanceRatio, importedDemo } from '../support/engine'
import { tempDir } from '../support/fixtures'

const control: JobControl = { signal: new AbortController().signal, progress: () => {} }
let dataDir: string
let dataset: Dataset
let rowsOfSubjects: (skip: number, count: number) => number[]

/**
 * The paper's protocol (Adam, projection onto a ball), made to converge so the exact retrain is at
 * the retained optimum: full-batch steps (one batch of every row, so no mini-batch noise) and a
 * cosine schedule that anneals Adam's step to 0 (at a constant rate Adam keeps hovering around the
 * optimum). The radius is wide enough that the projection never binds at the optimum.
 */
const certifiedTraining = (overrides: Partial<z.input<typeof TrainOptions>> = {}) =>
  TrainOptions.parse({
    optimizer: 'adam',
    learningRate: 0.05,
    epochs: 1000,
    batchSize: 1024,
    l2: 0.05,
    schedule: 'cosine',
    projectRadius: 50,
    ...overrides,
  })

const train = (overrides: Partial<z.input<typeof TrainOptions>> = {}) =>
  trainModel(
    {
      dataDir,
      datasetId: dataset.manifest.id,
      arch: { kind: 'logreg' },
      training: certifiedTraining(overrides),
      prepare: 'certified',
    },
    control,
  )

/** Full-batch LiSSA at a depth that converges on this model (λ_min ≥ λ_wd = 0.05). */
const exactish = { lissaBatch: 100_000, lissaDepth: 600, lambda: 1e-3, solver: 'lissa' }

const unlearn = (modelId: string, rows: number[], options: Record<string, unknown> = {}, reference = false) =>
  unlearnModel(
    { dataDir, modelId, method: 'certified', rows, strictRows: true, requestId: null, reference, options },
    control,
  )

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-certified-')
  ;({ dataset, rowsOfSubjects } = await importedDemo('breast-cancer', dataDir))
})

describe('certified unlearning on L2-regularised logistic regression (breast cancer)', () => {
  let modelId: string

  it('trains under the paper’s protocol and records nothing but the radius', async () => {
    const model = await train()
    modelId = model.id
    expect(model.training).toMatchObject({ optimizer: 'adam', projectRadius: 50 })
    expect(model.preparation).toBeUndefined()
  })

  it('lands far closer to the replayed exact retrain than the original is (noise off)', async () => {
    const result = await unlearn(modelId, rowsOfSubjects(0, 10), { ...exactish, noise: false }, true)
    console.info(
      `certified logreg, 10 rows, noise off: distance ratio ${distanceRatio(result).toFixed(5)} (${(result.details.convergence as { case: string }).case}), LiSSA ${(result.details.timings as { solveMs: number }).solveMs.toFixed(0)} ms`,
    )
    expect(distanceRatio(result)).toBeLessThan(0.1)
    expect(result.guarantee.kind).toBe('empirical')
    expect(result.guarantee.meaning).toMatch(/^Not certified/)
    expect(certificationOf(result)).toMatchObject({ noise: false, topUp: 0, rowsDeleted: 10 })
  })

  it('LiSSA matches an exact float64 solve, and a too-small scale diverges with a clear error', async () => {
    const { params, manifest } = await loadModel(folders(dataDir).models, modelId)
    const spec = specOf(manifest.arch)
    const forget = new Set(rowsOfSubjects(0, 10))
    const rows = dataset.train.filter((r) => !forget.has(r))
    const D = dataset.manifest.featureDim
    const x = new Float32Array(rows.length * D)
    rows.forEach((r, i) => x.set(dataset.features.subarray(r * D, (r + 1) * D), i * D))
    const y = Int32Array.from(rows, (r) => dataset.labels[r] as number)
    const l2 = manifest.training.l2 + 0.01
    const data = uploadData(dataset.features, dataset.labels, D)
    try {
      const g = await retainedGradient(spec, params, data, rows, manifest.training.l2)
      const exact = choleskySolve(exactLogregHessian(spec, params, x, y, l2), Float64Array.from(g), g.length)
      const top = tf.tidy(() =>
        topEigenvalue(
          spec,
          tf.tensor1d(params),
          tf.tensor2d(x, [rows.length, D]),
          tf.tensor1d(y, 'int32'),
          l2,
          {
            tolerance: 1e-6,
          },
        ),
      ).value
      const started = performance.now()
      const { solution } = await lissa(spec, params, data, rows, g, {
        scale: 1.1 * top,
        depth: 800,
        repetitions: 1,
        batchSize: rows.length,
        l2,
      })
      const ms = performance.now() - started
      let diff = 0
      let size = 0
      for (let j = 0; j < exact.length; j++) {
        diff += ((solution[j] as number) - (exact[j] as number)) ** 2
        size += (exact[j] as number) ** 2
      }
      const relative = Math.sqrt(diff / size)
      console.info(
        `LiSSA vs exact solve (logreg, ${rows.length} rows, λ_top ${top.toFixed(3)}, λ_min ≥ ${l2.toPrecision(3)}, depth 800): relative error ${relative.toExponential(2)} in ${ms.toFixed(0)} ms`,
      )
      expect(relative).toBeLessThan(1e-3)
      await expect(
        lissa(spec, params, data, rows, g, {
          scale: 0.2 * top,
          depth: 200,
          repetitions: 1,
          batchSize: rows.length,
          l2,
        }),
      ).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/LiSSA diverged.*raise the LiSSA scale/s),
      })
    } finally {
      data.x.dispose()
      data.y.dispose()
    }
  })

  it('computes the bound as the formula says, for given constants', () => {
    const constants = {
      radius: 20,
      hessianLipschitz: 1,
      lambda: 0.01,
      lambdaMin: 0.04,
      gradientLipschitz: 3,
      dimension: 62,
      solver: 'lissa' as const,
      failureProbability: 0.01,
    }
    // 2·20·(1·20 + 0.01)/0.05 = 16008; 2·3·20·(16·√ln(6200)/0.05 + 1/16) = 113481.3165 (by hand, in float64).
    expect(certifiedBound(constants)).toBeCloseTo(16008 + 113481.31648760515, 6)
    // Non-convergent: + ‖∇L(θ*, D_r)‖/(λ + λ_min) = 0.5/0.05 = 10.
    expect(certifiedBound({ ...constants, retainedGradientNorm: 0.5 })).toBeCloseTo(
      129489.31648760515 + 10,
      6,
    )
    expect(() => certifiedBound({ ...constants, lambdaMin: -0.02 })).toThrow(/Raise λ/)
    // The exact solve: the LiSSA term (and ρ) drops out.
    expect(certifiedBound({ ...constants, solver: 'exact' })).toBeCloseTo(16008, 6)
  })

  it('calibrates σ by the analytic Gaussian mechanism, and chains requests on the noiseless estimates (Prop. 4.2)', async () => {
    // The mechanics of the noise, with the utility floor lifted (this bound needs far more noise than the model can carry).
    const lifted = { ...exactish, lissaDepth: 200, accuracyFloor: 0, delta: 1e-5 }
    const first = await unlearn(modelId, rowsOfSubjects(40, 5), { ...lifted, epsilon: 1 })
    const c1 = certificationOf(first)
    expect(first.guarantee).toMatchObject({ kind: 'certified', epsilon: 1, delta: 1e-5 })
    expect(first.guarantee.meaning).toMatch(/analytic Gaussian mechanism \(Balle & Wang\).*\[UNCONFIRMED\]/s)
    expect(first.guarantee.meaning).toMatch(/(Converged|Non-convergent) case/)
    expect(c1.sigma).toBeCloseTo(analyticGaussianSigma(1, 1e-5, c1.sensitivity), 10)
    expect(c1.topUp).toBeCloseTo(c1.sigma, 10)
    expect(c1.constants.map((c) => [c.symbol, c.source])).toEqual(
      expect.arrayContaining([
        ['C', 'set'],
        ['λ', 'set'],
        ['λ_wd', 'set'],
        ['H', 'set'],
        ['λ_min', 'set'],
        ['L', 'estimated'],
        ['M', 'assumed'],
        ['ρ', 'set'],
      ]),
    )
    const second = await unlearn(first.model.id, rowsOfSubjects(45, 5), { ...lifted, epsilon: 1 })
    const c2 = certificationOf(second)
    expect(c2.rowsDeleted).toBe(c1.rowsDeleted + c2.rowsThisRequest)
    // Prop. 4.2: one request's bound, and fresh noise on the noiseless estimate.
    expect(c2.sensitivity).toBe(c2.constants.find((c) => c.symbol === 'Δ_k')?.value)
    expect(c2.sigma).toBeCloseTo(analyticGaussianSigma(1, 1e-5, c2.sensitivity), 10)
    expect(c2.topUp).toBe(c2.sigma)
    expect(c2.sigmaBefore).toBe(c1.sigma)
    // The chain runs on the noiseless estimates: the same two requests without noise give exactly
    // the estimates the noisy releases keep privately (a step from the noisy release would not).
    const quiet1 = await unlearn(modelId, rowsOfSubjects(40, 5), { ...lifted, noise: false })
    const quiet2 = await unlearn(quiet1.model.id, rowsOfSubjects(45, 5), { ...lifted, noise: false })
    const models = folders(dataDir).models
    const kept = async (r: typeof first) => loadNoiseless(models, r.model, r.noiselessSha256 as string)
    expect(Array.from(await kept(first))).toEqual(
      Array.from((await loadModel(models, quiet1.model.id)).params),
    )
    expect(Array.from(await kept(second))).toEqual(
      Array.from((await loadModel(models, quiet2.model.id)).params),
    )
    expect(quiet1.noiselessSha256).toBeUndefined()
    // A looser ε needs less noise for the same rows.
    const loose = certificationOf(await unlearn(modelId, rowsOfSubjects(40, 5), { ...lifted, epsilon: 5 }))
    expect(loose.sigma).toBeLessThan(c1.sigma)
  })

  it('refuses a noisy release that would fall below the accuracy floor, advising retraining', async () => {
    await expect(
      unlearn(modelId, rowsOfSubjects(50, 5), { ...exactish, lissaDepth: 50 }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/below the floor.*Retrain/s),
    })
  })

  it('refuses to go on from a release whose noiseless estimate was altered, and keeps everything', async () => {
    const lifted = { ...exactish, lissaDepth: 50, accuracyFloor: 0, epsilon: 1 }
    const release = await unlearn(modelId, rowsOfSubjects(60, 3), lifted)
    const file = path.join(folders(dataDir).models, release.model.id, 'noiseless.f32')
    const bytes = readFileSync(file)
    bytes[100] = (bytes[100] as number) ^ 0xff
    writeFileSync(file, bytes)
    const before = readdirSync(folders(dataDir).models).length
    await expect(unlearn(release.model.id, rowsOfSubjects(63, 3), lifted)).rejects.toMatchObject({
      code: 'CORRUPT',
      message: expect.stringMatching(/noiseless estimate of m-[0-9a-f]+ was altered/),
    })
    expect(readdirSync(folders(dataDir).models).length).toBe(before)
    expect((await loadModel(folders(dataDir).models, release.model.id)).manifest.id).toBe(release.model.id)
  })

  it('refuses a model trained without Adam and a projection, saying why', async () => {
    await expect(train({ optimizer: 'sgd', epochs: 5 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/Adam/),
    })
    const plain = await trainModel(
      {
        dataDir,
        datasetId: dataset.manifest.id,
        arch: { kind: 'logreg' },
        training: certifiedTraining({ optimizer: 'sgd', momentum: 0, projectRadius: null, epochs: 50 }),
      },
      control,
    )
    await expect(
      unlearn(plain.id, rowsOfSubjects(0, 2), { ...exactish, lissaDepth: 50 }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/cannot get a certified.*Adam.*projection radius/s),
    })
    // Measurement without noise stays possible, and says it certifies nothing.
    const measured = await unlearn(plain.id, rowsOfSubjects(0, 2), {
      ...exactish,
      lissaDepth: 50,
      noise: false,
    })
    expect(measured.guarantee.meaning).toMatch(/^Not certified/)
  })
})

describe('certified unlearning on an MLP (handwritten digits, whole writers removed)', () => {
  it('moves the forget set’s membership-inference AUC towards the replayed retrain’s (noise off)', async () => {
    const { dataset: data } = await importedDemo('digits', dataDir)
    const model = await trainModel(
      {
        dataDir,
        datasetId: data.manifest.id,
        arch: { kind: 'mlp', hidden: [16] },
        training: certifiedTraining({ epochs: 300, learningRate: 0.02, l2: 1e-3, projectRadius: 20 }),
        prepare: 'certified',
      },
      control,
    )
    const writers = new Set(['W-001', 'W-002', 'W-003', 'W-004', 'W-005'])
    const rows = Array.from(data.train).filter((r) => writers.has(data.subjects[r] as string))
    const result = await unlearnModel(
      {
        dataDir,
        modelId: model.id,
        method: 'certified',
        rows,
        strictRows: true,
        requestId: null,
        reference: true,
        options: { noise: false, lambda: 0.005, lissaDepth: 1000, lissaBatch: 100_000, solver: 'lissa' },
      },
      control,
    )
    const { original, unlearned, reference } = result.report
    const retrained = reference as NonNullable<typeof reference>
    const solveMs = (result.details.timings as { solveMs: number }).solveMs
    console.info(
      `certified MLP, ${rows.length} rows: distance ratio ${distanceRatio(result).toFixed(4)}; forget accuracy ${[original, unlearned, retrained].map((s) => s.forget.accuracy?.toFixed(3)).join(' / ')}; MIA AUC ${[original, unlearned, retrained].map((s) => s.mia.auc?.toFixed(3)).join(' / ')}; LiSSA ${solveMs.toFixed(0)} ms; ${(result.details.convergence as { case: string }).case}`,
    )
    // The parameter distance is no yardstick here: the replayed retrain of a non-convex net drifts to
    // another point of its basin (measured ratio 1.03), while the Newton step (λ = 0.005, full-batch
    // LiSSA) moves the forget set's loss profile: MIA AUC 0.599 → 0.565, retrained 0.498.
    const auc = (s: typeof original) => s.mia.auc as number
    expect(Math.abs(auc(unlearned) - auc(retrained))).toBeLessThan(Math.abs(auc(original) - auc(retrained)))
  }, 120_000)
})
