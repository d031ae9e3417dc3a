/**
 * Certified unlearning for deep networks (ALGORITHMS.md §3): one Newton step on the retained data,
 * then Gaussian noise calibrated to a bound Δ on the distance to the retrained model.
 *
 *   g  = ∇[mean CE over D_r + ½λ_wd‖θ‖²] at θ*
 *   θ̃  = θ* − (∇²L(θ*, D_r) + (λ_wd + λ)I)⁻¹ g
 *
 * The inverse is applied exactly (the Hessian built in float64 and factored by Cholesky) when the
 * model is small enough, by LiSSA past that ({@link chooseSolver}).
 *
 * The Hessian-vector products are the exact R-operator of second-order.ts (never TF.js nested
 * gradients), of L_j + ½(λ_wd + λ)‖θ‖², the SQUARED norm (the reference code's unsquared
 * Σ‖θ_ℓ‖ is a bug, §3.6.1). Unlike HF it needs nothing recorded during training but the
 * projection radius C, and it needs the retained data at deletion time.
 */
import type { z } from 'zod'
import { LetheError } from '../../contract'
import {
  certifiedConformity,
  type Certification as CertificationSchema,
  type UnlearnOptions,
} from '../../contract/engine'
import { guaranteeStrength } from '../../contract/guarantee'
import type { Dataset } from '../data/dataset'
import { choleskyInPlace, choleskySolve } from '../dense'
import { hessianFromHvps, logregHessian } from '../hessian'
import { evaluateRows, l2Norm } from '../metrics'
import { lossAndGradient } from '../models/forward'
import type { Architecture, ModelSpec } from '../models/spec'
import { loadModel } from '../models/store'
import { analyticGaussianSigma } from '../privacy'
import { Random } from '../random'
import { hvp, topEigenvalue } from '../second-order'
import { tf } from '../tf'
import type { TrainingData } from '../train'
import { certificationIn, chainRoot, chainState, releaseRecord } from './lineage'
import { accuracyFloor, addNoiseAboveFloor, FLOOR_PROBES } from './floor'
import type { UnlearnResult } from '../models/runs'
import type { Guarantee, UnlearnContext, UnlearningMethod } from './method'

type Certification = z.infer<typeof CertificationSchema>

const DEFAULTS = {
  epsilon: 1,
  delta: 1e-5,
  /** For a network (or an unregularised model); see {@link defaultLambda}. */
  lambda: 0.01,
  lissaDepth: 1000,
  lissaRepetitions: 1,
  lissaBatch: 128,
  hessianLipschitz: 1,
  failureProbability: 0.01,
  seed: 0,
}

/** Below this gradient norm the trained model counts as a stationary point of its training loss. */
const CONVERGED_GRADIENT = 1e-3
/** The spectrum is estimated on at most this many retained rows (a fixed subsample past it). */
const SPECTRUM_ROWS = 2048
/** Rows per chunk of the retained-set gradient. */
const GRADIENT_CHUNK = 4096

export type Solver = 'exact' | 'lissa'

/**
 * Largest parameter count d the Newton step solves exactly: the d × d Hessian in float64 (d²·8
 * bytes) and its Cholesky factor (d³/3 operations). Measured on 2 cores (npm run bench:certified
 * -- --parts newton): digits logreg, d = 650, builds in 0.55 s and factors in 0.12 s; Fashion-MNIST
 * logreg, d = 7,850 on 4,000 rows, in 29 s + 36 s and 0.5 GB, landing 2.5e-3 from the retrain
 * where LiSSA's defaults land 9.4e-2. Time grows as d³ and memory as d², so the issue's 20,000
 * would take ~16× as long and 3.2 GB: the cut sits just above the Fashion-MNIST logreg. A network
 * builds its Hessian from d HVPs over the retained rows: an MLP of d = 3,010 on 1,400 rows took
 * 13 s + 7 s, so its cut is 3,000.
 */
export const EXACT_SOLVE_LIMITS = { logreg: 8_000, network: 3_000 }

/** The solver a run uses: the one asked for, else exact up to the model's cut and LiSSA past it. */
export function chooseSolver(
  spec: ModelSpec,
  requested: Solver | undefined,
  limits: typeof EXACT_SOLVE_LIMITS = EXACT_SOLVE_LIMITS,
): Solver {
  const limit = spec.arch.kind === 'logreg' ? limits.logreg : limits.network
  if (requested === 'lissa' || (requested === undefined && spec.size > limit)) return 'lissa'
  if (spec.size > limit)
    throw new LetheError(
      'BAD_INPUT',
      `The exact solve holds the ${spec.size}×${spec.size} Hessian in float64 (${((spec.size * spec.size * 8) / 2 ** 30).toFixed(1)} GiB) and factors it in d³/3 operations; Lethe does that for a ${spec.arch.kind === 'logreg' ? 'logistic regression' : 'network'} of at most ${limit} parameters, and this one has ${spec.size}. Use solver 'lissa'.`,
      { parameters: spec.size, limit },
    )
  return 'exact'
}

