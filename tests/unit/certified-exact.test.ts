/**
 * The certified Newton step's exact solve: the float64 Cholesky (dense.ts), the dense Hessians
 * (hessian.ts) against independent references, and the step itself on a logistic regression
 * trained to its optimum by L-BFGS, against an independent float64 Newton solve of the retrain.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { TrainOptions } from '../../electron/contract/engine'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { choleskyInPlace, choleskySolve } from '../../electron/engine/dense'
import { hessianFromHvps, logregHessian } from '../../electron/engine/hessian'
import { trainModel, unlearnModel, type JobControl } from '../../electron/engine/jobs'
import { chooseSolver, EXACT_SOLVE_LIMITS } from '../../electron/engine/methods/certified'
import type { UnlearnResult } from '../../electron/engine/models/runs'
import { specOf } from '../../electron/engine/models/spec'
import { loadModel } from '../../electron/engine/models/store'
import { Random } from '../../electron/engine/random'
import { exactLogregHessian, hvp } from '../../electron/engine/second-order'
import { tf } from '../../electron/engine/tf'
import { certificationOf, importedDemo } from '../support/engine'
import { exactLogregOptimum } from '../support/exact-logreg'
import { tempDir } from '../support/fixtures'

const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

/** ‖a − b‖ / ‖b‖. */
function relativeDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0
  let size = 0
  for (let i = 0; i < b.length; i++) {
    diff += ((a[i] as number) - (b[i] as number)) ** 2
    size += (b[i] as number) ** 2
  }
  return Math.sqrt(diff / size)
}

/** A random symmetric positive-definite n × n matrix, B·Bᵀ/n + I. */
function spd(n: number, random: Random): Float64Array {
  const B = Float64Array.from({ length: n * n }, () => random.normal())
  const A = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 1 : 0
      for (let k = 0; k < n; k++) s += ((B[i * n + k] as number) * (B[j * n + k] as number)) / n
      A[i * n + j] = s
    }
  return A
}

