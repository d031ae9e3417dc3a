/**
 * Full-batch training of a convex recipe to its optimum: logistic regression with
 * F(θ) = (1/n) Σ_i CE(softmax(W1ᵀx_i + b1), y_i) + (l2/2)‖θ‖², solved by L-BFGS in float64.
 * With l2 > 0, F is strongly convex, so its optimum is unique: retraining without some rows
 * reaches exactly the model that never saw them, whatever the start. TF.js computes in float32,
 * whose rounding floors the gradient near 1e-6; plain loops in float64 go well below.
 */
import { LetheError } from '../contract'
import { lbfgsProblems } from '../contract/engine'
import type { ModelSpec } from './models/spec'
import type { TrainProgress } from './train'

/** How far, relative to ‖θ‖, the solution may be from the optimum (see `Convergence.distanceBound`). */
export const DEFAULT_TOLERANCE = 1e-6
export const MAX_LBFGS_ITERATIONS = 5000
/** Curvature pairs kept by L-BFGS. */
const MEMORY = 10
const ARMIJO = 1e-4
const MAX_BACKTRACKS = 40
/** How far below |F| a change is rounding, not a decrease: the line search tolerates it. */
const ROUNDING = 1e-14
const PROGRESS_EVERY_MS = 200

/** Where the solver stopped; the manifest of a version it trained records it. */
export interface Convergence {
  solver: 'lbfgs'
  converged: true
  iterations: number
  /** Loss and gradient evaluations, each a full pass over the rows. */
  evaluations: number
  loss: number
  /** ‖∇F(θ)‖ at the float64 solution. */
  gradientNorm: number
  /** tolerance·l2·max(1, ‖θ‖): the bound the gradient norm met. */
  threshold: number
  tolerance: number
  /**
   * How far the stored (float32) θ can be from the optimum θ*: F is l2-strongly convex, so
   * ‖θ64 − θ*‖ ≤ ‖∇F(θ64)‖ / l2, plus the rounding ‖θ32 − θ64‖. At most about tolerance·‖θ‖.
   */
  distanceBound: number
}

export interface ConvexProblem {
  features: Float32Array
  labels: Int32Array
  rows: Int32Array
  inputs: number
  classes: number
  l2: number
}

export interface ConvexOptions {
  tolerance?: number
  maxIterations?: number
  signal?: AbortSignal
  onProgress?: (progress: TrainProgress) => void
}

/** Refuses a recipe the solver cannot take, naming the option at fault. */
export function checkConvexRecipe(spec: ModelSpec, l2: number): void {
  const problems = lbfgsProblems({ arch: spec.arch.kind, optimizer: 'lbfgs', l2 })
  if (problems.length) throw new LetheError('BAD_INPUT', `${problems.join('; ')}.`, { problems })
}

