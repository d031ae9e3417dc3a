import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hessianFromHvps } from '../../electron/engine/hessian'
import { lossAndGradient } from '../../electron/engine/models/forward'
import {
  layersOf,
  specOf,
  type Activation,
  type Architecture,
  type ModelSpec,
} from '../../electron/engine/models/spec'
import { Random } from '../../electron/engine/random'
import {
  exactLogregHessian,
  finiteDifferenceRadius,
  hvp,
  perSampleGradients,
  resolveHvpMethod,
  topEigenvalue,
} from '../../electron/engine/second-order'
import { tf } from '../../electron/engine/tf'

// ---------------------------------------------------------------------------------------------
// Independent float64 references (plain JS, no TF.js).

type Vec = ArrayLike<number>

const dot = (a: Vec, b: Vec): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number)
  return s
}
const norm = (a: Vec): number => Math.sqrt(dot(a, a))
/** ‖a − b‖ / ‖b‖. */
const relErr = (a: Vec, b: Vec): number => {
  let s = 0
  for (let i = 0; i < b.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2
  return Math.sqrt(s) / norm(b)
}
/** Row-major [P, P] matrix times vector. */
const matVec = (m: Vec, v: Vec): Float64Array => {
  const P = v.length
  const out = new Float64Array(P)
  for (let i = 0; i < P; i++) {
    let s = 0
    for (let j = 0; j < P; j++) s += (m[i * P + j] as number) * (v[j] as number)
    out[i] = s
  }
  return out
}

/** σ(z) and σ′(z) of an activation, in float64. */
function act64(activation: Activation | null, z: number): [number, number] {
  switch (activation) {
    case 'relu':
      return z > 0 ? [z, 1] : [0, 0]
    case 'sigmoid': {
      const s = 1 / (1 + Math.exp(-z))
      return [s, s * (1 - s)]
    }
    case 'tanh': {
      const t = Math.tanh(z)
      return [t, 1 - t * t]
    }
    default:
      return [z, 1]
  }
}

/**
 * Loss gradient of any of our architectures in float64 plain JS, backpropagation by hand:
 * mean softmax CE + (l2/2)‖θ‖², our flat layout (conv [k, k, cin, out] then its bias, dense
 * W [fanIn, fanOut] then its bias), stride-1 'same' (k−1)/2-before or 'valid' convolutions,
 * relu/sigmoid/tanh/linear, 2×2 stride-2 max-pooling (its gradient to every window entry equal to
 * the max, as TF.js's) or average pooling, global average pooling, NHWC images. Only the layer
 * shapes come from `layersOf`; offsets and arithmetic are its own.
 */
function gradient64(arch: Architecture, params: Vec, x: Vec, y: Vec, l2: number): Float64Array {
  const n = y.length
  const grad = new Float64Array(params.length)
  const at = (i: number) => params[i] as number
  const { image, conv, globalPool, dense } = layersOf(arch)
  const inputs = image ? image.height * image.width * image.channels : (dense[0]?.fanIn as number)
  const convs = conv.map((c) => {
    const pooled = (s: number) => (c.pool === 'none' ? s : Math.floor(s / 2))
    return { ...c, ph: pooled(c.outHeight), pw: pooled(c.outWidth), o: 0 }
  })
  let offset = 0
  for (const c of convs) {
    c.o = offset
    offset += c.kernel * c.kernel * c.cin * c.filters + c.filters
  }
  const denses = dense.map((d) => {
    const o = offset
    offset += d.fanIn * d.fanOut + d.fanOut
    return { ...d, o }
  })
  if (offset !== params.length)
    throw new Error(`reference layout has ${offset} parameters, got ${params.length}`)
  const add = (i: number, v: number) => {
    grad[i] = (grad[i] as number) + v / n
  }
  for (let s = 0; s < n; s++) {
    // Forward through the convolution stages.
    let img = Float64Array.from({ length: inputs }, (_, d) => x[s * inputs + d] as number)
    const convCache: { input: Float64Array; slope: Float64Array; a: Float64Array }[] = []
    for (const {
      o,
      kernel: K,
      padding,
      cin,
      filters: out,
      height: h,
      width: w,
      outHeight: oh,
      outWidth: ow,
      activation,
      pool,
      ph,
      pw,
    } of convs) {
      const before = padding === 'same' ? Math.floor((K - 1) / 2) : 0
      const a = new Float64Array(oh * ow * out)
      const slope = new Float64Array(oh * ow * out)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++)
          for (let f = 0; f < out; f++) {
            let sum = at(o + K * K * cin * out + f)
            for (let dy = 0; dy < K; dy++)
              for (let dx = 0; dx < K; dx++) {
                const [ii, jj] = [i + dy - before, j + dx - before]
                if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue
                for (let c = 0; c < cin; c++)
                  sum +=
                    (img[(ii * w + jj) * cin + c] as number) * at(o + ((dy * K + dx) * cin + c) * out + f)
              }
            ;[a[(i * ow + j) * out + f], slope[(i * ow + j) * out + f]] = act64(activation, sum)
          }
      convCache.push({ input: img, slope, a })
      if (pool === 'none') {
        img = a
        continue
      }
      const pooled = new Float64Array(ph * pw * out).fill(pool === 'max' ? -Infinity : 0)
      for (let i = 0; i < 2 * ph; i++)
        for (let j = 0; j < 2 * pw; j++)
          for (let f = 0; f < out; f++) {
            const q = ((i >> 1) * pw + (j >> 1)) * out + f
            const v = a[(i * ow + j) * out + f] as number
            pooled[q] = pool === 'max' ? Math.max(pooled[q] as number, v) : (pooled[q] as number) + v / 4
          }
      img = pooled
    }
    const last = convs[convs.length - 1]
    let features = img
    if (last && globalPool) {
      features = new Float64Array(last.filters)
      for (let q = 0; q < img.length; q++)
        features[q % last.filters] =
          (features[q % last.filters] as number) + (img[q] as number) / (last.ph * last.pw)
    }
    // Dense layers.
    const acts: Float64Array[] = [features]
    const slopes: Float64Array[] = []
    for (const { o, fanIn, fanOut, activation } of denses) {
      const input = acts[acts.length - 1] as Float64Array
      const a = new Float64Array(fanOut)
      const slope = new Float64Array(fanOut)
      for (let j = 0; j < fanOut; j++) {
        let sum = at(o + fanIn * fanOut + j)
        for (let d = 0; d < fanIn; d++) sum += (input[d] as number) * at(o + d * fanOut + j)
        ;[a[j], slope[j]] = act64(activation, sum)
      }
      slopes.push(slope)
      acts.push(a)
    }
    const z = acts[acts.length - 1] as Float64Array
    const max = Math.max(...z)
    const e = z.map((v) => Math.exp(v - max))
    const total = e.reduce((u, v) => u + v, 0)
    let delta = e.map((v, c) => v / total - (c === y[s] ? 1 : 0))
    for (let l = denses.length - 1; l >= 0; l--) {
      const { o, fanIn, fanOut } = denses[l] as (typeof denses)[number]
      const a = acts[l] as Float64Array
      for (let d = 0; d < fanIn; d++)
        for (let j = 0; j < fanOut; j++) add(o + d * fanOut + j, (a[d] as number) * (delta[j] as number))
      for (let j = 0; j < fanOut; j++) add(o + fanIn * fanOut + j, delta[j] as number)
      const next = new Float64Array(fanIn)
      for (let d = 0; d < fanIn; d++) {
        let sum = 0
        for (let j = 0; j < fanOut; j++) sum += at(o + d * fanOut + j) * (delta[j] as number)
        next[d] = l > 0 ? sum * ((slopes[l - 1] as Float64Array)[d] as number) : sum
      }
      delta = next
    }
    // Back through the convolutions: delta is the gradient at the features.
    if (last && globalPool)
      delta = Float64Array.from(
        { length: last.ph * last.pw * last.filters },
        (_, q) => (delta[q % last.filters] as number) / (last.ph * last.pw),
      )
    for (let l = convs.length - 1; l >= 0; l--) {
      const {
        o,
        kernel: K,
        padding,
        cin,
        filters: out,
        height: h,
        width: w,
        outHeight: oh,
        outWidth: ow,
        pool,
        ph,
        pw,
      } = convs[l] as (typeof convs)[number]
      const { input, slope, a } = convCache[l] as (typeof convCache)[number]
      const before = padding === 'same' ? Math.floor((K - 1) / 2) : 0
      // Gradient at the activation's output, then at z.
      let da = delta
      if (pool !== 'none') {
        da = new Float64Array(oh * ow * out)
        for (let i = 0; i < 2 * ph; i++)
          for (let j = 0; j < 2 * pw; j++)
            for (let f = 0; f < out; f++) {
              const q = ((i >> 1) * pw + (j >> 1)) * out + f
              const cell = (i * ow + j) * out + f
              if (pool === 'avg') {
                da[cell] = (delta[q] as number) / 4
                continue
              }
              let m = -Infinity
              for (let u = 0; u < 2; u++)
                for (let v = 0; v < 2; v++)
                  m = Math.max(m, a[((2 * (i >> 1) + u) * ow + 2 * (j >> 1) + v) * out + f] as number)
              if (a[cell] === m) da[cell] = delta[q] as number
            }
      }
      const dInput = new Float64Array(h * w * cin)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++)
          for (let f = 0; f < out; f++) {
            const g = (da[(i * ow + j) * out + f] as number) * (slope[(i * ow + j) * out + f] as number)
            if (g === 0) continue
            add(o + K * K * cin * out + f, g)
            for (let dy = 0; dy < K; dy++)
              for (let dx = 0; dx < K; dx++) {
                const [ii, jj] = [i + dy - before, j + dx - before]
                if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue
                for (let c = 0; c < cin; c++) {
                  const wi = o + ((dy * K + dx) * cin + c) * out + f
                  add(wi, (input[(ii * w + jj) * cin + c] as number) * g)
                  dInput[(ii * w + jj) * cin + c] = (dInput[(ii * w + jj) * cin + c] as number) + at(wi) * g
                }
              }
          }
      delta = dInput
    }
  }
  for (let j = 0; j < params.length; j++) grad[j] = (grad[j] as number) + l2 * at(j)
  return grad
}

