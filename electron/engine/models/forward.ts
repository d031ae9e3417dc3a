/**
 * The forward pass and loss over a flat parameter tensor, so that TF.js gradients come back
 * as one flat vector too. Only first-order gradients are taken through these functions:
 * second-order quantities come from hvp.ts, never from nested TF.js gradients.
 */
import { denseMatMul } from '../matmul'
import { tf } from '../tf'
import type { ModelSpec, ParamView } from './spec'

const view = (params: tf.Tensor1D, v: ParamView): tf.Tensor =>
  tf.reshape(tf.slice(params, v.offset, v.size), v.shape)

/**
 * A 'same'-padded, stride-1 convolution as one matrix product over image patches (im2col).
 * The WASM backend has no gradient kernels for conv2d; slices, concat and matMul have them on
 * every backend, so a CNN trains everywhere and gives the same numbers everywhere.
 */
function convSame(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const [n, height, width, channels] = x.shape
  const [k, , , out] = w.shape
  const before = Math.floor((k - 1) / 2)
  const padded = tf.pad(x, [
    [0, 0],
    [before, k - 1 - before],
    [before, k - 1 - before],
    [0, 0],
  ])
  const patches: tf.Tensor4D[] = []
  for (let dy = 0; dy < k; dy++) {
    for (let dx = 0; dx < k; dx++)
      patches.push(tf.slice(padded, [0, dy, dx, 0], [n, height, width, channels]))
  }
  const columns = tf.reshape(tf.concat(patches, 3), [n * height * width, k * k * channels])
  return tf.reshape(denseMatMul(columns, tf.reshape(w, [k * k * channels, out])), [n, height, width, out])
}

/** 2×2 max-pooling with stride 2 ('valid': an odd last row or column is dropped), by reshape and max. */
function maxPool2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, height, width, channels] = x.shape
  const h = Math.floor(height / 2)
  const w = Math.floor(width / 2)
  const cropped = tf.slice(x, [0, 0, 0, 0], [n, 2 * h, 2 * w, channels])
  return tf.max(tf.reshape(cropped, [n, h, 2, w, 2, channels]), [2, 4]) as tf.Tensor4D
}

/** Logits for a batch of flat input rows, [n, inputs] → [n, classes]. */
export function logits(spec: ModelSpec, params: tf.Tensor1D, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const { arch } = spec
    const layers = spec.views.length / 2
    const weight = (i: number) => view(params, spec.views[2 * i] as ParamView)
    const bias = (i: number) => view(params, spec.views[2 * i + 1] as ParamView)
    let h: tf.Tensor = x
    let layer = 0
    if (arch.kind === 'cnn') {
      h = tf.reshape(x, [-1, arch.height, arch.width, arch.channels])
      for (; layer < arch.filters.length; layer++) {
        const conv = tf.add(convSame(h as tf.Tensor4D, weight(layer) as tf.Tensor4D), bias(layer))
        h = maxPool2(tf.relu(conv) as tf.Tensor4D)
      }
      h = tf.reshape(h, [h.shape[0] as number, -1])
    }
    for (; layer < layers; layer++) {
      const z = tf.add(denseMatMul(h as tf.Tensor2D, weight(layer) as tf.Tensor2D), bias(layer))
      h = layer === layers - 1 ? z : tf.relu(z)
    }
    return h as tf.Tensor2D
  })
}

/** Mean softmax cross-entropy of a batch, plus (l2/2)·‖θ‖² over all parameters. */
export function lossOf(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
): tf.Scalar {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(y, 'int32'), spec.classes)
    const ce = tf.losses.softmaxCrossEntropy(onehot, logits(spec, params, x))
    return l2 > 0 ? tf.add(ce, tf.mul(0.5 * l2, tf.sum(tf.square(params)))) : ce
  }) as tf.Scalar
}

/** The loss and its gradient with respect to the flat parameter vector. */
export function lossAndGradient(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  l2: number,
): { loss: tf.Scalar; grad: tf.Tensor1D } {
  const { value, grad } = tf.valueAndGrad((p: tf.Tensor) => lossOf(spec, p as tf.Tensor1D, x, y, l2))(params)
  return { loss: value as tf.Scalar, grad: grad as tf.Tensor1D }
}

/** Per-sample cross-entropy losses (no L2), [n]. */
export function sampleLosses(
  spec: ModelSpec,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits(spec, params, x))
    const onehot = tf.oneHot(tf.cast(y, 'int32'), spec.classes)
    return tf.neg(tf.sum(tf.mul(logp, onehot), 1)) as tf.Tensor1D
  })
}