/**
 * λ when none is given. A regularised logistic regression's Hessian is already ≻ λ_wd·I (softmax
 * CE is convex), so it needs no local-convexity term, and any λ > 0 moves the step away from the
 * retrained optimum; a network's Hessian may be indefinite, so it gets {@link DEFAULTS}.lambda.
 */
export function defaultLambda(arch: Architecture['kind'], lambdaWd: number): number {
  return arch === 'logreg' && lambdaWd > 0 ? 0 : DEFAULTS.lambda
}

export interface ExactSolveResult {
  /** (H + l2·I)⁻¹ g. */
  solution: Float64Array
  /** How the Hessian was built: analytically (logreg) or from d exact HVPs. */
  hessian: 'analytic' | 'hvp'
  buildMs: number
  factorMs: number
  ms: number
}

/**
 * (H + l2·I)⁻¹ g exactly, with H the Hessian of the mean CE over `rows` at θ, built in float64
 * ({@link logregHessian}, or {@link hessianFromHvps} for a network) and factored by Cholesky. A
 * failed factorisation proves H + l2·I is not positive definite on these rows.
 */
export async function exactSolve(
  spec: ModelSpec,
  params: Float32Array,
  dataset: Pick<Dataset, 'features'>,
  data: TrainingData,
  rows: Int32Array,
  g: Float32Array,
  l2: number,
  signal?: AbortSignal,
): Promise<ExactSolveResult> {
  const started = performance.now()
  const analytic = spec.arch.kind === 'logreg'
  let H: Float64Array
  if (analytic) H = logregHessian(spec, params, dataset.features, rows, l2)
  else {
    const index = tf.tensor1d(rows, 'int32')
    const x = tf.gather(data.x, index) as tf.Tensor2D
    const y = tf.gather(data.y, index) as tf.Tensor1D
    index.dispose()
    try {
      H = await hessianFromHvps(spec, params, x, y, l2, signal)
    } finally {
      x.dispose()
      y.dispose()
    }
  }
  const built = performance.now()
  if (signal?.aborted) throw new LetheError('CANCELLED', 'Unlearning was cancelled.')
  try {
    choleskyInPlace(H, spec.size)
  } catch (error) {
    if (!(error instanceof LetheError) || error.code !== 'CONFLICT') throw error
    throw new LetheError(
      'CONFLICT',
      `The Hessian of the retained loss plus ${l2.toPrecision(3)}·I is not positive definite at θ* (${error.message}), so the local convex approximation does not hold: raise λ.`,
      error.details,
    )
  }
  const factored = performance.now()
  const solution = choleskySolve(H, spec.size, g)
  const done = performance.now()
  return {
    solution,
    hessian: analytic ? 'analytic' : 'hvp',
    buildMs: built - started,
    factorMs: factored - built,
    ms: done - started,
  }
}

/**
 * ‖∇[L(θ*, D) + ½λ_wd‖θ*‖²]‖ of the trained model θ*, which decides the converged case. On the
 * chain's first request the step starts at θ*, so the retained gradient `g` and the forgotten
 * rows' gradient make it up without another pass over the data; later requests inherit it from
 * the previous release's record (`parent`).
 */
async function trainedGradientNorm(
  context: UnlearnContext,
  g: Float32Array,
  l2: number,
  parent: UnlearnResult | null,
): Promise<number> {
  const { spec, original, data, forgetRows, retainRows } = context
  if (parent) {
    const inherited = (parent.details.convergence as { trainedGradientNorm?: number } | undefined)
      ?.trainedGradientNorm
    if (typeof inherited !== 'number')
      throw new LetheError(
        'CORRUPT',
        `The record of ${original.manifest.id} does not say whether training converged.`,
      )
    return inherited
  }
  const forgotten = await retainedGradient(spec, original.params, data, forgetRows, l2)
  const n = forgetRows.length + retainRows.length
  const full = new Float32Array(g.length)
  for (let j = 0; j < full.length; j++)
    full[j] = ((g[j] as number) * retainRows.length + (forgotten[j] as number) * forgetRows.length) / n
  return l2Norm(full)
}