/** Hessian [P, P] by central differences of the float64 gradient (step h, symmetrised). */
function fdHessian64(arch: Architecture, params: Vec, x: Vec, y: Vec, l2: number, h = 1e-5): Float64Array {
  const P = params.length
  const H = new Float64Array(P * P)
  const theta = Float64Array.from(params)
  for (let j = 0; j < P; j++) {
    const t = theta[j] as number
    theta[j] = t + h
    const plus = gradient64(arch, theta, x, y, l2)
    theta[j] = t - h
    const minus = gradient64(arch, theta, x, y, l2)
    theta[j] = t
    for (let i = 0; i < P; i++) H[i * P + j] = ((plus[i] as number) - (minus[i] as number)) / (2 * h)
  }
  for (let i = 0; i < P; i++)
    for (let j = 0; j < i; j++) {
      const s = ((H[i * P + j] as number) + (H[j * P + i] as number)) / 2
      H[i * P + j] = s
      H[j * P + i] = s
    }
  return H
}

/** H·v by central differences of the float64 gradient along v (two gradients, for larger models). */
function fdHvp64(
  arch: Architecture,
  params: Vec,
  x: Vec,
  y: Vec,
  l2: number,
  v: Vec,
  h = 1e-5,
): Float64Array {
  const plus = gradient64(
    arch,
    Float64Array.from(params, (t, j) => t + h * (v[j] as number)),
    x,
    y,
    l2,
  )
  const minus = gradient64(
    arch,
    Float64Array.from(params, (t, j) => t - h * (v[j] as number)),
    x,
    y,
    l2,
  )
  return Float64Array.from(plus, (g, j) => (g - (minus[j] as number)) / (2 * h))
}