describe('dense float64 Cholesky', () => {
  it('solves a known system', () => {
    // A = L·Lᵀ with L = [[2, 0, 0], [1, 2, 0], [0, 1, 1]]; x = [1, −2, 3] gives b = A·x.
    const A = Float64Array.from([4, 2, 0, 2, 5, 2, 0, 2, 2])
    const factor = Float64Array.from(A)
    choleskyInPlace(factor, 3)
    expect([factor[0], factor[3], factor[4], factor[6], factor[7], factor[8]]).toEqual([2, 1, 2, 0, 1, 1])
    const x = choleskySolve(factor, 3, [0, -2, 2])
    for (const [i, v] of [1, -2, 3].entries()) expect(x[i]).toBeCloseTo(v, 12)
  })

  it('solves random systems whose size is not a multiple of its tiles, to rounding', () => {
    const random = new Random(5)
    for (const n of [1, 5, 37, 130]) {
      const A = spd(n, random)
      const truth = Float64Array.from({ length: n }, () => random.normal())
      const b = new Float64Array(n)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) b[i] = (b[i] as number) + (A[i * n + j] as number) * (truth[j] as number)
      const factor = Float64Array.from(A)
      choleskyInPlace(factor, n)
      expect(relativeDistance(choleskySolve(factor, n, b), truth)).toBeLessThan(1e-12)
    }
  })

  it('refuses a matrix that is not positive definite', () => {
    expect(() => choleskyInPlace(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(
      expect.objectContaining({ code: 'CONFLICT', message: expect.stringMatching(/not positive definite/) }),
    )
  })
})

describe('dense Hessians', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('builds the logistic-regression Hessian as the per-row Kronecker reference and the HVPs do', async () => {
    // Odd sizes: the Gram tiles' edges and the derived last-class blocks are both exercised.
    const spec = specOf({ kind: 'logreg', inputs: 9, classes: 3 })
    const random = new Random(3)
    const all = 40
    const features = Float32Array.from({ length: all * 9 }, () => random.normal())
    const labels = Int32Array.from({ length: all }, (_, i) => i % 3)
    const params = Float32Array.from({ length: spec.size }, () => 0.3 * random.normal())
    const rows = Int32Array.from([0, 2, 3, 7, 8, 11, 19, 20, 25, 31, 38])
    const x = new Float32Array(rows.length * 9)
    rows.forEach((r, i) => x.set(features.subarray(r * 9, (r + 1) * 9), i * 9))
    const y = Int32Array.from(rows, (r) => labels[r] as number)
    const H = logregHessian(spec, params, features, rows, 0.05)
    expect(relativeDistance(H, exactLogregHessian(spec, params, x, y, 0.05))).toBeLessThan(1e-13)
    const fromHvps = await hessianFromHvps(
      spec,
      params,
      tf.tensor2d(x, [rows.length, 9]),
      tf.tensor1d(y, 'int32'),
      0.05,
    )
    expect(relativeDistance(fromHvps, H)).toBeLessThan(1e-5)
  })

  it('builds a tiny MLP’s Hessian from HVPs: symmetric, and H·v is the HVP of v', async () => {
    const spec = specOf({ kind: 'mlp', inputs: 5, hidden: [4], classes: 3 })
    const random = new Random(11)
    const n = 30
    const x = tf.tensor2d(
      Float32Array.from({ length: n * 5 }, () => random.normal()),
      [n, 5],
    )
    const y = tf.tensor1d(
      Int32Array.from({ length: n }, (_, i) => i % 3),
      'int32',
    )
    const params = Float32Array.from({ length: spec.size }, () => 0.5 * random.normal())
    const P = spec.size
    const H = await hessianFromHvps(spec, params, x, y, 0.01)
    for (let i = 0; i < P; i++) for (let j = 0; j < i; j++) expect(H[i * P + j]).toBe(H[j * P + i])
    const v = Float32Array.from({ length: P }, () => random.normal())
    const expected = tf.tidy(() =>
      hvp(spec, tf.tensor1d(params), x, y, 0.01, tf.tensor2d(v, [1, P])).dataSync(),
    )
    const product = new Float64Array(P)
    for (let i = 0; i < P; i++)
      for (let j = 0; j < P; j++)
        product[i] = (product[i] as number) + (H[i * P + j] as number) * (v[j] as number)
    expect(relativeDistance(product, expected)).toBeLessThan(1e-5)
  })
})

