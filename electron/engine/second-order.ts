/**
 * Second-order quantities of the training loss L(θ) = mean softmax CE over a batch + (l2/2)‖θ‖²,
 * without nested TF.js gradients (wrong for several ops, so never used here).
 *
 * - Analytic (exact) Hessian-vector products by Pearlmutter's R-operator: the forward and backward
 *   R-passes written out by hand (ALGORITHMS.md §7.2) over the normal form of every architecture
 *   (models/spec.ts `layersOf`). With no hidden layer they are exactly the softmax-regression
 *   formulas of §7.1. Convolutions are the same im2col matrix products as models/forward.ts
 *   ('same' or 'valid' padding), so their R-pass is matmuls too, with col2im (the adjoint of
 *   im2col) going down. 2×2 max-pooling routes R-values like its TF.js gradient does (to every
 *   window entry equal to the max); average and global average pooling are linear, so R-values
 *   are pooled the same way and their adjoints spread a gradient evenly over the window.
 *   An activation a = σ(z) gives R(a) = σ′(z)·R(z) going up and, going down,
 *   δ_z = σ′(z)·δ_a, R(δ_z) = σ″(z)·R(z)·δ_a + σ′(z)·R(δ_a); σ″ = 0 for ReLU and linear,
 *   ReLU′(0) = 0 as in TF.js.
 *   The k directions ride along as an extra dimension folded into plain 2-D matmuls:
 *   per-direction tensors are [n, k, …], and products run over [n·k, ·] or [·, k·width].
 * - Finite differences (§7.3), on request only: central differences of the first-order TF.js
 *   gradient, one direction at a time. Fine for smooth models (logreg: ~5e-4 relative at the
 *   default radius); on ReLU networks every pre-activation or max-pool winner that switches
 *   within the radius adds an O(1/r) error, so with realistic batches it can be far off (a
 *   28×28 CNN, 52k parameters, batch 32: ~500% relative error, even in float64 at r = 1e-5).
 *
 * Layout, as in models/spec.ts: one flat Float32 vector, W_l is [fanIn, fanOut] row-major
 * (logits = X·W + b), conv kernels [k, k, cin, out], biases [fanOut], views W1, b1, W2, b2, …
 */
import { matMul } from './matmul'
import { tf } from './tf'
import { activate, im2col, lossAndGradient, paddingOf, pool2 } from './models/forward'
import { layersOf, type Activation, type ConvLayerShape, type ModelSpec, type ParamView } from './models/spec'
import { Random } from './random'

export type HvpMethod = 'auto' | 'analytic' | 'finite-difference'

/** Largest intermediate of one analytic pass, in elements; more directions are chunked. */
const MAX_CHUNK_ELEMENTS = 1 << 24

interface DenseLayer {
  weight: ParamView
  bias: ParamView
  fanIn: number
  fanOut: number
  /** null for the head, whose output is the logits. */
  activation: Activation | null
}

interface ConvLayer extends ConvLayerShape {
  weight: ParamView
  bias: ParamView
  /** Spatial size of the stage's output after its pooling. */
  pooledHeight: number
  pooledWidth: number
}

interface Network {
  image: { height: number; width: number; channels: number } | null
  conv: ConvLayer[]
  globalPool: boolean
  dense: DenseLayer[]
  /** Elements per sample of the largest per-direction intermediate, for chunking. */
  widest: number
}

function networkOf(spec: ModelSpec): Network {
  const layers = layersOf(spec.arch)
  let index = 0
  const nextViews = () => {
    const weight = spec.views[index++] as ParamView
    const bias = spec.views[index++] as ParamView
    return { weight, bias }
  }
  // The data carries no R-value: only what a layer computes is per direction.
  let widest = 0
  const conv = layers.conv.map((shape): ConvLayer => {
    const shrink = (size: number) => (shape.pool === 'none' ? size : Math.floor(size / 2))
    widest = Math.max(
      widest,
      shape.outHeight * shape.outWidth * Math.max(shape.kernel * shape.kernel * shape.cin, shape.filters),
    )
    return {
      ...shape,
      ...nextViews(),
      pooledHeight: shrink(shape.outHeight),
      pooledWidth: shrink(shape.outWidth),
    }
  })
  const dense = layers.dense.map((shape, l): DenseLayer => {
    // R(a_{l−1}) is per direction except for the data feeding the first layer of an MLP or logreg.
    const inputIsData = l === 0 && conv.length === 0
    widest = Math.max(widest, shape.fanOut, inputIsData ? 0 : shape.fanIn)
    return { ...shape, ...nextViews() }
  })
  return { image: layers.image, conv, globalPool: layers.globalPool, dense, widest }
}

function checkShapes(spec: ModelSpec, params: tf.Tensor1D, x: tf.Tensor2D, y: tf.Tensor1D): void {
  if (params.shape[0] !== spec.size)
    throw new Error(`params have ${params.shape[0]} entries, the model has ${spec.size}`)
  if (x.shape[1] !== spec.inputs)
    throw new Error(`x has ${x.shape[1]} columns, the model takes ${spec.inputs}`)
  if (y.shape[0] !== x.shape[0]) throw new Error(`x has ${x.shape[0]} rows but y has ${y.shape[0]} labels`)
  if (x.shape[0] === 0) throw new Error('empty batch')
}