/** All eigenvalues of a symmetric [P, P] matrix by cyclic Jacobi rotations (float64). */
function symmetricEigenvalues(matrix: Vec, P: number): number[] {
  const a = Float64Array.from(matrix)
  const at = (i: number, j: number) => a[i * P + j] as number
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) off += at(i, j) ** 2
    if (off < 1e-30) break
    for (let p = 0; p < P; p++)
      for (let q = p + 1; q < P; q++) {
        const apq = at(p, q)
        if (Math.abs(apq) < 1e-300) continue
        const theta = (at(q, q) - at(p, p)) / (2 * apq)
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let k = 0; k < P; k++) {
          const akp = at(k, p)
          const akq = at(k, q)
          a[k * P + p] = c * akp - s * akq
          a[k * P + q] = s * akp + c * akq
        }
        for (let k = 0; k < P; k++) {
          const apk = at(p, k)
          const aqk = at(q, k)
          a[p * P + k] = c * apk - s * aqk
          a[q * P + k] = s * apk + c * aqk
        }
      }
  }
  return Array.from({ length: P }, (_, i) => at(i, i)).sort((u, v) => u - v)
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

interface Problem {
  spec: ModelSpec
  arch: Architecture
  theta: Float32Array
  xs: Float32Array
  ys: Int32Array
  n: number
}

function problem(arch: Architecture, n: number, seed: number, scale = 0.5): Problem {
  const spec = specOf(arch)
  const random = new Random(seed)
  const theta = Float32Array.from({ length: spec.size }, () => random.normal() * scale)
  const xs = Float32Array.from({ length: n * spec.inputs }, () => random.normal())
  const ys = Int32Array.from({ length: n }, () => random.int(spec.classes))
  return { spec, arch, theta, xs, ys, n }
}

/** Runs `body` with the problem uploaded; asserts that it leaks no tensors. */
function withTensors<T>(
  pr: Problem,
  body: (t: { params: tf.Tensor1D; x: tf.Tensor2D; y: tf.Tensor1D }) => T,
): T {
  const params = tf.tensor1d(pr.theta)
  const x = tf.tensor2d(pr.xs, [pr.n, pr.spec.inputs])
  const y = tf.tensor1d(pr.ys, 'int32')
  try {
    const before = tf.memory().numTensors
    const out = body({ params, x, y })
    expect(tf.memory().numTensors).toBe(before)
    return out
  } finally {
    params.dispose()
    x.dispose()
    y.dispose()
  }
}

/** Calls a tensor-returning function inside tf.tidy, reads the result and disposes it. */
function read(fn: () => tf.Tensor): Float32Array {
  const t = tf.tidy(fn)
  const data = t.dataSync() as Float32Array
  t.dispose()
  return data
}

function randomDirections(k: number, P: number, seed: number): Float32Array {
  const random = new Random(seed)
  return Float32Array.from({ length: k * P }, () => random.normal())
}

const row = (m: Float32Array, i: number, P: number) => m.subarray(i * P, (i + 1) * P)