describe('the certified Newton step with the exact solve (breast cancer, L-BFGS logistic regression)', () => {
  let dataDir: string
  let dataset: Dataset
  let rowsOfSubjects: (skip: number, count: number) => number[]
  let modelId: string
  const l2 = 0.01

  beforeAll(async () => {
    await tf.setBackend('wasm')
    dataDir = tempDir('lethe-certified-exact-')
    ;({ dataset, rowsOfSubjects } = await importedDemo('breast-cancer', dataDir))
    const model = await trainModel(
      {
        dataDir,
        datasetId: dataset.manifest.id,
        arch: { kind: 'logreg' },
        training: TrainOptions.parse({ optimizer: 'lbfgs', l2, projectRadius: null }),
        prepare: 'certified',
      },
      control,
    )
    modelId = model.id
  })

  const unlearn = (rows: number[], options: Record<string, unknown>) =>
    unlearnModel(
      {
        dataDir,
        modelId,
        method: 'certified',
        rows,
        strictRows: true,
        requestId: null,
        reference: false,
        options,
      },
      control,
    )

  /** ‖θ̃ − θ_r‖/‖θ_r‖ against the independent float64 optimum of the retained rows. */
  const landing = async (result: UnlearnResult, forget: number[]) => {
    const removed = new Set(forget)
    const retained = dataset.train.filter((r) => !removed.has(r))
    const { params, manifest } = await loadModel(folders(dataDir).models, result.model.id)
    const { inputs, classes } = specOf(manifest.arch)
    const optimum = exactLogregOptimum(dataset.features, dataset.labels, retained, inputs, classes, l2)
    const original = (await loadModel(folders(dataDir).models, modelId)).params
    return {
      distance: relativeDistance(params, optimum.params),
      originalDistance: relativeDistance(original, optimum.params),
    }
  }

  it('lands within 0.01 of the exact retrained optimum with the defaults (exact solve, λ = 0)', async () => {
    const forget = rowsOfSubjects(0, 10)
    const result = await unlearn(forget, { noise: false })
    const { distance, originalDistance: trained } = await landing(result, forget)
    const lissa = await unlearn(forget, { noise: false, solver: 'lissa' })
    const lissaDistance = (await landing(lissa, forget)).distance
    const damped = await unlearn(forget, { noise: false, lambda: 0.01 })
    const dampedDistance = (await landing(damped, forget)).distance
    console.info(
      `certified logreg (L-BFGS, ${forget.length} rows forgotten): relative distance to the exact retrain: exact solve ${distance.toExponential(2)} (λ = 0.01: ${dampedDistance.toExponential(2)}), LiSSA defaults ${lissaDistance.toExponential(2)}, original ${trained.toExponential(2)}`,
    )
    expect(result.details.solver).toBe('exact')
    expect(result.details.exact).toMatchObject({ hessian: 'analytic' })
    expect(distance).toBeLessThan(0.01)
    // What is left is the one Newton step's own (second-order) error, below LiSSA's sampling error and λ's bias.
    expect(distance).toBeLessThan(lissaDistance)
    expect(distance).toBeLessThan(dampedDistance)
    // Doing nothing is far off: the bar is not met by the original.
    expect(trained).toBeGreaterThan(10 * distance)
    const lambda = certificationOf(result).constants.find((c) => c.symbol === 'λ')
    expect(lambda?.value).toBe(0)
    expect(lissa.details.solver).toBe('lissa')
    expect(lissa.details.lissa).toMatchObject({ depth: 1000 })
  })

  it('records the exact solve in a certified release: no LiSSA term, no ρ, C the measured ‖θ*‖', async () => {
    const forget = rowsOfSubjects(20, 5)
    const exact = await unlearn(forget, { accuracyFloor: 0 })
    const viaLissa = await unlearn(forget, { accuracyFloor: 0, solver: 'lissa' })
    const c = certificationOf(exact)
    const symbols = c.constants.map((k) => k.symbol)
    expect(symbols).not.toContain('ρ')
    expect(symbols).not.toContain('H')
    expect(certificationOf(viaLissa).constants.map((k) => k.symbol)).toEqual(
      expect.arrayContaining(['ρ', 'H', 's']),
    )
    expect(c.constants.find((k) => k.symbol === 'C')).toMatchObject({
      source: 'measured',
      note: expect.stringMatching(/L-BFGS optimum/),
    })
    expect(c.assumptions.join(' ')).toMatch(/ρ does not apply/)
    expect(exact.guarantee).toMatchObject({
      kind: 'certified',
      meaning: expect.stringMatching(/solved exactly/),
    })
    // Without the LiSSA term the bound, and so the noise, is smaller.
    expect(c.sensitivity).toBeLessThan(certificationOf(viaLissa).sensitivity)
  })

  it('uses LiSSA above the cut, and refuses an exact solve asked for there', () => {
    const spec = specOf({ kind: 'logreg', inputs: 30, classes: 2 })
    const network = specOf({ kind: 'mlp', inputs: 30, hidden: [8], classes: 2 })
    expect(chooseSolver(spec, undefined)).toBe('exact')
    expect(chooseSolver(network, undefined)).toBe('exact')
    const lowered = { logreg: spec.size - 1, network: network.size - 1 }
    expect(chooseSolver(spec, undefined, lowered)).toBe('lissa')
    expect(chooseSolver(network, undefined, lowered)).toBe('lissa')
    expect(chooseSolver(spec, 'lissa')).toBe('lissa')
    expect(() => chooseSolver(spec, 'exact', lowered)).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/solver 'lissa'/) }),
    )
    expect(EXACT_SOLVE_LIMITS.logreg).toBeGreaterThanOrEqual(7850)
  })
})