const sliceView = (params: tf.Tensor1D, view: ParamView, shape: number[]): tf.Tensor =>
  tf.reshape(tf.slice(params, view.offset, view.size), shape)

/** The k rows of a direction block restricted to one view, [k, ...shape]. */
const directionView = (v: tf.Tensor2D, view: ParamView, shape: number[]): tf.Tensor =>
  tf.reshape(tf.slice(v, [0, view.offset], [v.shape[0], view.size]), [v.shape[0], ...shape])

/** σ′(z) and σ″(z) of an activation, [n, …]; null where σ′ is 1 or σ″ is 0 (nothing to multiply). */
interface Slopes {
  first: tf.Tensor | null
  second: tf.Tensor | null
}

/** The slopes from z and a = σ(z), by the same formulas as the TF.js gradients of sigmoid and tanh. */
function slopesOf(activation: Activation, z: tf.Tensor, a: tf.Tensor): Slopes {
  switch (activation) {
    case 'relu':
      return { first: tf.cast(tf.greater(z, 0), 'float32'), second: null }
    case 'linear':
      return { first: null, second: null }
    case 'sigmoid': {
      const first = tf.mul(a, tf.sub(1, a)) // σ(1 − σ)
      return { first, second: tf.mul(first, tf.sub(1, tf.mul(2, a))) } // σ(1 − σ)(1 − 2σ)
    }
    case 'tanh': {
      const first = tf.sub(1, tf.square(a)) // 1 − tanh²
      return { first, second: tf.mul(-2, tf.mul(a, first)) } // −2 tanh (1 − tanh²)
    }
  }
}

/** t ⊙ factor, with factor [n, …] broadcast over the direction axis of a per-direction t [n, k, …]. */
const times = (t: tf.Tensor, factor: tf.Tensor | null, perDirection: boolean): tf.Tensor =>
  factor ? tf.mul(t, perDirection ? tf.expandDims(factor, 1) : factor) : t

/**
 * Down through an activation: δ_z = σ′ ⊙ δ_a and, when R-values ride along,
 * R(δ_z) = σ″ ⊙ R(z) ⊙ δ_a + σ′ ⊙ R(δ_a). δ is [n, …]; R(z) and R(δ) are [n, k, …].
 */
function activationBackward(
  slopes: Slopes,
  delta: tf.Tensor,
  r: { z: tf.Tensor; delta: tf.Tensor } | null,
): { delta: tf.Tensor; rDelta: tf.Tensor | null } {
  const down = times(delta, slopes.first, false)
  if (!r) return { delta: down, rDelta: null }
  let rDelta = times(r.delta, slopes.first, true)
  if (slopes.second) rDelta = tf.add(rDelta, tf.mul(times(r.z, slopes.second, true), tf.expandDims(delta, 1)))
  return { delta: down, rDelta }
}

/** The adjoint of {@link im2col}: sums patch gradients back onto the image, [b·h′·w′, k·k·c] → [b, h, w, c]. */
function col2im(
  columns: tf.Tensor2D,
  shape: [number, number, number, number],
  kernel: number,
  padding: ConvLayer['padding'],
): tf.Tensor4D {
  const [b, height, width, channels] = shape
  const [before, after] = paddingOf(kernel, padding)
  const outHeight = height + before + after - kernel + 1
  const outWidth = width + before + after - kernel + 1
  const grid = tf.reshape(columns, [b, outHeight, outWidth, kernel * kernel * channels]) as tf.Tensor4D
  let sum: tf.Tensor4D | null = null
  for (let dy = 0; dy < kernel; dy++)
    for (let dx = 0; dx < kernel; dx++) {
      const patch = tf.slice(
        grid,
        [0, 0, 0, (dy * kernel + dx) * channels],
        [b, outHeight, outWidth, channels],
      )
      const placed = tf.pad(patch, [
        [0, 0],
        [dy, kernel - 1 - dy],
        [dx, kernel - 1 - dx],
        [0, 0],
      ])
      sum = sum ? (tf.add(sum, placed) as tf.Tensor4D) : placed
    }
  return tf.slice(sum as tf.Tensor4D, [0, before, before, 0], [b, height, width, channels])
}

/** The routing mask of 2×2 max-pooling, [b, 2h, 2w, c]: 1 where an entry equals its window's max. */
function maxPoolMask(a: tf.Tensor4D, pooled: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, channels] = pooled.shape
  const windows = tf.reshape(tf.slice(a, [0, 0, 0, 0], [b, 2 * h, 2 * w, channels]), [
    b,
    h,
    2,
    w,
    2,
    channels,
  ])
  const hit = tf.equal(windows, tf.reshape(pooled, [b, h, 1, w, 1, channels]))
  return tf.reshape(tf.cast(hit, 'float32'), [b, 2 * h, 2 * w, channels])
}

/** Every window entry receiving its window's value: [b, h, w, c] → [b, 2h, 2w, c]. */
function unpool(g: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, channels] = g.shape
  const spread = tf.mul(tf.reshape(g, [b, h, 1, w, 1, channels]), tf.ones([1, 1, 2, 1, 2, 1]))
  return tf.reshape(spread, [b, 2 * h, 2 * w, channels])
}