/** ∇[mean CE over `rows` + ½l2‖θ‖²] at θ, in chunks (float32). */
export async function retainedGradient(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  rows: Int32Array,
  l2: number,
): Promise<Float32Array> {
  const total = new Float64Array(spec.size)
  const theta = tf.tensor1d(params)
  try {
    for (let start = 0; start < rows.length; start += GRADIENT_CHUNK) {
      const chunk = rows.subarray(start, start + GRADIENT_CHUNK)
      const grad = tf.tidy(() => {
        const index = tf.tensor1d(chunk, 'int32')
        const x = tf.gather(data.x, index) as tf.Tensor2D
        const y = tf.gather(data.y, index) as tf.Tensor1D
        const { grad } = lossAndGradient(spec, theta, x, y, 0)
        return tf.mul(grad, chunk.length / rows.length)
      })
      const values = (await grad.data()) as Float32Array
      grad.dispose()
      for (let j = 0; j < values.length; j++) total[j] = (total[j] as number) + (values[j] as number)
    }
  } finally {
    theta.dispose()
  }
  const out = new Float32Array(spec.size)
  for (let j = 0; j < out.length; j++) out[j] = (total[j] as number) + l2 * (params[j] as number)
  return out
}

export interface LissaOptions {
  /** H: must bound the norm of every stochastic Hessian sample (plus l2), or the recursion diverges. */
  scale: number
  depth: number
  repetitions: number
  /** Rows per Hessian sample, drawn with replacement; ≥ rows.length uses all of them every step. */
  batchSize: number
  /** The L2 coefficient of the Hessian: λ_wd + λ. */
  l2: number
  seed?: number
  signal?: AbortSignal
}

export interface LissaResult {
  /** ≈ (H + l2·I)⁻¹ g. */
  solution: Float32Array
  /** ‖h‖ at the checkpoints of the first repetition (for the report), with the step. */
  trace: { step: number; norm: number }[]
  ms: number
}

/**
 * LiSSA (ALGORITHMS.md §3.2, the code's form): per repetition h ← g, then for j = 1..depth
 * h ← g + h − (∇²L_j + l2·I)h / scale, with L_j the mean CE of a batch drawn with replacement;
 * the repetitions' h/scale are averaged. The HVPs are the exact R-operator ({@link hvp}).
 *
 * Divergence is monitored: when every sample's ‖I − A_j/scale‖ ≤ 1, ‖h_j‖ ≤ (j + 1)‖g‖. A larger
 * ‖h‖ (or a non-finite one) proves the scale too small, and LiSSA stops with a LetheError.
 */
export async function lissa(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  rows: Int32Array,
  g: Float32Array,
  options: LissaOptions,
): Promise<LissaResult> {
  const started = performance.now()
  const { scale, depth, repetitions, l2 } = options
  if (!(scale > 0) || !Number.isFinite(scale))
    throw new LetheError('BAD_INPUT', `The LiSSA scale must be a positive number, not ${scale}.`)
  if (!(depth >= 1) || !(repetitions >= 1))
    throw new LetheError('BAD_INPUT', 'LiSSA needs a depth and a number of repetitions of at least 1.')
  if (rows.length === 0) throw new LetheError('BAD_INPUT', 'LiSSA needs retained rows to sample from.')
  const full = options.batchSize >= rows.length
  const random = new Random(options.seed ?? DEFAULTS.seed)
  const gNorm = l2Norm(g)
  const checkEvery = Math.max(1, Math.floor(depth / 20))
  const theta = tf.tensor1d(params)
  const gt = tf.tensor2d(g, [1, spec.size])
  const fixed = full
    ? tf.tidy(() => {
        const index = tf.tensor1d(rows, 'int32')
        return { x: tf.gather(data.x, index) as tf.Tensor2D, y: tf.gather(data.y, index) as tf.Tensor1D }
      })
    : null
  const sum = new Float64Array(spec.size)
  const trace: LissaResult['trace'] = []
  try {
    for (let r = 0; r < repetitions; r++) {
      let h = tf.clone(gt)
      try {
        for (let j = 1; j <= depth; j++) {
          if (options.signal?.aborted) throw new LetheError('CANCELLED', 'Unlearning was cancelled.')
          let batch: Int32Array | null = null
          if (!fixed) {
            batch = new Int32Array(options.batchSize)
            for (let i = 0; i < batch.length; i++) batch[i] = rows[random.int(rows.length)] as number
          }
          const current = h
          const next = tf.tidy(() => {
            let x = fixed?.x
            let y = fixed?.y
            if (batch) {
              const index = tf.tensor1d(batch, 'int32')
              x = tf.gather(data.x, index) as tf.Tensor2D
              y = tf.gather(data.y, index) as tf.Tensor1D
            }
            const hv = hvp(spec, theta, x as tf.Tensor2D, y as tf.Tensor1D, l2, current)
            return tf.add(gt, tf.sub(current, tf.div(hv, scale))) as tf.Tensor2D
          })
          current.dispose()
          h = next
          if (j % checkEvery === 0 || j === depth) {
            const size = tf.tidy(() => tf.norm(h).dataSync()[0] as number)
            if (r === 0) trace.push({ step: j, norm: size })
            if (!Number.isFinite(size) || size > (j + 1) * gNorm * 1.001 + 1e-12)
              throw new LetheError(
                'BAD_INPUT',
                `LiSSA diverged: ‖h‖ grew to ${size.toPrecision(3)} after ${j} of ${depth} steps, more than the ${(j + 1).toString()}·‖g‖ = ${((j + 1) * gNorm).toPrecision(3)} it can reach when the scale H = ${scale} bounds the Hessian. The scale is below the top eigenvalue of the (mini-batch) Hessian; raise the LiSSA scale.`,
                { step: j, norm: size, scale },
              )
          }
        }
        const values = (await h.data()) as Float32Array
        for (let k = 0; k < sum.length; k++) sum[k] = (sum[k] as number) + (values[k] as number)
      } finally {
        h.dispose()
      }
    }
  } finally {
    theta.dispose()
    gt.dispose()
    fixed?.x.dispose()
    fixed?.y.dispose()
  }
  const solution = new Float32Array(spec.size)
  for (let k = 0; k < solution.length; k++) solution[k] = (sum[k] as number) / (repetitions * scale)
  return { solution, trace, ms: performance.now() - started }
}

