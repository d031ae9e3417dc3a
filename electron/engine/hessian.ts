/**
 * The dense Hessian of the training loss L(θ) = mean softmax CE over some rows + (l2/2)‖θ‖², in
 * float64, for the certified Newton step's exact solve (small models only: it takes d² entries).
 *
 * - Logistic regression, analytically: with x̃ = [x, 1] and p_i the softmax of row i,
 *   H = (1/n) Σ_i (diag p_i − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ + l2·I. In the flat layout (W1 [inputs, classes]
 *   row-major, then b1) entry (d·C + c, e·C + c′) is G_cc′[d, e] + l2·[same index], where
 *   G_cc′ = (1/n) X̃ᵀ diag(w_cc′) X̃ with w_cc′,i = p_ic·([c = c′] − p_ic′): one weighted Gram
 *   matrix per pair of classes, built by 4 × 4 tiles of row dot products.
 * - Any other model, column by column from the exact Hessian-vector products of second-order.ts
 *   (d HVPs over the rows, float32), symmetrised in float64.
 */
import { LetheError } from '../contract'
import { tileDots } from './dense'
import type { ModelSpec } from './models/spec'
import { hvp, hvpChunkRows } from './second-order'
import { tf } from './tf'

/** Columns of the data matrix per pass of the Gram tiles: 8 rows of 1024 doubles stay in L1/L2. */
const GRAM_CHUNK = 1024

/** `out[a, b] += Σ_k wx[a, k]·x[b, k]` for a ≤ b (a, b < m; k over [from, to)), rows of length `stride`. */
function addUpperGram(
  wx: Float64Array,
  x: Float64Array,
  m: number,
  stride: number,
  from: number,
  to: number,
  out: Float64Array,
): void {
  const sums = new Float64Array(16)
  for (let a0 = 0; a0 < m; a0 += 4) {
    const p0 = a0 * stride
    const p1 = Math.min(a0 + 1, m - 1) * stride
    const p2 = Math.min(a0 + 2, m - 1) * stride
    const p3 = Math.min(a0 + 3, m - 1) * stride
    for (let b0 = a0; b0 < m; b0 += 4) {
      const q0 = b0 * stride
      const q1 = Math.min(b0 + 1, m - 1) * stride
      const q2 = Math.min(b0 + 2, m - 1) * stride
      const q3 = Math.min(b0 + 3, m - 1) * stride
      tileDots(wx, p0, p1, p2, p3, x, q0, q1, q2, q3, from, to, sums)
      // Tiles past the edge repeat the last row: only real entries, and only a ≤ b, are added.
      for (let r = 0; r < 4 && a0 + r < m; r++)
        for (let c = 0; c < 4 && b0 + c < m; c++) {
          const a = a0 + r
          const b = b0 + c
          if (a <= b) out[a * m + b] = (out[a * m + b] as number) + (sums[4 * r + c] as number)
        }
    }
  }
}

/**
 * The exact Hessian of a logistic regression's loss over `rows` of `features` (row-major, `inputs`
 * per row), [P, P] row-major float64; see the module comment. The labels do not enter it.
 */