/** Zero-pads the bottom and right of [b, 2h, 2w, c] back to a layer's odd height or width. */
function padTo(g: tf.Tensor, height: number, width: number): tf.Tensor4D {
  const [, h, w] = g.shape as [number, number, number, number]
  if (h === height && w === width) return g as tf.Tensor4D
  return tf.pad(g as tf.Tensor4D, [
    [0, 0],
    [0, height - h],
    [0, width - w],
    [0, 0],
  ])
}

/** A stage's pooling applied to R-values, [n, k, h′, w′, c] → [n·k, h′/2, w′/2, c] (linear given the max-pool mask). */
function poolR(ra: tf.Tensor, layer: ConvLayer, mask: tf.Tensor4D | null): tf.Tensor4D {
  const [n, k] = ra.shape as [number, number]
  const { filters, outHeight, outWidth, pooledHeight: ph, pooledWidth: pw } = layer
  if (layer.pool === 'none') return tf.reshape(ra, [n * k, outHeight, outWidth, filters])
  let windows = tf.slice(ra, [0, 0, 0, 0, 0], [n, k, 2 * ph, 2 * pw, filters])
  if (mask) windows = tf.mul(windows, tf.expandDims(mask, 1))
  const grouped = tf.reshape(windows, [n * k, ph, 2, pw, 2, filters])
  return (layer.pool === 'max' ? tf.sum(grouped, [2, 4]) : tf.mean(grouped, [2, 4])) as tf.Tensor4D
}

/** The adjoint of a stage's pooling: gradients at its output [n, m, ph, pw, c] → at its activation [n, m, h′, w′, c]. */
function poolBackward(g: tf.Tensor, layer: ConvLayer, mask: tf.Tensor4D | null): tf.Tensor {
  if (layer.pool === 'none') return g
  const [n, m] = g.shape as [number, number]
  const { filters, outHeight, outWidth, pooledHeight: ph, pooledWidth: pw } = layer
  const spread = tf.reshape(unpool(tf.reshape(g, [n * m, ph, pw, filters]) as tf.Tensor4D), [
    n,
    m,
    2 * ph,
    2 * pw,
    filters,
  ])
  // Max-pooling routes to the window's max; averaging gives each of the 4 entries a quarter.
  const routed = mask ? tf.mul(spread, tf.expandDims(mask, 1)) : tf.mul(spread, 0.25)
  return tf.reshape(padTo(tf.reshape(routed, [n * m, 2 * ph, 2 * pw, filters]), outHeight, outWidth), [
    n,
    m,
    outHeight,
    outWidth,
    filters,
  ])
}

/**
 * From gradients at the dense features [n, m, features] to gradients at the last stage's pooled
 * output [n, m, ph, pw, c]: unflattened, or spread evenly over the image under global average pooling.
 */
function featuresToImage(g: tf.Tensor, net: Network): tf.Tensor {
  const [n, m] = g.shape as [number, number]
  const last = net.conv[net.conv.length - 1] as ConvLayer
  const { pooledHeight: ph, pooledWidth: pw, filters } = last
  if (!net.globalPool) return tf.reshape(g, [n, m, ph, pw, filters])
  return tf.mul(tf.reshape(g, [n, m, 1, 1, filters]), tf.fill([1, 1, ph, pw, 1], 1 / (ph * pw)))
}

interface ConvCache {
  /** im2col of the stage's input, [n·h′·w′, k·k·cin]. */
  columns: tf.Tensor2D
  weight: tf.Tensor2D
  slopes: Slopes
  /** Max-pooling's routing mask, [n, 2·ph, 2·pw, filters]; null for other pooling. */
  poolMask: tf.Tensor4D | null
}

interface Forward {
  conv: ConvCache[]
  /** Inputs of the dense layers: [0] is x, or the convolutions' flattened or pooled features. */
  inputs: tf.Tensor2D[]
  /** Slopes of the hidden dense layers' activations. */
  slopes: Slopes[]
  weights: tf.Tensor2D[]
  logits: tf.Tensor2D
}

