/**
 * The optimum of a regularised logistic regression, for tests only: Newton's method with the
 * exact dense Hessian and a Cholesky solve, all in float64. It shares nothing with the engine's
 * solver (electron/engine/convex.ts), so it can judge it.
 *
 * F(θ) = (1/n) Σ_i CE(softmax(W1ᵀx_i + b1), y_i) + (l2/2)‖θ‖², in the engine's flat layout:
 * W1 [inputs, classes] row-major, then b1 [classes]. With x̃ = [x, 1], the entry (j, k) sits at
 * j·classes + k for the weights (j < inputs) and the bias (j = inputs) alike.
 */

const GRADIENT_TARGET = 1e-10
const MAX_ITERATIONS = 100

interface Evaluation {
  loss: number
  gradient: Float64Array
  /** Softmax probabilities, one row of `classes` per training row. */
  probabilities: Float64Array
}

export function exactLogregOptimum(
  features: Float32Array,
  labels: Int32Array,
  rows: Int32Array,
  inputs: number,
  classes: number,
  l2: number,
): { params: Float64Array; gradientNorm: number } {
  if (!(l2 > 0)) throw new Error('exactLogregOptimum needs l2 > 0: without it the optimum may not exist.')
  if (rows.length === 0) throw new Error('exactLogregOptimum needs at least one row.')
  const size = (inputs + 1) * classes
  const evaluate = (theta: Float64Array) =>
    lossAndGradient(features, labels, rows, inputs, classes, l2, theta)
  let theta = new Float64Array(size)
  let current = evaluate(theta)
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const gradientNorm = norm(current.gradient)
    if (gradientNorm <= GRADIENT_TARGET) return { params: theta, gradientNorm }
    const hessian = denseHessian(features, rows, inputs, classes, l2, current.probabilities)
    const step = choleskySolve(hessian, current.gradient, size)
    // Damped Newton: halve until the loss decreases; near the optimum rounding can hide the decrease,
    // so a step that shrinks the gradient is taken too.
    let scale = 1
    for (;;) {
      const candidate = Float64Array.from(theta, (v, i) => v - scale * (step[i] as number))
      const next = evaluate(candidate)
      if (next.loss < current.loss || norm(next.gradient) < gradientNorm || scale < 1e-12) {
        theta = candidate
        current = next
        break
      }
      scale /= 2
    }
  }
  const gradientNorm = norm(current.gradient)
  if (gradientNorm > GRADIENT_TARGET)
    throw new Error(
      `exactLogregOptimum did not reach ‖∇F‖ ≤ ${GRADIENT_TARGET} in ${MAX_ITERATIONS} Newton steps (‖∇F‖ = ${gradientNorm}).`,
    )
  return { params: theta, gradientNorm }
}

/**
 * ‖∇F(θ)‖ of the same loss at any θ, in float64. F is l2-strongly convex, so ‖θ − θ*‖ ≤ ‖∇F(θ)‖ / l2:
 * a bound on the distance to the optimum where the dense Hessian is too large to build.
 */
export function logregGradientNorm(
  features: Float32Array,
  labels: Int32Array,
  rows: Int32Array,
  inputs: number,
  classes: number,
  l2: number,
  params: ArrayLike<number>,
): number {
  return norm(
    lossAndGradient(features, labels, rows, inputs, classes, l2, Float64Array.from(params)).gradient,
  )
}

function norm(v: Float64Array): number {
  let sum = 0
  for (const x of v) sum += x * x
  return Math.sqrt(sum)
}