export function logregHessian(
  spec: ModelSpec,
  params: ArrayLike<number>,
  features: Float32Array,
  rows: Int32Array,
  l2: number,
): Float64Array {
  if (spec.arch.kind !== 'logreg')
    throw new LetheError(
      'INTERNAL',
      `The analytic Hessian is for logistic regression, not ${spec.arch.kind}.`,
    )
  const D = spec.inputs
  const C = spec.classes
  const P = spec.size
  const m = D + 1
  const n = rows.length
  if (n === 0) throw new LetheError('BAD_INPUT', 'The Hessian needs at least one row.')
  if (params.length !== P)
    throw new LetheError('INTERNAL', `The parameters have ${params.length} entries, the model ${P}.`)
  if (features.length % D !== 0)
    throw new LetheError('INTERNAL', `${features.length} features do not make rows of ${D}.`)
  // X̃ᵀ, [m, n]: a column of X̃ is a contiguous row here, so every Gram entry is a row dot product.
  const xt = new Float64Array(m * n)
  const p = new Float64Array(C * n) // p[c·n + i]
  const z = new Float64Array(C)
  for (let i = 0; i < n; i++) {
    const at = (rows[i] as number) * D
    for (let d = 0; d < D; d++) xt[d * n + i] = features[at + d] as number
    xt[D * n + i] = 1
    let max = -Infinity
    for (let c = 0; c < C; c++) {
      let s = params[D * C + c] as number
      for (let d = 0; d < D; d++) s += (features[at + d] as number) * (params[d * C + c] as number)
      z[c] = s
      if (s > max) max = s
    }
    let total = 0
    for (let c = 0; c < C; c++) total += Math.exp((z[c] as number) - max)
    for (let c = 0; c < C; c++) p[c * n + i] = Math.exp((z[c] as number) - max) / total
  }
  // Each row of diag(p) − ppᵀ sums to 0, so the last class's blocks are minus the sum of the
  // others': only the pairs among the first C − 1 classes need a Gram matrix.
  const free = C - 1
  const blocks = new Map<number, Float64Array>()
  const wx = new Float64Array(m * n)
  for (let c = 0; c < free; c++)
    for (let c2 = c; c2 < free; c2++) {
      for (let i = 0; i < n; i++) {
        const pc = p[c * n + i] as number
        const w = (pc * ((c === c2 ? 1 : 0) - (p[c2 * n + i] as number))) / n
        for (let a = 0; a < m; a++) wx[a * n + i] = w * (xt[a * n + i] as number)
      }
      const gram = new Float64Array(m * m)
      for (let from = 0; from < n; from += GRAM_CHUNK)
        addUpperGram(wx, xt, m, n, from, Math.min(n, from + GRAM_CHUNK), gram)
      for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) gram[a * m + b] = gram[b * m + a] as number
      blocks.set(c * C + c2, gram)
    }
  const block = (c: number, c2: number): Float64Array => {
    const [lo, hi] = c <= c2 ? [c, c2] : [c2, c]
    const found = blocks.get(lo * C + hi)
    if (found) return found
    // G_{c, C−1} = −Σ_{c′ < C−1} G_{c, c′}, and G_{C−1, C−1} = −Σ_{c < C−1} G_{c, C−1}.
    const sum = new Float64Array(m * m)
    if (lo < free)
      for (let c3 = 0; c3 < free; c3++) {
        const g = block(lo, c3)
        for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) - (g[j] as number)
      }
    else
      for (let c3 = 0; c3 < free; c3++) {
        const g = block(c3, free)
        for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) - (g[j] as number)
      }
    blocks.set(lo * C + hi, sum)
    return sum
  }
  const H = new Float64Array(P * P)
  for (let c = 0; c < C; c++)
    for (let c2 = 0; c2 < C; c2++) {
      const g = block(c, c2)
      for (let d = 0; d < m; d++) {
        const row = (d * C + c) * P + c2
        for (let e = 0; e < m; e++) H[row + e * C] = g[d * m + e] as number
      }
    }
  for (let j = 0; j < P; j++) H[j * P + j] = (H[j * P + j] as number) + l2
  return H
}

/**
 * The Hessian of any model's loss over the batch (x, y), [P, P] row-major float64, built from P
 * exact Hessian-vector products against the unit vectors and symmetrised (the float32 HVPs are
 * symmetric only up to rounding). Costs P HVPs over the batch: for small models only.
 */
export async function hessianFromHvps(
  spec: ModelSpec,
  params: Float32Array,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
  signal?: AbortSignal,
): Promise<Float64Array> {
  const P = spec.size
  const H = new Float64Array(P * P)
  const chunk = Math.min(P, hvpChunkRows(spec, x.shape[0]))
  const theta = tf.tensor1d(params)
  try {
    for (let start = 0; start < P; start += chunk) {
      if (signal?.aborted) throw new LetheError('CANCELLED', 'Unlearning was cancelled.')
      const k = Math.min(chunk, P - start)
      const units = new Float32Array(k * P)
      for (let r = 0; r < k; r++) units[r * P + start + r] = 1
      const product = tf.tidy(() => hvp(spec, theta, x, y, l2, tf.tensor2d(units, [k, P])))
      const columns = (await product.data()) as Float32Array
      product.dispose()
      // Row start + r of H is H·e_(start + r) (H is symmetric).
      H.set(columns, start * P)
    }
  } finally {
    theta.dispose()
  }
  for (let i = 0; i < P; i++)
    for (let j = 0; j < i; j++) {
      const mean = ((H[i * P + j] as number) + (H[j * P + i] as number)) / 2
      H[i * P + j] = mean
      H[j * P + i] = mean
    }
  return H
}