/** The forward pass (the same arithmetic as models/forward.ts), keeping what the backward passes need. */
function forward(net: Network, params: tf.Tensor1D, x: tf.Tensor2D): Forward {
  const n = x.shape[0]
  const conv: ConvCache[] = []
  let h: tf.Tensor2D = x
  if (net.image) {
    let image = tf.reshape(x, [n, net.image.height, net.image.width, net.image.channels]) as tf.Tensor4D
    for (const layer of net.conv) {
      const { kernel, cin, filters, outHeight, outWidth } = layer
      const columns = im2col(image, kernel, layer.padding)
      const weight = sliceView(params, layer.weight, [kernel * kernel * cin, filters]) as tf.Tensor2D
      const z = tf.add(
        tf.reshape(matMul(columns, weight), [n, outHeight, outWidth, filters]),
        tf.slice(params, layer.bias.offset, filters),
      )
      const a = activate(z, layer.activation) as tf.Tensor4D
      let poolMask: tf.Tensor4D | null = null
      if (layer.pool === 'none') image = a
      else {
        image = pool2(a, layer.pool)
        if (layer.pool === 'max') poolMask = maxPoolMask(a, image)
      }
      conv.push({ columns, weight, slopes: slopesOf(layer.activation, z, a), poolMask })
    }
    h = net.globalPool ? (tf.mean(image, [1, 2]) as tf.Tensor2D) : tf.reshape(image, [n, -1])
  }
  const inputs: tf.Tensor2D[] = [h]
  const slopes: Slopes[] = []
  const weights: tf.Tensor2D[] = []
  for (const layer of net.dense) {
    const weight = sliceView(params, layer.weight, [layer.fanIn, layer.fanOut]) as tf.Tensor2D
    weights.push(weight)
    const z = tf.add(matMul(h, weight), tf.slice(params, layer.bias.offset, layer.fanOut)) as tf.Tensor2D
    if (!layer.activation) return { conv, inputs, slopes, weights, logits: z }
    h = activate(z, layer.activation) as tf.Tensor2D
    slopes.push(slopesOf(layer.activation, z, h))
    inputs.push(h)
  }
  throw new Error('a model needs a head: a last dense layer without activation')
}

/**
 * Exact HVPs for the k rows of `v` ([k, P]) by the R-operator; see the module comment.
 * Notation: n samples, k directions; a "per-direction" tensor is [n, k, …] (or [n·k, …]).
 */