const logregArch: Architecture = { kind: 'logreg', inputs: 6, classes: 3 }
const mlpArch: Architecture = { kind: 'mlp', inputs: 6, hidden: [5], classes: 3 }
const deepArch: Architecture = { kind: 'mlp', inputs: 4, hidden: [5, 4], classes: 3 }
const cnnArch: Architecture = {
  kind: 'cnn',
  height: 6,
  width: 6,
  channels: 1,
  filters: [2],
  kernel: 3,
  dense: 4,
  classes: 3,
}
/** Two conv layers, odd sizes (pooling drops a row and a column), two input channels. */
const deepCnnArch: Architecture = {
  kind: 'cnn',
  height: 7,
  width: 7,
  channels: 2,
  filters: [3, 4],
  kernel: 3,
  dense: 5,
  classes: 3,
}
/** An even kernel (asymmetric 'same' padding) on a non-square image. */
const evenCnnArch: Architecture = {
  kind: 'cnn',
  height: 6,
  width: 5,
  channels: 1,
  filters: [2],
  kernel: 2,
  dense: 4,
  classes: 3,
}
const tanhMlpArch: Architecture = { kind: 'mlp', inputs: 4, hidden: [5, 4], classes: 3, activation: 'tanh' }
const sigmoidMlpArch: Architecture = {
  kind: 'mlp',
  inputs: 5,
  hidden: [6],
  classes: 3,
  activation: 'sigmoid',
}
/**
 * A 'valid' ReLU stage with average pooling (8×7 → 4×3, an odd column dropped), then a 'same'
 * sigmoid stage with max-pooling (4×3 → 2×1), flattened into a linear dense layer.
 */
const poolingConvnetArch: Architecture = {
  kind: 'convnet',
  height: 10,
  width: 9,
  channels: 2,
  stages: [
    { filters: 3, kernel: 3, padding: 'valid', activation: 'relu', pool: 'avg' },
    { filters: 4, kernel: 3, padding: 'same', activation: 'sigmoid', pool: 'max' },
  ],
  globalPool: false,
  hidden: [4],
  activation: 'linear',
  classes: 3,
}
/** A 'same' tanh stage without pooling, a 'valid' even-kernel stage with max-pooling, global average pooling, a tanh dense layer. */
const globalPoolConvnetArch: Architecture = {
  kind: 'convnet',
  height: 6,
  width: 6,
  channels: 1,
  stages: [
    { filters: 3, kernel: 3, padding: 'same', activation: 'tanh', pool: 'none' },
    { filters: 4, kernel: 2, padding: 'valid', activation: 'relu', pool: 'max' },
  ],
  globalPool: true,
  hidden: [5],
  activation: 'tanh',
  classes: 3,
}
const l2 = 0.01

const measured: Record<string, number> = {}

beforeAll(async () => {
  await tf.setBackend('cpu')
})

afterAll(() => {
  // The measured relative errors, for the record: SECOND_ORDER_REPORT=1 npx vitest run …
  if (process.env.SECOND_ORDER_REPORT) console.log('second-order relative errors:', measured)
})

// ---------------------------------------------------------------------------------------------

describe('exactLogregHessian', () => {
  it('matches central differences of the float64 gradient (an independent check of the reference)', () => {
    const pr = problem(logregArch, 40, 1)
    const exact = exactLogregHessian(pr.spec, pr.theta, pr.xs, pr.ys, l2)
    const fd = fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2)
    expect(relErr(exact, fd)).toBeLessThan(1e-8)
  })
})

describe('hvp on softmax regression', () => {
  const pr = problem(logregArch, 40, 2)
  const P = pr.spec.size
  const exact = exactLogregHessian(pr.spec, pr.theta, pr.xs, pr.ys, l2)
  const k = 5
  const dirs = randomDirections(k, P, 3)

  it('analytic equals the exact Hessian times v (float32 output)', () => {
    const hv = withTensors(pr, ({ params, x, y }) =>
      read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [k, P]), 'analytic')),
    )
    let worst = 0
    for (let i = 0; i < k; i++) worst = Math.max(worst, relErr(row(hv, i, P), matVec(exact, row(dirs, i, P))))
    measured['logreg analytic vs exact'] = worst
    expect(worst).toBeLessThan(1e-5)
  })

  it("'auto' is the analytic path", () => {
    const [auto, analytic] = withTensors(pr, ({ params, x, y }) => [
      read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [k, P]))),
      read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [k, P]), 'analytic')),
    ])
    expect(Array.from(auto as Float32Array)).toEqual(Array.from(analytic as Float32Array))
  })

  it('finite differences at the default radius agree within 1e-3', () => {
    const hv = withTensors(pr, ({ params, x, y }) =>
      read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [k, P]), 'finite-difference')),
    )
    let worst = 0
    for (let i = 0; i < k; i++) worst = Math.max(worst, relErr(row(hv, i, P), matVec(exact, row(dirs, i, P))))
    measured['logreg finite differences vs exact'] = worst
    expect(worst).toBeLessThan(1e-3)
  })

  it('the default radius follows §7.3 and a larger radius still agrees', () => {
    expect(finiteDifferenceRadius(0.5, 100)).toBe(1e-3)
    expect(finiteDifferenceRadius(1000, 100)).toBeCloseTo(1e-1, 12)
    const hv = withTensors(pr, ({ params, x, y }) =>
      read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [k, P]), 'finite-difference', 1e-2)),
    )
    let worst = 0
    for (let i = 0; i < k; i++) worst = Math.max(worst, relErr(row(hv, i, P), matVec(exact, row(dirs, i, P))))
    measured['logreg finite differences (r = 1e-2) vs exact'] = worst
    expect(worst).toBeLessThan(1e-3)
  })

  it('k directions at once equal k separate calls, and a zero direction gives zero', () => {
    withTensors(pr, ({ params, x, y }) => {
      const all = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [k, P])))
      for (let i = 0; i < k; i++) {
        const one = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(row(dirs, i, P), [1, P])))
        expect(relErr(row(all, i, P), one)).toBeLessThan(1e-6)
      }
      for (const method of ['analytic', 'finite-difference'] as const) {
        const zero = read(() => hvp(pr.spec, params, x, y, l2, tf.zeros([1, P]), method))
        expect(Array.from(zero).every((v) => v === 0)).toBe(true)
      }
    })
  })

  it('the exact Hessian of the test fixture is not trivially diagonal (the check has teeth)', () => {
    const v = row(dirs, 0, P)
    const hv = matVec(exact, v)
    const diagonalOnly = Float64Array.from(v, (vi, i) => (exact[i * P + i] as number) * vi)
    expect(relErr(diagonalOnly, hv)).toBeGreaterThan(0.1)
  })
})