/** The constants the bound is computed from. */
export interface BoundConstants {
  /** C: radius of the weight-norm ball. */
  radius: number
  /** M: Lipschitz constant of the Hessian. */
  hessianLipschitz: number
  /** λ: local-convexity coefficient. */
  lambda: number
  /** λ_min: smallest eigenvalue of the Hessian at θ*. */
  lambdaMin: number
  /** L: Lipschitz constant of the gradient. */
  gradientLipschitz: number
  /** d: number of parameters. */
  dimension: number
  /** How the Newton step was solved: the LiSSA term (and ρ) enters Δ only for 'lissa'. */
  solver: Solver
  /** ρ: LiSSA's failure probability. */
  failureProbability: number
  /** ‖∇L(θ*, D_r)‖ when training did not converge; absent (or 0) when it did. */
  retainedGradientNorm?: number
}

/**
 * Δ, the bound on ‖θ̃ − θ_retrain‖ the noise is calibrated to. [UNCONFIRMED] This is the
 * reconstruction of ALGORITHMS.md §3.1 from a third-party restatement (R2D Table 16); the
 * paper's own statement could not be read:
 *
 *   Δ = 2C(MC + λ)/(λ + λ_min)                                 exact-inverse error (Thm 3.4)
 *     [+ 2LC·(16·√(ln(d/ρ))/(λ + λ_min) + 1/16)                LiSSA error, probability ≥ 1 − ρ]
 *     [+ ‖∇L(θ*, D_r)‖/(λ + λ_min)                             non-convergent training]
 *
 * With the exact solve (Cholesky in float64) the step is the exact inverse Thm 3.4 is about: the
 * LiSSA term and its failure probability ρ drop out.
 *
 * Requires λ + λ_min > 0.
 */
export function certifiedBound(k: BoundConstants): number {
  const curvature = k.lambda + k.lambdaMin
  if (!(curvature > 0))
    throw new LetheError(
      'CONFLICT',
      `λ + λ_min = ${curvature.toPrecision(3)} is not positive: the local convex approximation does not hold. Raise λ above ${(-k.lambdaMin).toPrecision(3)}.`,
    )
  const C = k.radius
  const exact = (2 * C * (k.hessianLipschitz * C + k.lambda)) / curvature
  const lissaTerm =
    k.solver === 'exact'
      ? 0
      : 2 *
        k.gradientLipschitz *
        C *
        ((16 * Math.sqrt(Math.log(k.dimension / k.failureProbability))) / curvature + 1 / 16)
  const nonConvergent = (k.retainedGradientNorm ?? 0) / curvature
  return exact + lissaTerm + nonConvergent
}