function rOperatorHvp(
  spec: ModelSpec,
  net: Network,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
  v: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const n = x.shape[0]
    const k = v.shape[0]
    const fwd = forward(net, params, x)
    const pieces: tf.Tensor2D[] = new Array(spec.views.length)

    // Forward R-pass through the convolutions: R(z) = cols(a)·V + cols(R a)·W + c; R(a) = σ′ ⊙ R(z);
    // then the stage's pooling of R(a). rColumns[l] = cols(R a_{l−1}), null for the data layer.
    const rColumns: (tf.Tensor2D | null)[] = []
    const rConvZ: tf.Tensor[] = [] // [n, k, h′, w′, filters]
    let rImage: tf.Tensor4D | null = null // [n·k, h, w, c]
    for (let l = 0; l < net.conv.length; l++) {
      const layer = net.conv[l] as ConvLayer
      const { kernel, cin, filters: out, outHeight, outWidth } = layer
      const cache = fwd.conv[l] as ConvCache
      const patch = kernel * kernel * cin
      const dirW = directionView(v, layer.weight, [patch, out]) // [k, patch, out]
      const foldedV = tf.reshape(tf.transpose(dirW, [1, 0, 2]), [patch, k * out])
      let rz: tf.Tensor = tf.transpose(
        tf.reshape(matMul(cache.columns, foldedV), [n, outHeight, outWidth, k, out]),
        [0, 3, 1, 2, 4],
      )
      const rCols = rImage ? im2col(rImage, kernel, layer.padding) : null
      if (rCols) rz = tf.add(rz, tf.reshape(matMul(rCols, cache.weight), [n, k, outHeight, outWidth, out]))
      rz = tf.add(rz, tf.reshape(directionView(v, layer.bias, [out]), [1, k, 1, 1, out]))
      rColumns.push(rCols)
      rConvZ.push(rz)
      rImage = poolR(times(rz, cache.slopes.first, true), layer, cache.poolMask)
    }

    // Forward R-pass through the dense layers: R(z_l) = a_{l−1}·V_l + R(a_{l−1})·W_l + c_l.
    const features = fwd.inputs[0] as tf.Tensor2D
    const rFeatures = rImage && (net.globalPool ? tf.mean(rImage, [1, 2]) : rImage)
    const rInputs: (tf.Tensor3D | null)[] = [
      rFeatures ? tf.reshape(rFeatures, [n, k, features.shape[1]]) : null,
    ]
    const rDenseZ: tf.Tensor3D[] = []
    let rLogits: tf.Tensor3D | null = null
    for (let l = 0; l < net.dense.length; l++) {
      const layer = net.dense[l] as DenseLayer
      const { fanIn, fanOut } = layer
      const a = fwd.inputs[l] as tf.Tensor2D
      const ra = rInputs[l] ?? null
      const foldedV = tf.reshape(tf.transpose(directionView(v, layer.weight, [fanIn, fanOut]), [1, 0, 2]), [
        fanIn,
        k * fanOut,
      ])
      let rz: tf.Tensor3D = tf.reshape(matMul(a, foldedV), [n, k, fanOut])
      if (ra) {
        const raW = matMul(tf.reshape(ra, [n * k, fanIn]), fwd.weights[l] as tf.Tensor2D)
        rz = tf.add(rz, tf.reshape(raW, [n, k, fanOut]))
      }
      rz = tf.add(rz, directionView(v, layer.bias, [fanOut])) // [k, fanOut] broadcasts over n
      if (l === net.dense.length - 1) rLogits = rz
      else {
        rDenseZ.push(rz)
        rInputs.push(times(rz, (fwd.slopes[l] as Slopes).first, true) as tf.Tensor3D)
      }
    }

    // Backward: δ_L = p − y; R(δ_L) = (diag p − p pᵀ)·R(z_L), per sample and direction.
    const onehot = tf.oneHot(tf.cast(y, 'int32'), spec.classes)
    const p = tf.softmax(fwd.logits)
    let delta: tf.Tensor = tf.sub(p, onehot)
    const pk = tf.expandDims(p, 1) // [n, 1, C]
    const pu = tf.mul(pk, rLogits as tf.Tensor3D)
    let rDelta: tf.Tensor = tf.sub(pu, tf.mul(pk, tf.sum(pu, 2, true)))

    const firstDense = 2 * net.conv.length
    for (let l = net.dense.length - 1; l >= 0; l--) {
      const layer = net.dense[l] as DenseLayer
      const { fanIn, fanOut } = layer
      const a = fwd.inputs[l] as tf.Tensor2D
      const ra = rInputs[l] ?? null
      // (Hv)_{W_l} = Σ_n [a_{l−1}ᵀ R(δ_l) + R(a_{l−1})ᵀ δ_l] / n, in the [fanIn, fanOut] layout.
      const aRd = matMul(a, tf.reshape(rDelta, [n, k * fanOut]), true, false) // [fanIn, k·fanOut]
      let hw: tf.Tensor = tf.transpose(tf.reshape(aRd, [fanIn, k, fanOut]), [1, 0, 2])
      if (ra) {
        const raD = matMul(tf.reshape(ra, [n, k * fanIn]), delta, true, false) // [k·fanIn, fanOut]
        hw = tf.add(hw, tf.reshape(raD, [k, fanIn, fanOut]))
      }
      pieces[firstDense + 2 * l] = tf.reshape(hw, [k, fanIn * fanOut])
      pieces[firstDense + 2 * l + 1] = tf.sum(rDelta, 0) as tf.Tensor2D // (Hv)_{b_l} = Σ_n R(δ_l) / n
      if (l === 0 && net.conv.length === 0) break
      // δ_a below = δ_l W_lᵀ; R(δ_a below) = δ_l V_lᵀ + R(δ_l) W_lᵀ; then down through that layer's
      // activation. The convolutions' features have none of their own (it comes before the pooling).
      const w = fwd.weights[l] as tf.Tensor2D
      const foldedVt = tf.reshape(tf.transpose(directionView(v, layer.weight, [fanIn, fanOut]), [2, 0, 1]), [
        fanOut,
        k * fanIn,
      ])
      const dVt = tf.reshape(matMul(delta, foldedVt), [n, k, fanIn])
      const rdWt = tf.reshape(matMul(tf.reshape(rDelta, [n * k, fanOut]), w, false, true), [n, k, fanIn])
      rDelta = tf.add(dVt, rdWt)
      delta = matMul(delta, w, false, true)
      if (l > 0) {
        const below = activationBackward(fwd.slopes[l - 1] as Slopes, delta, {
          z: rDenseZ[l - 1] as tf.Tensor,
          delta: rDelta,
        })
        delta = below.delta
        rDelta = below.rDelta as tf.Tensor
      }
    }

    // Backward through the convolutions, from the last one down. δ is [n, 1, h, w, c] and R(δ)
    // [n, k, h, w, c] at each stage's pooled output.
    if (net.conv.length > 0) {
      delta = featuresToImage(tf.expandDims(delta, 1), net)
      rDelta = featuresToImage(rDelta, net)
    }
    for (let l = net.conv.length - 1; l >= 0; l--) {
      const layer = net.conv[l] as ConvLayer
      const { kernel, cin, filters: out, height, width, outHeight, outWidth } = layer
      const cache = fwd.conv[l] as ConvCache
      const patch = kernel * kernel * cin
      // δ and R(δ) at the pooled output → at the activation (pooling's adjoint) → at z.
      const atZ = activationBackward(
        cache.slopes,
        tf.squeeze(poolBackward(delta, layer, cache.poolMask), [1]),
        {
          z: rConvZ[l] as tf.Tensor,
          delta: poolBackward(rDelta, layer, cache.poolMask),
        },
      )
      const rdz = atZ.rDelta as tf.Tensor // [n, k, h′, w′, out]
      const cells = n * outHeight * outWidth
      const dzFlat = tf.reshape(atZ.delta, [cells, out])
      // (Hv)_W = Σ cols(a)ᵀ R(δ_z) + cols(R a)ᵀ δ_z; (Hv)_b = Σ R(δ_z); both / n later.
      const rdzByCell = tf.reshape(tf.transpose(rdz, [0, 2, 3, 1, 4]), [cells, k * out])
      const colsRd = matMul(cache.columns, rdzByCell, true, false) // [patch, k·out]
      let hw: tf.Tensor = tf.transpose(tf.reshape(colsRd, [patch, k, out]), [1, 0, 2])
      const rCols = rColumns[l] ?? null
      if (rCols) {
        const rColsByCell = tf.reshape(
          tf.transpose(tf.reshape(rCols, [n, k, outHeight * outWidth, patch]), [0, 2, 1, 3]),
          [cells, k * patch],
        )
        hw = tf.add(hw, tf.reshape(matMul(rColsByCell, dzFlat, true, false), [k, patch, out]))
      }
      pieces[2 * l] = tf.reshape(hw, [k, patch * out])
      pieces[2 * l + 1] = tf.sum(rdz, [0, 2, 3]) as tf.Tensor2D
      if (l === 0) break
      // Down to the pooled output of the stage below: δ_a = col2im(δ_z Wᵀ);
      // R(δ_a) = col2im(R(δ_z) Wᵀ + δ_z Vᵀ).
      const foldedVt = tf.reshape(tf.transpose(directionView(v, layer.weight, [patch, out]), [2, 0, 1]), [
        out,
        k * patch,
      ])
      const dzVt = tf.reshape(
        tf.transpose(
          tf.reshape(matMul(dzFlat, foldedVt), [n, outHeight, outWidth, k, patch]),
          [0, 3, 1, 2, 4],
        ),
        [n * k * outHeight * outWidth, patch],
      )
      const rdzWt = matMul(tf.reshape(rdz, [n * k * outHeight * outWidth, out]), cache.weight, false, true)
      const dCols = matMul(dzFlat, cache.weight, false, true)
      delta = tf.reshape(col2im(dCols, [n, height, width, cin], kernel, layer.padding), [
        n,
        1,
        height,
        width,
        cin,
      ])
      rDelta = tf.reshape(col2im(tf.add(rdzWt, dzVt), [n * k, height, width, cin], kernel, layer.padding), [
        n,
        k,
        height,
        width,
        cin,
      ])
    }

    const hv = tf.div(tf.concat(pieces, 1), n)
    return (l2 !== 0 ? tf.add(hv, tf.mul(v, l2)) : hv) as tf.Tensor2D
  })
}