describe('hvp on ReLU MLPs (R-operator)', () => {
  for (const [name, arch] of [
    ['6→5→3', mlpArch],
    ['4→5→4→3', deepArch],
  ] as const) {
    it(`${name}: analytic equals the float64 finite-difference Hessian, all basis directions at once`, () => {
      const pr = problem(arch, 30, 4, 0.8)
      const P = pr.spec.size
      const reference = fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2)
      const identity = new Float32Array(P * P)
      for (let i = 0; i < P; i++) identity[i * P + i] = 1
      const H = withTensors(pr, ({ params, x, y }) =>
        read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(identity, [P, P]), 'analytic')),
      )
      // Row i of the result is H e_i, i.e. column i of H (= row i, H being symmetric).
      const err = relErr(H, reference)
      measured[`mlp ${name} analytic vs float64 FD Hessian`] = err
      expect(err).toBeLessThan(1e-5)
      // Cross terms between layers (through the ReLU masks) are present, not only Gauss–Newton.
      const blockDiagonal = Float64Array.from(reference, (v, idx) => {
        const i = Math.floor(idx / P)
        const j = idx % P
        const layerOf = (p: number) =>
          pr.spec.views.find((w) => p >= w.offset && p < w.offset + w.size)?.layer
        return layerOf(i) === layerOf(j) ? v : 0
      })
      expect(relErr(blockDiagonal, reference)).toBeGreaterThan(0.05)
    })
  }

  it('analytic equals central differences of the TF.js gradient column by column (within 1e-3)', () => {
    const pr = problem(mlpArch, 30, 5, 0.8)
    const P = pr.spec.size
    // A radius well below the smallest |pre-activation| / max|x|: no ReLU kink is crossed.
    const [fanIn, hidden] = [6, 5]
    let margin = Infinity
    for (let i = 0; i < pr.n; i++)
      for (let j = 0; j < hidden; j++) {
        let z = pr.theta[fanIn * hidden + j] as number
        for (let d = 0; d < fanIn; d++)
          z += (pr.xs[i * fanIn + d] as number) * (pr.theta[d * hidden + j] as number)
        margin = Math.min(margin, Math.abs(z))
      }
    const xMax = Math.max(1, ...Array.from(pr.xs, Math.abs))
    const radius = Math.min(1e-2, (0.25 * margin) / xMax)
    expect(radius).toBeGreaterThan(1e-4)
    const identity = new Float32Array(P * P)
    for (let i = 0; i < P; i++) identity[i * P + i] = 1
    const [analytic, fd] = withTensors(pr, ({ params, x, y }) => {
      const analytic = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(identity, [P, P]), 'analytic'))
      const columns: number[] = []
      for (let j = 0; j < P; j++) {
        const column = tf.tidy(() => {
          const e = tf.cast(
            tf.reshape(tf.oneHot(tf.tensor1d([j], 'int32'), P), [P]),
            'float32',
          ) as tf.Tensor1D
          const plus = lossAndGradient(pr.spec, tf.add(params, tf.mul(e, radius)), x, y, l2).grad
          const minus = lossAndGradient(pr.spec, tf.sub(params, tf.mul(e, radius)), x, y, l2).grad
          return tf.div(tf.sub(plus, minus), 2 * radius)
        })
        columns.push(...read(() => column))
      }
      return [analytic, Float32Array.from(columns)]
    })
    const err = relErr(analytic as Float32Array, fd as Float32Array)
    measured['mlp 6→5→3 analytic vs TF.js-gradient FD Hessian'] = err
    expect(err).toBeLessThan(1e-3)
  })

  it('is symmetric: vᵀ(Hw) = wᵀ(Hv), and k at once equals one at a time', () => {
    const pr = problem(deepArch, 30, 6, 0.8)
    const P = pr.spec.size
    const dirs = randomDirections(2, P, 7)
    withTensors(pr, ({ params, x, y }) => {
      const both = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [2, P])))
      const v = row(dirs, 0, P)
      const w = row(dirs, 1, P)
      const vHw = dot(v, row(both, 1, P))
      const wHv = dot(w, row(both, 0, P))
      const asym = Math.abs(vHw - wHv) / (norm(v) * norm(row(both, 1, P)))
      measured['mlp symmetry |vᵀHw − wᵀHv| / (‖v‖‖Hw‖)'] = asym
      expect(asym).toBeLessThan(1e-5)
      const first = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(v, [1, P])))
      expect(relErr(row(both, 0, P), first)).toBeLessThan(1e-6)
    })
  })
})