function guaranteeOf(
  certification: Certification,
  converged: boolean,
  arch: ModelSpec['arch']['kind'],
  solver: Solver,
): Guarantee {
  if (!certification.noise)
    return {
      kind: 'empirical',
      strength: 'none',
      meaning: `Not certified: the calibrated noise was switched off for measurement. The model is one Newton step (${solver === 'exact' ? 'exact Hessian solve' : 'LiSSA'}) towards retraining without the rows, and nothing bounds what remains.`,
    }
  const { epsilon, delta, sigma, sensitivity: bound } = certification
  const scope =
    arch === 'logreg'
      ? 'The loss (L2-regularised softmax regression) is convex.'
      : 'The network’s loss is not convex: the bound rests on λ + λ_min > 0 with λ_min estimated, not proven.'
  return {
    kind: 'certified',
    epsilon,
    delta,
    strength: guaranteeStrength(epsilon),
    meaning: `Gaussian noise of σ = ${sigma.toPrecision(3)} on every parameter (analytic Gaussian mechanism (Balle & Wang)) hides any difference up to Δ = ${bound.toPrecision(3)} between this model and one retrained without the removed rows${solver === 'lissa' ? ", with probability 1 − ρ over LiSSA's sampling" : ' (the Newton step was solved exactly, so no failure probability applies)'}. The form of Δ is [UNCONFIRMED]: reconstructed from a third-party restatement of the paper's theorem. ${converged ? 'Converged case: the trained model was a stationary point of its loss.' : 'Non-convergent case: the trained model was not a stationary point, so ‖∇L(θ*, D_r)‖/(λ + λ_min) is added to Δ.'} ${scope}`,
  }
}