/**
 * How many directions one analytic pass takes for a batch of `batchRows` samples; {@link hvp} splits a
 * larger block into slices of this many rows (slicing is slow on WASM, so callers that own the
 * block can pass it in pieces of this size instead).
 */
export function hvpChunkRows(spec: ModelSpec, batchRows: number): number {
  // Per-sample intermediates are [n, k, widest]; the folded directions themselves are k × P.
  const perDirection = Math.max(batchRows * networkOf(spec).widest, spec.size)
  return Math.max(1, Math.floor(MAX_CHUNK_ELEMENTS / perDirection))
}

function analyticHvp(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
  directions: tf.Tensor2D,
): tf.Tensor2D {
  const net = networkOf(spec)
  const [k, size] = directions.shape
  const chunk = hvpChunkRows(spec, x.shape[0])
  if (k <= chunk) return rOperatorHvp(spec, net, params, x, y, l2, directions)
  const parts: tf.Tensor2D[] = []
  try {
    for (let start = 0; start < k; start += chunk) {
      const rows = Math.min(chunk, k - start)
      parts.push(
        tf.tidy(() =>
          rOperatorHvp(spec, net, params, x, y, l2, tf.slice(directions, [start, 0], [rows, size])),
        ),
      )
    }
    return tf.concat(parts, 0)
  } finally {
    for (const part of parts) part.dispose()
  }
}

/**
 * The default finite-difference radius, §7.3's "r ≈ 1e-3 to 1e-2 × max(1, ‖w‖/√d)" at its low end:
 * r = 1e-3 · max(1, ‖θ‖/√P). (On softmax regression 1e-2 is about 10× more accurate, but on ReLU
 * networks a larger radius crosses more kinks.)
 */
export function finiteDifferenceRadius(paramNorm: number, size: number): number {
  return 1e-3 * Math.max(1, paramNorm / Math.sqrt(Math.max(1, size)))
}

function finiteDifferenceHvp(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
  directions: tf.Tensor2D,
  radius: number | undefined,
): tf.Tensor2D {
  const [k, size] = directions.shape
  const r =
    radius ??
    finiteDifferenceRadius(
      tf.tidy(() => tf.norm(params).dataSync()[0] as number),
      size,
    )
  if (!(r > 0) || !Number.isFinite(r)) throw new Error(`finite-difference radius must be positive, got ${r}`)
  const rows: tf.Tensor1D[] = []
  try {
    for (let i = 0; i < k; i++) {
      rows.push(
        tf.tidy(() => {
          const v = tf.reshape(tf.slice(directions, [i, 0], [1, size]), [size]) as tf.Tensor1D
          const norm = tf.norm(v)
          // v̂·r without a host round trip; a zero direction gives a zero step and a zero product.
          const step = tf.mul(v, tf.div(r, tf.maximum(norm, 1e-30)))
          const plus = lossAndGradient(spec, tf.add(params, step), x, y, l2).grad
          const minus = lossAndGradient(spec, tf.sub(params, step), x, y, l2).grad
          return tf.mul(tf.sub(plus, minus), tf.div(norm, 2 * r)) as tf.Tensor1D
        }),
      )
    }
    return tf.stack(rows) as tf.Tensor2D
  } finally {
    for (const row of rows) row.dispose()
  }
}

/**
 * The method 'auto' stands for: 'analytic' (the exact R-operator) for every architecture. ALGORITHMS.md §7
 * had the CNN fall back to finite differences until a conv R-operator existed; it exists now, and
 * finite differences on a ReLU CNN of realistic size are far off (every ReLU or max-pool switch
 * inside the radius adds an O(1/r) error), so they stay available only on request.
 */