function lossAndGradient(
  features: Float32Array,
  labels: Int32Array,
  rows: Int32Array,
  inputs: number,
  classes: number,
  l2: number,
  theta: Float64Array,
): Evaluation {
  const n = rows.length
  const gradient = new Float64Array(theta.length)
  const probabilities = new Float64Array(n * classes)
  const z = new Float64Array(classes)
  const biasOffset = inputs * classes
  let loss = 0
  for (let r = 0; r < n; r++) {
    const row = rows[r] as number
    const x = row * inputs
    for (let k = 0; k < classes; k++) z[k] = theta[biasOffset + k] as number
    for (let j = 0; j < inputs; j++) {
      const xj = features[x + j] as number
      if (xj === 0) continue
      for (let k = 0; k < classes; k++) z[k] = (z[k] as number) + xj * (theta[j * classes + k] as number)
    }
    let max = -Infinity
    for (const v of z) max = Math.max(max, v)
    let total = 0
    for (let k = 0; k < classes; k++) total += Math.exp((z[k] as number) - max)
    const label = labels[row] as number
    loss += max + Math.log(total) - (z[label] as number)
    for (let k = 0; k < classes; k++) {
      const p = Math.exp((z[k] as number) - max) / total
      probabilities[r * classes + k] = p
      // ∂CE/∂z_k = p_k − y_k, spread over x̃.
      const residual = (p - (k === label ? 1 : 0)) / n
      gradient[biasOffset + k] = (gradient[biasOffset + k] as number) + residual
      for (let j = 0; j < inputs; j++) {
        const xj = features[x + j] as number
        if (xj !== 0) gradient[j * classes + k] = (gradient[j * classes + k] as number) + residual * xj
      }
    }
  }
  let squared = 0
  for (let i = 0; i < theta.length; i++) {
    const v = theta[i] as number
    squared += v * v
    gradient[i] = (gradient[i] as number) + l2 * v
  }
  return { loss: loss / n + 0.5 * l2 * squared, gradient, probabilities }
}

/** H = (1/n) Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ + l2·I, dense, row-major. */
function denseHessian(
  features: Float32Array,
  rows: Int32Array,
  inputs: number,
  classes: number,
  l2: number,
  probabilities: Float64Array,
): Float64Array {
  const size = (inputs + 1) * classes
  const n = rows.length
  const hessian = new Float64Array(size * size)
  const curvature = new Float64Array(classes * classes)
  const xTilde = new Float64Array(inputs + 1)
  for (let r = 0; r < n; r++) {
    const row = rows[r] as number
    for (let j = 0; j < inputs; j++) xTilde[j] = features[row * inputs + j] as number
    xTilde[inputs] = 1
    for (let k = 0; k < classes; k++) {
      const pk = probabilities[r * classes + k] as number
      for (let l = 0; l < classes; l++)
        curvature[k * classes + l] =
          ((k === l ? pk : 0) - pk * (probabilities[r * classes + l] as number)) / n
    }
    // Upper blocks only (j ≤ j2); the lower ones are mirrored below.
    for (let j = 0; j <= inputs; j++) {
      const xj = xTilde[j] as number
      if (xj === 0) continue
      for (let j2 = j; j2 <= inputs; j2++) {
        const s = xj * (xTilde[j2] as number)
        if (s === 0) continue
        for (let k = 0; k < classes; k++) {
          const base = (j * classes + k) * size + j2 * classes
          for (let l = 0; l < classes; l++)
            hessian[base + l] = (hessian[base + l] as number) + s * (curvature[k * classes + l] as number)
        }
      }
    }
  }
  for (let j = 0; j <= inputs; j++)
    for (let j2 = j + 1; j2 <= inputs; j2++)
      for (let k = 0; k < classes; k++)
        for (let l = 0; l < classes; l++)
          hessian[(j2 * classes + l) * size + j * classes + k] = hessian[
            (j * classes + k) * size + j2 * classes + l
          ] as number
  for (let i = 0; i < size; i++) hessian[i * size + i] = (hessian[i * size + i] as number) + l2
  return hessian
}

/**
 * Solves A·x = b for a symmetric positive-definite A (overwritten by its Cholesky factor): the
 * plain textbook loops, shared by tests that judge the engine's own solver.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, size: number): Float64Array {
  for (let j = 0; j < size; j++) {
    let diagonal = a[j * size + j] as number
    for (let k = 0; k < j; k++) diagonal -= (a[j * size + k] as number) ** 2
    if (!(diagonal > 0)) throw new Error('The Hessian is not positive definite.')
    const pivot = Math.sqrt(diagonal)
    a[j * size + j] = pivot
    for (let i = j + 1; i < size; i++) {
      let sum = a[i * size + j] as number
      for (let k = 0; k < j; k++) sum -= (a[i * size + k] as number) * (a[j * size + k] as number)
      a[i * size + j] = sum / pivot
    }
  }
  const y = new Float64Array(size)
  for (let i = 0; i < size; i++) {
    let sum = b[i] as number
    for (let k = 0; k < i; k++) sum -= (a[i * size + k] as number) * (y[k] as number)
    y[i] = sum / (a[i * size + i] as number)
  }
  const x = new Float64Array(size)
  for (let i = size - 1; i >= 0; i--) {
    let sum = y[i] as number
    for (let k = i + 1; k < size; k++) sum -= (a[k * size + i] as number) * (x[k] as number)
    x[i] = sum / (a[i * size + i] as number)
  }
  return x
}