describe('hvp on CNNs (R-operator through im2col convolutions and max-pooling)', () => {
  for (const [name, arch] of [
    ['6×6×1, conv 2 (k=3)', cnnArch],
    ['7×7×2, conv 3/4 (k=3)', deepCnnArch],
    ['6×5×1, conv 2 (k=2)', evenCnnArch],
  ] as const) {
    it(`${name}: the analytic R-operator equals the float64 finite-difference Hessian`, () => {
      const pr = problem(arch, 10, 17, 0.6)
      const P = pr.spec.size
      const reference = fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2)
      const identity = new Float32Array(P * P)
      for (let i = 0; i < P; i++) identity[i * P + i] = 1
      const H = withTensors(pr, ({ params, x, y }) =>
        read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(identity, [P, P]), 'analytic')),
      )
      const err = relErr(H, reference)
      measured[`cnn ${name} analytic vs float64 FD Hessian`] = err
      expect(err).toBeLessThan(1e-5)
      // Not just the L2 term and not just Gauss–Newton-like blocks: conv-to-dense cross terms exist.
      const convDense = Float64Array.from(reference, (v, idx) => {
        const [i, j] = [Math.floor(idx / P), idx % P]
        const layer = (q: number) =>
          pr.spec.views.find((w) => q >= w.offset && q < w.offset + w.size)?.layer as number
        return layer(i) === 0 && layer(j) > 0 ? v : 0
      })
      expect(norm(convDense) / norm(reference)).toBeGreaterThan(0.01)
    })
  }

  it("'auto' is the exact R-operator on a CNN too; the finite-difference path is finite, symmetric and close", () => {
    const pr = problem(cnnArch, 12, 8, 0.5)
    const P = pr.spec.size
    const dirs = randomDirections(2, P, 9)
    withTensors(pr, ({ params, x, y }) => {
      const auto = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [2, P])))
      const exact = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [2, P]), 'analytic'))
      const fd = read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [2, P]), 'finite-difference'))
      expect(resolveHvpMethod(pr.spec)).toBe('analytic')
      expect(resolveHvpMethod(pr.spec, 'finite-difference')).toBe('finite-difference')
      expect(Array.from(auto)).toEqual(Array.from(exact))
      expect(fd.every(Number.isFinite)).toBe(true)
      const v = row(dirs, 0, P)
      const w = row(dirs, 1, P)
      const asym = (h: Float32Array) =>
        Math.abs(dot(v, row(h, 1, P)) - dot(w, row(h, 0, P))) / (norm(v) * norm(row(h, 1, P)))
      measured['cnn FD symmetry |vᵀHw − wᵀHv| / (‖v‖‖Hw‖)'] = asym(fd)
      measured['cnn analytic symmetry'] = asym(exact)
      expect(asym(fd)).toBeLessThan(1e-2)
      expect(asym(exact)).toBeLessThan(1e-5)
      const err = Math.max(relErr(row(fd, 0, P), row(exact, 0, P)), relErr(row(fd, 1, P), row(exact, 1, P)))
      measured['cnn (small) FD vs analytic'] = err
      expect(err).toBeLessThan(1e-2)
    })
  })
})

describe('hvp on smooth activations and general convnets (R-operator with σ″ terms, avg and global pooling)', () => {
  for (const [name, arch] of [
    ['tanh MLP 4→5→4→3', tanhMlpArch],
    ['sigmoid MLP 5→6→3', sigmoidMlpArch],
    ['convnet valid/relu/avg + same/sigmoid/max + linear dense', poolingConvnetArch],
    ['convnet same/tanh + valid/relu/max + global pool + tanh dense', globalPoolConvnetArch],
  ] as const) {
    it(`${name}: the analytic Hessian equals the float64 finite-difference Hessian and is symmetric`, () => {
      const pr = problem(arch, 10, 21, 0.6)
      const P = pr.spec.size
      const reference = fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2)
      const identity = new Float32Array(P * P)
      for (let i = 0; i < P; i++) identity[i * P + i] = 1
      const H = withTensors(pr, ({ params, x, y }) =>
        read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(identity, [P, P]), 'analytic')),
      )
      const err = relErr(H, reference)
      measured[`${name} analytic vs float64 FD Hessian`] = err
      expect(err).toBeLessThan(1e-5)
      const transposed = Float32Array.from(H, (_, idx) => H[(idx % P) * P + Math.floor(idx / P)] as number)
      const asym = relErr(H, transposed)
      measured[`${name} analytic ‖H − Hᵀ‖ / ‖H‖`] = asym
      expect(asym).toBeLessThan(1e-5)
      // Cross terms between the first layer and the ones above exist (not only the L2 term or diagonal blocks).
      const cross = Float64Array.from(reference, (v, idx) => {
        const [i, j] = [Math.floor(idx / P), idx % P]
        const layer = (q: number) =>
          pr.spec.views.find((w) => q >= w.offset && q < w.offset + w.size)?.layer as number
        return layer(i) === 0 && layer(j) > 0 ? v : 0
      })
      expect(norm(cross) / norm(reference)).toBeGreaterThan(0.01)
    })
  }

  it("'auto' resolves to the analytic R-operator for a convnet", () => {
    expect(resolveHvpMethod(specOf(poolingConvnetArch))).toBe('analytic')
  })

  it('hessianFromHvps builds the convnet Hessian the certified exact solve uses', async () => {
    const pr = problem(globalPoolConvnetArch, 8, 24, 0.6)
    const reference = fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2)
    const x = tf.tensor2d(pr.xs, [pr.n, pr.spec.inputs])
    const y = tf.tensor1d(pr.ys, 'int32')
    try {
      const H = await hessianFromHvps(pr.spec, pr.theta, x, y, l2)
      const err = relErr(H, reference)
      measured['convnet hessianFromHvps vs float64 FD Hessian'] = err
      expect(err).toBeLessThan(1e-5)
    } finally {
      x.dispose()
      y.dispose()
    }
  })
})