export function resolveHvpMethod(
  spec: ModelSpec,
  method: HvpMethod = 'auto',
): 'analytic' | 'finite-difference' {
  if (method !== 'auto') return method
  switch (spec.arch.kind) {
    case 'logreg':
    case 'mlp':
    case 'cnn':
    case 'convnet':
      return 'analytic'
  }
}

/**
 * Hessian-vector products of the training loss L(θ) = mean CE over the batch + (l2/2)‖θ‖², for
 * k directions at once: `directions` is [k, P], the result [k, P] with row i = H·directions[i].
 *
 * 'analytic' is the exact R-operator (every architecture); 'finite-difference' is §7.3; 'auto'
 * is {@link resolveHvpMethod} (analytic everywhere). `radius` overrides the finite-difference radius
 * ({@link finiteDifferenceRadius} of ‖θ‖ by default); the analytic path ignores it.
 */
export function hvp(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
  directions: tf.Tensor2D,
  method: HvpMethod = 'auto',
  radius?: number,
): tf.Tensor2D {
  checkShapes(spec, params, x, y)
  if (directions.shape[1] !== spec.size)
    throw new Error(`directions have ${directions.shape[1]} columns, the model has ${spec.size} parameters`)
  if (directions.shape[0] === 0) return tf.zeros([0, spec.size])
  return resolveHvpMethod(spec, method) === 'analytic'
    ? analyticHvp(spec, params, x, y, l2, directions)
    : finiteDifferenceHvp(spec, params, x, y, l2, directions, radius)
}

/**
 * Gradients of each sample's cross-entropy loss (no L2 term), [n, P], from one batched backward
 * pass (no per-sample backward passes): per sample, a_{l−1} ⊗ δ_l for dense layers and
 * cols(a)ᵀ δ_z (a batched matmul) for convolutions.
 */
export function perSampleGradients(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
): tf.Tensor2D {
  checkShapes(spec, params, x, y)
  return tf.tidy(() => {
    const n = x.shape[0]
    const net = networkOf(spec)
    const fwd = forward(net, params, x)
    const onehot = tf.oneHot(tf.cast(y, 'int32'), spec.classes)
    let delta: tf.Tensor = tf.sub(tf.softmax(fwd.logits), onehot) // per-sample ∂CE/∂z_L, no 1/n
    const pieces: tf.Tensor2D[] = new Array(spec.views.length)
    const firstDense = 2 * net.conv.length
    for (let l = net.dense.length - 1; l >= 0; l--) {
      const { fanIn, fanOut } = net.dense[l] as DenseLayer
      const a = fwd.inputs[l] as tf.Tensor2D
      // Row-major W[i, j] = a_i δ_j for each sample.
      pieces[firstDense + 2 * l] = tf.reshape(tf.mul(tf.expandDims(a, 2), tf.expandDims(delta, 1)), [
        n,
        fanIn * fanOut,
      ])
      pieces[firstDense + 2 * l + 1] = delta as tf.Tensor2D
      if (l === 0 && net.conv.length === 0) break
      delta = matMul(delta, fwd.weights[l] as tf.Tensor2D, false, true)
      if (l > 0) delta = activationBackward(fwd.slopes[l - 1] as Slopes, delta, null).delta
    }
    if (net.conv.length > 0) delta = featuresToImage(tf.expandDims(delta, 1), net) // [n, 1, h, w, c]
    for (let l = net.conv.length - 1; l >= 0; l--) {
      const layer = net.conv[l] as ConvLayer
      const { kernel, cin, filters: out, height, width, outHeight, outWidth } = layer
      const cache = fwd.conv[l] as ConvCache
      const patch = kernel * kernel * cin
      const atActivation = tf.squeeze(poolBackward(delta, layer, cache.poolMask), [1])
      const dz = activationBackward(cache.slopes, atActivation, null).delta
      const dzByCell = tf.reshape(dz, [n, outHeight * outWidth, out])
      const cols = tf.reshape(cache.columns, [n, outHeight * outWidth, patch])
      pieces[2 * l] = tf.reshape(matMul(cols, dzByCell, true, false), [n, patch * out])
      pieces[2 * l + 1] = tf.sum(dzByCell, 1) as tf.Tensor2D
      if (l === 0) break
      const dCols = matMul(tf.reshape(dz, [n * outHeight * outWidth, out]), cache.weight, false, true)
      delta = tf.reshape(col2im(dCols, [n, height, width, cin], kernel, layer.padding), [
        n,
        1,
        height,
        width,
        cin,
      ])
    }
    return tf.concat(pieces, 1) as tf.Tensor2D
  })
}

/**
 * The exact Hessian of the loss of a logreg model, [P, P] row-major, in float64 plain JS
 * (independent of TF.js; for tests and small models only). With x̃ = [x, 1] and the flat index
 * d·C + c for W[d, c] (d < D) and for b[c] (d = D, since b follows W):
 * H = (1/n) Σ_i (x̃_i x̃_iᵀ) ⊗ (diag p_i − p_i p_iᵀ) + l2·I.
 */