/** The minimiser of F for a logistic regression, from `init`, or BAD_INPUT if it is not reached within the cap. */
export async function solveLogreg(
  problem: ConvexProblem,
  init: ArrayLike<number>,
  options: ConvexOptions = {},
): Promise<{ params: Float64Array; convergence: Convergence }> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE
  const maxIterations = options.maxIterations ?? MAX_LBFGS_ITERATIONS
  const size = (problem.inputs + 1) * problem.classes
  if (init.length !== size)
    throw new LetheError('BAD_INPUT', `Initial parameters have ${init.length} values; the model has ${size}.`)
  if (problem.rows.length === 0) throw new LetheError('BAD_INPUT', 'There are no rows to train on.')
  const cancelled = () => {
    if (options.signal?.aborted) throw new LetheError('CANCELLED', 'Training was cancelled.')
  }
  let evaluations = 0
  const evaluate = (theta: Float64Array) => {
    evaluations += 1
    return lossAndGradient(problem, theta)
  }
  let theta: Float64Array = Float64Array.from(init)
  let { loss, gradient } = evaluate(theta)
  const pairs: { s: Float64Array; y: Float64Array; rho: number }[] = []
  const started = performance.now()
  const initialNorm = norm(gradient)
  let lastReport = -Infinity
  let iteration = 0
  for (; ; iteration++) {
    const gradientNorm = norm(gradient)
    // Strong convexity turns a gradient bound into a distance bound: stop within tolerance·‖θ‖ of θ*.
    const threshold = tolerance * problem.l2 * Math.max(1, norm(theta))
    if (gradientNorm <= threshold) {
      const stored = Float32Array.from(theta)
      const rounding = Math.sqrt(theta.reduce((sum, v, i) => sum + (v - (stored[i] as number)) ** 2, 0))
      options.onProgress?.(progressAt(iteration, iteration, maxIterations, loss, 0))
      return {
        params: theta,
        convergence: {
          solver: 'lbfgs',
          converged: true,
          iterations: iteration,
          evaluations,
          loss,
          gradientNorm,
          threshold,
          tolerance,
          distanceBound: gradientNorm / problem.l2 + rounding,
        },
      }
    }
    if (iteration >= maxIterations)
      throw new LetheError(
        'BAD_INPUT',
        `L-BFGS did not converge within ${maxIterations} iterations: ‖∇F‖ = ${gradientNorm.toExponential(3)} is above tolerance·l2·max(1, ‖θ‖) = ${threshold.toExponential(3)}. Nothing was saved; raise l2 or the tolerance.`,
        { iterations: iteration, gradientNorm, threshold, tolerance },
      )
    cancelled()
    const now = performance.now()
    if (options.onProgress && now - lastReport > PROGRESS_EVERY_MS) {
      lastReport = now
      // Gradient norms fall about geometrically: the rate so far says how many iterations remain.
      const rate = iteration > 0 ? Math.log(initialNorm / gradientNorm) / iteration : 0
      const remaining = rate > 0 ? Math.ceil(Math.log(gradientNorm / threshold) / rate) : Number.NaN
      const total = Number.isFinite(remaining) ? iteration + remaining : Number.NaN
      const etaMs =
        iteration > 0 && Number.isFinite(remaining) ? ((now - started) / iteration) * remaining : Number.NaN
      options.onProgress(progressAt(iteration, total, maxIterations, loss, etaMs))
      await new Promise((resolve) => setImmediate(resolve)) // let a cancel message in
    }
    let direction = searchDirection(gradient, pairs)
    let slope = dot(gradient, direction)
    if (!(slope < 0)) {
      // Not a descent direction (rounding in the memory): start the memory again.
      pairs.length = 0
      direction = searchDirection(gradient, pairs)
      slope = dot(gradient, direction)
    }
    // The first step, along −∇F, is scaled to length 1 at most; later ones start at 1 (Newton-like).
    let step = iteration === 0 && pairs.length === 0 ? Math.min(1, 1 / gradientNorm) : 1
    let accepted: { theta: Float64Array; loss: number; gradient: Float64Array } | null = null
    for (let backtrack = 0; backtrack < MAX_BACKTRACKS; backtrack++) {
      const candidate = Float64Array.from(theta, (v, i) => v + step * (direction[i] as number))
      const next = evaluate(candidate)
      if (next.loss <= loss + ARMIJO * step * slope + ROUNDING * Math.abs(loss)) {
        accepted = { theta: candidate, ...next }
        break
      }
      // The minimiser of the quadratic through F(θ), its slope and F(θ + step·d), kept in [0.1, 0.5]·step.
      const quadratic = (-slope * step * step) / (2 * (next.loss - loss - slope * step))
      step = Math.min(0.5 * step, Math.max(0.1 * step, quadratic))
      cancelled()
    }
    if (!accepted)
      throw new LetheError(
        'BAD_INPUT',
        `L-BFGS's line search failed at iteration ${iteration}: ‖∇F‖ = ${gradientNorm.toExponential(3)}, above tolerance·l2·max(1, ‖θ‖) = ${threshold.toExponential(3)}. Nothing was saved; raise the tolerance.`,
        { iterations: iteration, gradientNorm, threshold, tolerance },
      )
    const s = Float64Array.from(accepted.theta, (v, i) => v - (theta[i] as number))
    const y = Float64Array.from(accepted.gradient, (v, i) => v - (gradient[i] as number))
    const curvature = dot(s, y)
    // Strong convexity makes sᵀy ≥ l2‖s‖² > 0; a pair below that is rounding and is skipped.
    if (curvature > 0) {
      pairs.push({ s, y, rho: 1 / curvature })
      if (pairs.length > MEMORY) pairs.shift()
    }
    theta = accepted.theta
    loss = accepted.loss
    gradient = accepted.gradient
  }
}