describe('perSampleGradients', () => {
  for (const [name, arch] of [
    ['logreg', logregArch],
    ['mlp', deepArch],
    ['cnn', deepCnnArch],
    ['tanh mlp', tanhMlpArch],
    ['sigmoid mlp', sigmoidMlpArch],
    ['convnet with average and max pooling', poolingConvnetArch],
    ['convnet with global pooling', globalPoolConvnetArch],
  ] as const) {
    it(`${name}: the batch mean plus l2·θ is the loss gradient, and each row is that sample's gradient`, () => {
      const pr = problem(arch, 16, 10, 0.5)
      const P = pr.spec.size
      withTensors(pr, ({ params, x, y }) => {
        const rows = read(() => perSampleGradients(pr.spec, params, x, y))
        expect(rows.length).toBe(pr.n * P)
        const mean = new Float64Array(P)
        for (let i = 0; i < pr.n; i++)
          for (let j = 0; j < P; j++) mean[j] = (mean[j] as number) + (rows[i * P + j] as number) / pr.n
        for (let j = 0; j < P; j++) mean[j] = (mean[j] as number) + l2 * (pr.theta[j] as number)
        const err = relErr(
          mean,
          read(() => lossAndGradient(pr.spec, params, x, y, l2).grad),
        )
        measured[`${name} per-sample mean vs batch gradient`] = err
        expect(err).toBeLessThan(1e-5)
        for (const i of [0, 7, pr.n - 1]) {
          const single = read(
            () =>
              lossAndGradient(
                pr.spec,
                params,
                tf.slice(x, [i, 0], [1, pr.spec.inputs]),
                tf.slice(y, [i], [1]),
                0,
              ).grad,
          )
          expect(relErr(row(rows, i, P), single)).toBeLessThan(1e-5)
          // And against the float64 reference.
          const g = gradient64(pr.arch, pr.theta, row(pr.xs, i, pr.spec.inputs), [pr.ys[i] as number], 0)
          expect(relErr(row(rows, i, P), g)).toBeLessThan(1e-5)
        }
      })
    })
  }
})

describe('topEigenvalue', () => {
  it('logreg: matches the largest eigenvalue of the exact Hessian', () => {
    const pr = problem(logregArch, 40, 11)
    const exact = exactLogregHessian(pr.spec, pr.theta, pr.xs, pr.ys, l2)
    const eigen = symmetricEigenvalues(exact, pr.spec.size)
    const largest = eigen.at(-1) as number
    // Sanity of the eigen-solver: the trace is preserved.
    let trace = 0
    for (let i = 0; i < pr.spec.size; i++) trace += exact[i * pr.spec.size + i] as number
    expect(eigen.reduce((a, b) => a + b, 0)).toBeCloseTo(trace, 10)
    const result = withTensors(pr, ({ params, x, y }) =>
      topEigenvalue(pr.spec, params, x, y, l2, { iterations: 500, tolerance: 1e-5, seed: 1 }),
    )
    measured['logreg top eigenvalue rel. error'] = Math.abs(result.value - largest) / largest
    measured['logreg top eigenvalue iterations'] = result.iterations
    expect(Math.abs(result.value - largest) / largest).toBeLessThan(1e-3)
    expect(result.iterations).toBeLessThan(500)
  })

  it('mlp: matches the dominant eigenvalue of the float64 finite-difference Hessian', () => {
    const pr = problem(mlpArch, 30, 12, 0.8)
    const eigen = symmetricEigenvalues(fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2), pr.spec.size)
    const dominant = eigen.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a))
    const result = withTensors(pr, ({ params, x, y }) =>
      topEigenvalue(pr.spec, params, x, y, l2, { iterations: 1000, tolerance: 1e-5, seed: 2 }),
    )
    measured['mlp top eigenvalue rel. error'] = Math.abs(result.value - dominant) / Math.abs(dominant)
    expect(Math.abs(result.value - dominant) / Math.abs(dominant)).toBeLessThan(1e-3)
  })

  it('cnn: matches the dominant eigenvalue of the float64 finite-difference Hessian', () => {
    const pr = problem(cnnArch, 10, 20, 0.6)
    const eigen = symmetricEigenvalues(fdHessian64(pr.arch, pr.theta, pr.xs, pr.ys, l2), pr.spec.size)
    const dominant = eigen.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a))
    const result = withTensors(pr, ({ params, x, y }) =>
      topEigenvalue(pr.spec, params, x, y, l2, { iterations: 1000, tolerance: 1e-5, seed: 3 }),
    )
    measured['cnn top eigenvalue rel. error'] = Math.abs(result.value - dominant) / Math.abs(dominant)
    expect(Math.abs(result.value - dominant) / Math.abs(dominant)).toBeLessThan(1e-3)
  })
})