export function exactLogregHessian(
  spec: ModelSpec,
  params: Float32Array,
  x: Float32Array,
  y: Int32Array,
  l2: number,
): Float64Array {
  if (spec.arch.kind !== 'logreg') throw new Error('exactLogregHessian needs a logreg model')
  const D = spec.inputs
  const C = spec.classes
  const P = spec.size
  if (params.length !== P) throw new Error(`params have ${params.length} entries, the model has ${P}`)
  const n = y.length
  if (x.length !== n * D) throw new Error(`x has ${x.length} entries, expected ${n}×${D}`)
  const H = new Float64Array(P * P)
  const xt = new Float64Array(D + 1)
  const p = new Float64Array(C)
  const S = new Float64Array(C * C)
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < D; d++) xt[d] = x[i * D + d] as number
    xt[D] = 1
    let max = -Infinity
    for (let c = 0; c < C; c++) {
      let z = params[D * C + c] as number
      for (let d = 0; d < D; d++) z += (xt[d] as number) * (params[d * C + c] as number)
      p[c] = z
      if (z > max) max = z
    }
    let total = 0
    for (let c = 0; c < C; c++) {
      p[c] = Math.exp((p[c] as number) - max)
      total += p[c] as number
    }
    for (let c = 0; c < C; c++) p[c] = (p[c] as number) / total
    for (let c = 0; c < C; c++)
      for (let e = 0; e < C; e++)
        S[c * C + e] = (c === e ? (p[c] as number) : 0) - (p[c] as number) * (p[e] as number)
    for (let d = 0; d <= D; d++) {
      const xd = xt[d] as number
      if (xd === 0) continue
      for (let e = 0; e <= D; e++) {
        const xde = (xd * (xt[e] as number)) / n
        if (xde === 0) continue
        for (let c = 0; c < C; c++) {
          const row = (d * C + c) * P + e * C
          for (let c2 = 0; c2 < C; c2++)
            H[row + c2] = (H[row + c2] as number) + xde * (S[c * C + c2] as number)
        }
      }
    }
  }
  for (let j = 0; j < P; j++) H[j * P + j] = (H[j * P + j] as number) + l2
  return H
}

/**
 * The dominant eigenvalue (largest in magnitude, with its sign) of the loss Hessian on a batch, by
 * power iteration with {@link hvp}. The estimate is the Rayleigh quotient vᵀHv (‖v‖ = 1); it stops
 * when the residual ‖Hv − λv‖ ≤ tolerance·|λ| (then λ is within tolerance·|λ| of an eigenvalue),
 * or after `iterations` HVPs. For L2-regularised logreg (H ≻ 0) this is the largest eigenvalue; an
 * MLP or CNN Hessian can be indefinite, and then it is the spectral radius with the sign of its eigenvalue.
 */
export function topEigenvalue(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
  options: {
    iterations?: number
    tolerance?: number
    seed?: number
    method?: HvpMethod
    radius?: number
    /** Iterate H − shift·I instead (the value returned is still an eigenvalue of H): with the top eigenvalue as the shift, this finds the other end of the spectrum. */
    shift?: number
  } = {},
): { value: number; iterations: number } {
  const shift = options.shift ?? 0
  const iterations = Math.max(1, Math.floor(options.iterations ?? 100))
  const tolerance = options.tolerance ?? 1e-4
  const method = options.method ?? 'auto'
  const P = spec.size
  const fd = resolveHvpMethod(spec, method) === 'finite-difference'
  const radius =
    options.radius ??
    (fd
      ? finiteDifferenceRadius(
          tf.tidy(() => tf.norm(params).dataSync()[0] as number),
          P,
        )
      : undefined)
  const random = new Random(options.seed ?? 0)
  let v = new Float64Array(P)
  for (let j = 0; j < P; j++) v[j] = random.normal()
  let norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0))
  for (let j = 0; j < P; j++) v[j] = (v[j] as number) / norm
  let value = 0
  for (let it = 1; it <= iterations; it++) {
    const hv = Float64Array.from(
      tf.tidy(() => {
        const direction = tf.tensor2d(Float32Array.from(v), [1, P])
        return hvp(spec, params, x, y, l2, direction, method, radius).dataSync()
      }),
    )
    if (shift !== 0) for (let j = 0; j < P; j++) hv[j] = (hv[j] as number) - shift * (v[j] as number)
    value = 0
    for (let j = 0; j < P; j++) value += (v[j] as number) * (hv[j] as number)
    let residual = 0
    norm = 0
    for (let j = 0; j < P; j++) {
      const h = hv[j] as number
      residual += (h - value * (v[j] as number)) ** 2
      norm += h * h
    }
    if (!Number.isFinite(value)) throw new Error('power iteration diverged: the HVP is not finite')
    if (Math.sqrt(residual) <= tolerance * Math.abs(value) || norm === 0)
      return { value: value + shift, iterations: it }
    norm = Math.sqrt(norm)
    const next = new Float64Array(P)
    for (let j = 0; j < P; j++) next[j] = (hv[j] as number) / norm
    v = next
  }
  return { value: value + shift, iterations }
}
