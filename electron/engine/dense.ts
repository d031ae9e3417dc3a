/**
 * Dense float64 linear algebra in plain JS, for the certified Newton step's exact solve: TF.js
 * computes in float32 only, and a Hessian's Cholesky factor needs float64 to solve accurately.
 * Matrices are n × n, row-major, in one Float64Array.
 */
import { LetheError } from '../contract'

/**
 * The 16 dot products of rows p0..p3 of `x` with rows q0..q3 of `y` (offsets into each) over the
 * entries [from, to): sums[4r + c] = Σ_k x[p_r + k]·y[q_c + k]. Each k loads 8 numbers for 16
 * multiply-adds, the tile that makes the Cholesky factor and the Gram matrices fast in plain JS.
 */
export function tileDots(
  x: Float64Array,
  p0: number,
  p1: number,
  p2: number,
  p3: number,
  y: Float64Array,
  q0: number,
  q1: number,
  q2: number,
  q3: number,
  from: number,
  to: number,
  sums: Float64Array,
): void {
  let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0 // prettier-ignore
  let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0 // prettier-ignore
  for (let k = from; k < to; k++) {
    const y0 = y[q0 + k] as number
    const y1 = y[q1 + k] as number
    const y2 = y[q2 + k] as number
    const y3 = y[q3 + k] as number
    const x0 = x[p0 + k] as number
    s00 += x0 * y0
    s01 += x0 * y1
    s02 += x0 * y2
    s03 += x0 * y3
    const x1 = x[p1 + k] as number
    s10 += x1 * y0
    s11 += x1 * y1
    s12 += x1 * y2
    s13 += x1 * y3
    const x2 = x[p2 + k] as number
    s20 += x2 * y0
    s21 += x2 * y1
    s22 += x2 * y2
    s23 += x2 * y3
    const x3 = x[p3 + k] as number
    s30 += x3 * y0
    s31 += x3 * y1
    s32 += x3 * y2
    s33 += x3 * y3
  }
  sums[0] = s00
  sums[1] = s01
  sums[2] = s02
  sums[3] = s03 // prettier-ignore
  sums[4] = s10
  sums[5] = s11
  sums[6] = s12
  sums[7] = s13 // prettier-ignore
  sums[8] = s20
  sums[9] = s21
  sums[10] = s22
  sums[11] = s23 // prettier-ignore
  sums[12] = s30
  sums[13] = s31
  sums[14] = s32
  sums[15] = s33 // prettier-ignore
}

/**
 * Overwrites the lower triangle of the symmetric positive-definite `a` with its Cholesky factor L
 * (a = L·Lᵀ); the strict upper triangle is left as it was and never read. Left-looking by rows,
 * in 4 × 4 tiles: every entry is a dot product of two row prefixes (contiguous in row-major), and
 * a tile loads each of its 8 rows once per k for 16 multiply-adds, about 3× the speed of the plain
 * triple loop. Throws CONFLICT when a pivot is not positive: the matrix is not positive definite.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  if (a.length !== n * n)
    throw new LetheError('INTERNAL', `A ${n}×${n} matrix needs ${n * n} entries, not ${a.length}.`)
  const sums = new Float64Array(16)
  for (let i0 = 0; i0 < n; i0 += 4) {
    // Rows past the end repeat the last row: their sums are computed and thrown away.
    const r0 = i0 * n
    const r1 = Math.min(i0 + 1, n - 1) * n
    const r2 = Math.min(i0 + 2, n - 1) * n
    const r3 = Math.min(i0 + 3, n - 1) * n
    const rows = Math.min(4, n - i0)
    for (let j0 = 0; j0 < i0; j0 += 4) {
      const q0 = j0 * n
      const q1 = q0 + n
      const q2 = q1 + n
      const q3 = q2 + n
      tileDots(a, r0, r1, r2, r3, a, q0, q1, q2, q3, 0, j0, sums)
      // The tile's own columns j0..j0+3 depend on each other: finish them in order.
      for (let r = 0; r < rows; r++) {
        const row = (i0 + r) * n
        for (let c = 0; c < 4; c++) {
          const j = j0 + c
          const col = j * n
          let s = (a[row + j] as number) - (sums[4 * r + c] as number)
          for (let k = j0; k < j; k++) s -= (a[row + k] as number) * (a[col + k] as number)
          a[row + j] = s / (a[col + j] as number)
        }
      }
    }
    // The diagonal tile.
    for (let r = 0; r < rows; r++) {
      const i = i0 + r
      const row = i * n
      for (let j = i0; j <= i; j++) {
        const col = j * n
        let s = a[row + j] as number
        for (let k = 0; k < j; k++) s -= (a[row + k] as number) * (a[col + k] as number)
        if (j < i) a[row + j] = s / (a[col + j] as number)
        else if (s > 0 && Number.isFinite(s)) a[row + i] = Math.sqrt(s)
        else
          throw new LetheError(
            'CONFLICT',
            `The matrix is not positive definite: Cholesky pivot ${i + 1} of ${n} is ${s.toPrecision(3)}.`,
            { pivot: i, value: s },
          )
      }
    }
  }
}

/** Solves L·Lᵀ·x = b for the factor {@link choleskyInPlace} left in `factor` (its lower triangle). */
export function choleskySolve(factor: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  if (b.length !== n)
    throw new LetheError('INTERNAL', `The right-hand side has ${b.length} entries, not ${n}.`)
  const z = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const row = i * n
    let s = b[i] as number
    for (let k = 0; k < i; k++) s -= (factor[row + k] as number) * (z[k] as number)
    z[i] = s / (factor[row + i] as number)
  }
  // Lᵀ is read by columns of L: subtract each solved x[i] from the entries above it instead.
  for (let i = n - 1; i >= 0; i--) {
    const row = i * n
    const x = (z[i] as number) / (factor[row + i] as number)
    z[i] = x
    for (let k = 0; k < i; k++) z[k] = (z[k] as number) - (factor[row + k] as number) * x
  }
  return z
}