/** −H·∇F by the two-loop recursion, H the L-BFGS inverse-Hessian estimate. */
function searchDirection(gradient: Float64Array, pairs: { s: Float64Array; y: Float64Array; rho: number }[]) {
  const q = Float64Array.from(gradient)
  const alphas = new Float64Array(pairs.length)
  for (let i = pairs.length - 1; i >= 0; i--) {
    const { s, y, rho } = pairs[i] as (typeof pairs)[number]
    const alpha = rho * dot(s, q)
    alphas[i] = alpha
    for (let j = 0; j < q.length; j++) q[j] = (q[j] as number) - alpha * (y[j] as number)
  }
  const last = pairs.at(-1)
  const gamma = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1
  for (let j = 0; j < q.length; j++) q[j] = gamma * (q[j] as number)
  for (const [i, { s, y, rho }] of pairs.entries()) {
    const beta = rho * dot(y, q)
    const alpha = alphas[i] as number
    for (let j = 0; j < q.length; j++) q[j] = (q[j] as number) + (alpha - beta) * (s[j] as number)
  }
  for (let j = 0; j < q.length; j++) q[j] = -(q[j] as number)
  return q
}

/** `total` is an estimate (NaN while there is none); the loss curve's steps fall back to the cap. */
const progressAt = (
  iteration: number,
  total: number,
  cap: number,
  loss: number,
  etaMs: number,
): TrainProgress => ({
  epoch: iteration,
  epochs: total,
  step: iteration,
  steps: Number.isFinite(total) ? total : cap,
  loss,
  accuracy: Number.NaN,
  etaMs,
  fullBatch: true,
})

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number)
  return sum
}

const norm = (v: Float64Array) => Math.sqrt(dot(v, v))

/**
 * F(θ) and ∇F(θ) = X̃ᵀ(P − Y)/n + l2·θ in the flat layout W1 [inputs, classes] row-major, then
 * b1 [classes]. A zero feature contributes nothing, and is skipped (images are mostly zeros).
 */
export function lossAndGradient(
  problem: ConvexProblem,
  theta: Float64Array,
): { loss: number; gradient: Float64Array } {
  const { features, labels, rows, inputs, classes, l2 } = problem
  const n = rows.length
  const gradient = new Float64Array(theta.length)
  const z = new Float64Array(classes)
  const bias = inputs * classes
  let sum = 0
  for (let r = 0; r < n; r++) {
    const row = rows[r] as number
    const start = row * inputs
    for (let k = 0; k < classes; k++) z[k] = theta[bias + k] as number
    for (let j = 0; j < inputs; j++) {
      const x = features[start + j] as number
      if (x === 0) continue
      const offset = j * classes
      for (let k = 0; k < classes; k++) z[k] = (z[k] as number) + x * (theta[offset + k] as number)
    }
    let max = -Infinity
    for (let k = 0; k < classes; k++) max = Math.max(max, z[k] as number)
    const label = labels[row] as number
    let total = 0
    for (let k = 0; k < classes; k++) {
      const e = Math.exp((z[k] as number) - max)
      if (k === label) sum -= (z[k] as number) - max
      z[k] = e
      total += e
    }
    sum += Math.log(total)
    // z becomes the residual (p − y)/n, spread over x̃ = [x, 1].
    for (let k = 0; k < classes; k++) z[k] = ((z[k] as number) / total - (k === label ? 1 : 0)) / n
    for (let k = 0; k < classes; k++) gradient[bias + k] = (gradient[bias + k] as number) + (z[k] as number)
    for (let j = 0; j < inputs; j++) {
      const x = features[start + j] as number
      if (x === 0) continue
      const offset = j * classes
      for (let k = 0; k < classes; k++)
        gradient[offset + k] = (gradient[offset + k] as number) + x * (z[k] as number)
    }
  }
  let squared = 0
  for (let i = 0; i < theta.length; i++) {
    const v = theta[i] as number
    squared += v * v
    gradient[i] = (gradient[i] as number) + l2 * v
  }
  return { loss: sum / n + 0.5 * l2 * squared, gradient }
}