describe('on the WASM backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu')
  })

  it('analytic HVPs and per-sample gradients agree with the float64 references', async () => {
    await tf.setBackend('wasm')
    expect(tf.getBackend()).toBe('wasm')
    const lr = problem(logregArch, 40, 13)
    const P = lr.spec.size
    const exact = exactLogregHessian(lr.spec, lr.theta, lr.xs, lr.ys, l2)
    const dirs = randomDirections(3, P, 14)
    const hv = withTensors(lr, ({ params, x, y }) =>
      read(() => hvp(lr.spec, params, x, y, l2, tf.tensor2d(dirs, [3, P]))),
    )
    let worst = 0
    for (let i = 0; i < 3; i++) worst = Math.max(worst, relErr(row(hv, i, P), matVec(exact, row(dirs, i, P))))
    measured['wasm logreg analytic vs exact'] = worst
    expect(worst).toBeLessThan(1e-5)

    const mlp = problem(deepArch, 30, 15, 0.8)
    const Q = mlp.spec.size
    const reference = fdHessian64(mlp.arch, mlp.theta, mlp.xs, mlp.ys, l2)
    const mdirs = randomDirections(3, Q, 16)
    const [mhv, rows] = withTensors(mlp, ({ params, x, y }) => [
      read(() => hvp(mlp.spec, params, x, y, l2, tf.tensor2d(mdirs, [3, Q]))),
      read(() => perSampleGradients(mlp.spec, params, x, y)),
    ])
    let mworst = 0
    for (let i = 0; i < 3; i++)
      mworst = Math.max(mworst, relErr(row(mhv as Float32Array, i, Q), matVec(reference, row(mdirs, i, Q))))
    measured['wasm mlp analytic vs float64 FD'] = mworst
    expect(mworst).toBeLessThan(1e-5)
    const g = gradient64(mlp.arch, mlp.theta, row(mlp.xs, 2, mlp.spec.inputs), [mlp.ys[2] as number], 0)
    expect(relErr(row(rows as Float32Array, 2, Q), g)).toBeLessThan(1e-5)

    const cnn = problem(deepCnnArch, 10, 18, 0.6)
    const R = cnn.spec.size
    const cnnReference = fdHessian64(cnn.arch, cnn.theta, cnn.xs, cnn.ys, l2)
    const cdirs = randomDirections(3, R, 19)
    const [chv, crows] = withTensors(cnn, ({ params, x, y }) => [
      read(() => hvp(cnn.spec, params, x, y, l2, tf.tensor2d(cdirs, [3, R]), 'analytic')),
      read(() => perSampleGradients(cnn.spec, params, x, y)),
    ])
    let cworst = 0
    for (let i = 0; i < 3; i++)
      cworst = Math.max(
        cworst,
        relErr(row(chv as Float32Array, i, R), matVec(cnnReference, row(cdirs, i, R))),
      )
    measured['wasm cnn analytic vs float64 FD'] = cworst
    expect(cworst).toBeLessThan(1e-5)
    const cg = gradient64(cnn.arch, cnn.theta, row(cnn.xs, 4, cnn.spec.inputs), [cnn.ys[4] as number], 0)
    expect(relErr(row(crows as Float32Array, 4, R), cg)).toBeLessThan(1e-5)
  })

  it('convnets (valid/same, avg/max/global pooling, sigmoid/tanh): analytic HVPs and per-sample gradients agree with float64', async () => {
    await tf.setBackend('wasm')
    for (const [name, arch] of [
      ['pooling convnet', poolingConvnetArch],
      ['global-pool convnet', globalPoolConvnetArch],
    ] as const) {
      const pr = problem(arch, 10, 25, 0.6)
      const P = pr.spec.size
      const dirs = randomDirections(2, P, 26)
      const [hv, rows] = withTensors(pr, ({ params, x, y }) => [
        read(() => hvp(pr.spec, params, x, y, l2, tf.tensor2d(dirs, [2, P]))),
        read(() => perSampleGradients(pr.spec, params, x, y)),
      ])
      let worst = 0
      for (let i = 0; i < 2; i++)
        worst = Math.max(
          worst,
          relErr(
            row(hv as Float32Array, i, P),
            fdHvp64(pr.arch, pr.theta, pr.xs, pr.ys, l2, row(dirs, i, P)),
          ),
        )
      measured[`wasm ${name} analytic vs float64 FD`] = worst
      expect(worst).toBeLessThan(1e-5)
      const g = gradient64(pr.arch, pr.theta, row(pr.xs, 3, pr.spec.inputs), [pr.ys[3] as number], 0)
      expect(relErr(row(rows as Float32Array, 3, P), g)).toBeLessThan(1e-5)
    }
  })
})