export const certifiedMethod: UnlearningMethod<UnlearnOptions['certified']> = {
  name: 'certified',
  label: 'Certified DNN: Newton step with noise',
  description:
    'Certified unlearning for deep networks: one Newton step on the retained data (the Hessian solved exactly in float64 for small models, applied by LiSSA past that), then Gaussian noise calibrated to a bound on the distance to retraining, for an (ε, δ) guarantee. It needs a model trained with Adam and a projection onto a ball (radius C), or a logistic regression trained to its optimum by L-BFGS, and the retained data at deletion time; no statistics are recorded. Its bound is loose, so the noise often costs accuracy: Lethe refuses when it would.',
  guarantee: (options): Guarantee =>
    options.noise === false
      ? { kind: 'empirical', strength: 'none', meaning: 'Not certified: noise switched off for measurement.' }
      : {
          kind: 'certified',
          epsilon: options.epsilon ?? DEFAULTS.epsilon,
          delta: options.delta ?? DEFAULTS.delta,
          strength: guaranteeStrength(options.epsilon ?? DEFAULTS.epsilon),
          meaning:
            'Calibrated Gaussian noise hides the difference from a model retrained without the rows (bound [UNCONFIRMED]).',
        },

  async unlearn(context, options) {
    const started = performance.now()
    const { spec, original, forgetRows, retainRows, data, dataset, modelsDir } = context
    if (!modelsDir) throw new LetheError('INTERNAL', 'Certified unlearning needs the models folder.')
    const epsilon = options.epsilon ?? DEFAULTS.epsilon
    const delta = options.delta ?? DEFAULTS.delta
    const noise = options.noise !== false
    const depth = Math.floor(options.lissaDepth ?? DEFAULTS.lissaDepth)
    const repetitions = Math.floor(options.lissaRepetitions ?? DEFAULTS.lissaRepetitions)
    const batchSize = Math.floor(options.lissaBatch ?? DEFAULTS.lissaBatch)
    const M = options.hessianLipschitz ?? DEFAULTS.hessianLipschitz
    const rho = options.failureProbability ?? DEFAULTS.failureProbability
    if (!(rho > 0 && rho < 1)) throw new LetheError('BAD_INPUT', `ρ must lie in (0, 1), not ${rho}.`)

    const root = await chainRoot(
      modelsDir,
      original.manifest,
      { name: 'certified', label: 'certified unlearning' },
      'No bound covers another method’s change; retrain the model instead.',
    )
    const config = root.training
    if (noise) {
      const problems = certifiedConformity({ method: root.method, arch: spec.arch.kind, ...config })
      if (problems.length)
        throw new LetheError(
          'CONFLICT',
          `${root.id} cannot get a certified (noisy) release: ${problems.join('; ')}. Train it again with "--prepare certified" (Adam, projection radius C; or L-BFGS for a logistic regression), or run with noise off to measure only.`,
          { problems },
        )
    }
    const earlier = new Set(original.manifest.forgottenRows)
    const fresh = Array.from(forgetRows).filter((row) => !earlier.has(row))
    if (fresh.length === 0)
      throw new LetheError('BAD_INPUT', 'These rows were already removed from this model.')
    const parent = await releaseRecord(modelsDir, original.manifest)
    const sigmaBefore = parent ? certificationIn(parent).sigma : 0

    const lambdaWd = config.l2
    const lambda = options.lambda ?? defaultLambda(spec.arch.kind, lambdaWd)
    if (!(lambda >= 0)) throw new LetheError('BAD_INPUT', `λ must be ≥ 0, not ${lambda}.`)
    const solver = chooseSolver(spec, options.solver)
    // A logistic regression solved to its optimum has no projection: ‖θ*‖ stands in for C.
    const convexOptimum = config.optimizer === 'lbfgs' && spec.arch.kind === 'logreg'
    // Each Newton step starts from the previous noiseless estimate, never from a noisy release (§3.4).
    const theta = await chainState(modelsDir, original, parent)
    context.onProgress?.({ epoch: 0, epochs: 1, step: 0, steps: 1, loss: NaN, accuracy: NaN, etaMs: 0 })
    const spectrumStarted = performance.now()

    // Spectrum of ∇²[L(θ*, D_r) + ½λ_wd‖θ‖²] on (a subsample of) the retained rows.
    const spectrumRows =
      retainRows.length <= SPECTRUM_ROWS
        ? retainRows
        : Int32Array.from(new Random(1).shuffle(retainRows).slice(0, SPECTRUM_ROWS)).sort()
    // Softmax CE is convex, so for logreg λ_wd is a proven lower bound and the low end is not estimated.
    const analyticLow = spec.arch.kind === 'logreg'
    const spectrum = tf.tidy(() => {
      const index = tf.tensor1d(spectrumRows, 'int32')
      const x = tf.gather(data.x, index) as tf.Tensor2D
      const y = tf.gather(data.y, index) as tf.Tensor1D
      const t = tf.tensor1d(theta)
      const settings = { iterations: 200, tolerance: 1e-3, seed: 7 }
      const top = topEigenvalue(spec, t, x, y, lambdaWd, settings)
      if (analyticLow) return { high: top.value, low: lambdaWd }
      const other = topEigenvalue(spec, t, x, y, lambdaWd, { ...settings, shift: top.value })
      return { low: Math.min(top.value, other.value), high: Math.max(top.value, other.value) }
    })
    const spectrumMs = performance.now() - spectrumStarted
    const lambdaMin = spectrum.low
    const gradientLipschitz = Math.max(Math.abs(spectrum.high), Math.abs(spectrum.low))
    const topOfLissaHessian = spectrum.high + lambda
    const scale = options.lissaScale ?? 2 * topOfLissaHessian
    if (solver === 'lissa' && !(scale >= topOfLissaHessian))
      throw new LetheError(
        'BAD_INPUT',
        `The LiSSA scale H = ${scale} is below the top eigenvalue of the Hessian plus λ (${topOfLissaHessian.toPrecision(4)}, by power iteration): LiSSA would diverge. Raise it to at least ${topOfLissaHessian.toPrecision(3)}.`,
      )
    if (!(lambda + lambdaMin > 0))
      throw new LetheError(
        'CONFLICT',
        `The Hessian's smallest eigenvalue is about ${lambdaMin.toPrecision(3)}, so λ = ${lambda} does not make the local approximation convex (λ + λ_min ≤ 0). Raise λ above ${(-lambdaMin).toPrecision(3)}.`,
      )

    // The Newton step.
    const gradientStarted = performance.now()
    const g = await retainedGradient(spec, theta, data, retainRows, lambdaWd)
    const gNorm = l2Norm(g)
    const trainedGradient = await trainedGradientNorm(context, g, lambdaWd, parent)
    const converged = trainedGradient <= CONVERGED_GRADIENT
    const gradientMs = performance.now() - gradientStarted
    const solved =
      solver === 'exact'
        ? await exactSolve(spec, theta, dataset, data, retainRows, g, lambdaWd + lambda, context.signal)
        : await lissa(spec, theta, data, retainRows, g, {
            scale,
            depth,
            repetitions,
            batchSize,
            l2: lambdaWd + lambda,
            seed: options.seed ?? DEFAULTS.seed,
            signal: context.signal,
          })
    const params = new Float32Array(theta.length)
    for (let j = 0; j < params.length; j++) params[j] = (theta[j] as number) - (solved.solution[j] as number)

    const estimate = Float32Array.from(params)

    // The bound: the same for every request in the chain (Prop. 4.2: the norm constraint bounds it).
    const C = config.projectRadius ?? l2Norm(theta)
    const bound = certifiedBound({
      radius: C,
      hessianLipschitz: M,
      lambda,
      lambdaMin,
      gradientLipschitz,
      dimension: spec.size,
      solver,
      failureProbability: rho,
      retainedGradientNorm: converged ? 0 : gNorm,
    })
    const sigma = noise ? analyticGaussianSigma(epsilon, delta, bound) : 0

    // Utility floor (floor.ts): the noise is added only if the release stays useful.
    const trained =
      root.id === original.manifest.id ? original.params : (await loadModel(modelsDir, root.id)).params
    const floor = await accuracyFloor(spec, data, dataset, trained, options.accuracyFloor)
    // Fresh noise on the noiseless estimate: a release never carries an earlier release's draw.
    const { topUp, floorCheck } = noise
      ? await addNoiseAboveFloor(
          {
            spec,
            data,
            dataset,
            estimate,
            sigma,
            sigmaBefore: 0,
            floor,
            release: 'certified release',
            noise: `σ = ${sigma.toPrecision(3)} for Δ = ${bound.toPrecision(3)} at ε = ${epsilon}`,
            advice: 'Retrain the model without these rows instead (exact retraining).',
          },
          params,
        )
      : { topUp: 0, floorCheck: null }
    const testAccuracy = (await evaluateRows(spec, params, data, dataset.test)).accuracy
    const thetaNorm = l2Norm(trained)
    const deleted = forgetRows.length
    const lissaConstants: Certification['constants'] = [
      {
        symbol: 'H',
        name: 'LiSSA scale',
        value: scale,
        source: 'set',
        note: `${options.lissaScale === undefined ? 'twice' : 'given; checked ≥'} the top eigenvalue of the Hessian + λ (${topOfLissaHessian.toPrecision(4)}, power iteration on ${spectrumRows.length} retained rows)`,
      },
      {
        symbol: 's',
        name: 'LiSSA depth',
        value: depth,
        source: 'set',
        note: `${repetitions} repetition(s) averaged, ${batchSize >= retainRows.length ? 'the whole retained set' : `batches of ${batchSize} rows`} per Hessian sample`,
      },
    ]
    const certification: Certification = {
      noise,
      epsilon,
      delta,
      sensitivity: bound,
      sigma,
      sigmaBefore,
      topUp,
      relativeNoise: (sigma * Math.sqrt(spec.size)) / thetaNorm,
      noiseLimit: floor.floor,
      rowsThisRequest: fresh.length,
      rowsDeleted: deleted,
      capacityRows: deleted,
      constants: [
        { symbol: 'ε', name: 'privacy loss', value: epsilon, source: 'set', note: 'asked for this release' },
        {
          symbol: 'δ',
          name: 'failure probability',
          value: delta,
          source: 'set',
          note: 'asked for this release',
        },
        {
          symbol: 'C',
          name: 'weight-norm radius',
          value: C,
          source: config.projectRadius === null ? 'measured' : 'set',
          note:
            config.projectRadius !== null
              ? 'the projection radius of training (‖θ‖ ≤ C after every step)'
              : convexOptimum
                ? 'no projection: the measured ‖θ*‖ of the L-BFGS optimum stands in (measured, not a proven bound on the retrained model’s norm)'
                : 'no projection in training: ‖θ*‖ stands in, and nothing is certified',
        },
        {
          symbol: 'λ',
          name: 'local-convexity term',
          value: lambda,
          source: 'set',
          note: `added to the Hessian: H + λI; ${options.lambda !== undefined ? 'given' : lambda === 0 ? 'default 0, as the regularised logistic loss is strongly convex already (λ_min ≥ λ_wd)' : 'default for a network'}`,
        },
        {
          symbol: 'λ_wd',
          name: 'weight decay',
          value: lambdaWd,
          source: 'set',
          note: 'the L2 coefficient of training, ½λ_wd‖θ‖² (squared norm)',
        },
        ...(solver === 'lissa' ? lissaConstants : []),
        analyticLow
          ? {
              symbol: 'λ_min',
              name: 'smallest Hessian eigenvalue',
              value: lambdaMin,
              source: 'set',
              note: 'the weight decay, a proven lower bound (softmax cross-entropy is convex)',
            }
          : {
              symbol: 'λ_min',
              name: 'smallest Hessian eigenvalue',
              value: lambdaMin,
              source: 'estimated',
              note: `shifted power iteration on ${spectrumRows.length} retained rows; negative means the loss is not convex at θ*`,
            },
        {
          symbol: 'L',
          name: 'gradient Lipschitz constant',
          value: gradientLipschitz,
          source: 'estimated',
          note: 'largest |eigenvalue| of the Hessian at θ* (power iteration), not a global bound',
        },
        {
          symbol: 'M',
          name: 'Hessian Lipschitz constant',
          value: M,
          source: 'assumed',
          note: `${options.hessianLipschitz === undefined ? 'default' : 'given'} value, not measured (option hessianLipschitz)`,
        },
        ...(solver === 'lissa'
          ? [
              {
                symbol: 'ρ',
                name: 'LiSSA failure probability',
                value: rho,
                source: 'set' as const,
                note: 'the bound holds with probability 1 − ρ',
              },
            ]
          : []),
        {
          symbol: 'd',
          name: 'parameters',
          value: spec.size,
          source: 'set',
          note:
            solver === 'lissa'
              ? 'enters the LiSSA term as ln(d/ρ)'
              : `the Hessian solved exactly is d × d (${(solved as ExactSolveResult).hessian === 'analytic' ? 'built analytically' : 'built from d exact HVPs'}, float64, Cholesky)`,
        },
        {
          symbol: '‖∇L(θ*)‖',
          name: 'trained model’s gradient norm',
          value: trainedGradient,
          source: 'measured',
          note: converged
            ? `at most ${CONVERGED_GRADIENT}: the converged case`
            : `above ${CONVERGED_GRADIENT}: the non-convergent case, ‖∇L(θ*, D_r)‖/(λ + λ_min) = ${(gNorm / (lambda + lambdaMin)).toPrecision(3)} added to Δ`,
        },
        {
          symbol: 'Δ_k',
          name: 'this request’s bound',
          value: bound,
          source: 'estimated',
          note: '[UNCONFIRMED] form; the same for every request in the chain (Prop. 4.2)',
        },
      ],
      assumptions: [
        solver === 'lissa'
          ? 'The form of Δ is [UNCONFIRMED]: 2C(MC + λ)/(λ + λ_min) + 2LC(16√ln(d/ρ)/(λ + λ_min) + 1/16), reconstructed from a third-party restatement of the paper’s Theorem 3.4 and its LiSSA error; it was not checked against the paper.'
          : 'The form of Δ is [UNCONFIRMED]: 2C(MC + λ)/(λ + λ_min), reconstructed from a third-party restatement of the paper’s Theorem 3.4 (the exact-inverse step); it was not checked against the paper.',
        'σ comes from Δ and (ε, δ) by the analytic Gaussian mechanism (Balle & Wang), valid for every ε > 0.',
        'M (the Hessian’s Lipschitz constant) is assumed, not measured; L and λ_min are estimated at θ* by power iteration, not proven global constants.',
        converged
          ? 'Converged case: the trained model’s gradient norm was about 0, so θ* is taken for a stationary point.'
          : 'Non-convergent case: the trained model’s gradient norm was not about 0, so ‖∇L(θ*, D_r)‖/(λ + λ_min) was added to Δ.',
        'Sequential requests: each Newton step starts from the previous noiseless estimate (kept privately beside the release, never published) on the current retained data, and the bound is the same as for one request (the paper’s Prop. 4.2: the weight-norm constraint bounds it). Each release carries its own fresh noise; someone who sees several releases sees the composition of their guarantees.',
        `Lethe publishes only when the mean test accuracy of ${FLOOR_PROBES} unpublished noise draws and that of the published draw itself reach the floor of ${(100 * floor.floor).toFixed(1)}%. There is no closed-form deletion capacity: the capacity shown is the rows deleted so far.`,
        solver === 'lissa'
          ? 'The Newton step applied (H + λI)⁻¹ by LiSSA: the guarantee holds with probability 1 − ρ over LiSSA’s sampling.'
          : 'The Newton step solved (H + λI)x = g exactly (the Hessian in float64, factored by Cholesky, which also proves H + λI positive definite on the retained rows): LiSSA’s error term is not in Δ and its failure probability ρ does not apply.',
      ],
    }
    return {
      params,
      guarantee: guaranteeOf(certification, converged, spec.arch.kind, solver),
      details: {
        certification,
        convergence: {
          case: converged ? 'converged' : 'nonconvergent',
          trainedGradientNorm: trainedGradient,
        },
        solver,
        gradientNorm: gNorm,
        stepNorm: l2Norm(solved.solution),
        ...('trace' in solved
          ? { lissa: { scale, depth, repetitions, batchSize, trace: solved.trace } }
          : { exact: { hessian: solved.hessian, buildMs: solved.buildMs, factorMs: solved.factorMs } }),
        /** ‖θ̃‖ before the noise: the Newton step may leave the ball ‖θ‖ ≤ C. */
        estimateNorm: l2Norm(estimate),
        testAccuracy,
        ...(floorCheck && { floorCheck }),
        timings: { spectrumMs, gradientMs, solveMs: solved.ms, applyMs: performance.now() - started },
      },
      ...(noise && { noiseless: estimate }),
    }
  },
}
