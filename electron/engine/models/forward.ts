/**
 * The forward pass and loss over a flat parameter tensor, so that TF.js gradients come back
 * as one flat vector too. Only first-order gradients are taken through these functions:
 * second-order quantities come from second-order.ts, never from nested TF.js gradients.
 * Every architecture runs through its normal form (models/spec.ts `layersOf`).
 */
import { denseMatMul } from '../matmul'
import { tf } from '../tf'
import { layersOf, type Activation, type ConvStage, type ModelSpec, type ParamView } from './spec'

const view = (params: tf.Tensor1D, v: ParamView): tf.Tensor =>
  tf.reshape(tf.slice(params, v.offset, v.size), v.shape)

/** Rows and columns of zeros a stride-1 convolution adds before and after the image ('valid': none). */
export function paddingOf(kernel: number, padding: ConvStage['padding']): [number, number] {
  if (padding === 'valid') return [0, 0]
  const before = Math.floor((kernel - 1) / 2)
  return [before, kernel - 1 - before]
}

/**
 * Image patches of a stride-1 convolution, [b, h, w, c] → [b·h′·w′, k·k·c] in (dy, dx, c) order,
 * so that patches · W[k·k·c, out] is the convolution. Convolutions are this matrix product (im2col):
 * the WASM backend has no gradient kernels for conv2d; slices, concat and matMul have them on
 * every backend, so a CNN trains everywhere and gives the same numbers everywhere.
 */
export function im2col(image: tf.Tensor4D, kernel: number, padding: ConvStage['padding']): tf.Tensor2D {
  const [b, height, width, channels] = image.shape
  const [before, after] = paddingOf(kernel, padding)
  const padded =
    before + after === 0
      ? image
      : tf.pad(image, [
          [0, 0],
          [before, after],
          [before, after],
          [0, 0],
        ])
  const outHeight = height + before + after - kernel + 1
  const outWidth = width + before + after - kernel + 1
  const patches: tf.Tensor4D[] = []
  for (let dy = 0; dy < kernel; dy++)
    for (let dx = 0; dx < kernel; dx++)
      patches.push(tf.slice(padded, [0, dy, dx, 0], [b, outHeight, outWidth, channels]))
  return tf.reshape(tf.concat(patches, 3), [b * outHeight * outWidth, kernel * kernel * channels])
}

/** An elementwise activation as TF.js computes it (so training and the second-order code agree). */
export function activate(z: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(z)
    case 'sigmoid':
      return tf.sigmoid(z)
    case 'tanh':
      return tf.tanh(z)
    case 'linear':
      return z
  }
}

/** 2×2 pooling with stride 2 ('valid': an odd last row or column is dropped), by reshape and max or mean. */
export function pool2(x: tf.Tensor4D, pool: 'max' | 'avg'): tf.Tensor4D {
  const [n, height, width, channels] = x.shape
  const h = Math.floor(height / 2)
  const w = Math.floor(width / 2)
  const cropped =
    height === 2 * h && width === 2 * w ? x : tf.slice(x, [0, 0, 0, 0], [n, 2 * h, 2 * w, channels])
  const windows = tf.reshape(cropped, [n, h, 2, w, 2, channels])
  return (pool === 'max' ? tf.max(windows, [2, 4]) : tf.mean(windows, [2, 4])) as tf.Tensor4D
}

/** Logits for a batch of flat input rows, [n, inputs] → [n, classes]. */
export function logits(spec: ModelSpec, params: tf.Tensor1D, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const { image, conv, globalPool, dense } = layersOf(spec.arch)
    const weight = (i: number) => view(params, spec.views[2 * i] as ParamView)
    const bias = (i: number) => view(params, spec.views[2 * i + 1] as ParamView)
    let h: tf.Tensor = x
    if (image) {
      const n = x.shape[0]
      h = tf.reshape(x, [n, image.height, image.width, image.channels])
      conv.forEach((stage, layer) => {
        const { kernel, cin, filters, outHeight, outWidth } = stage
        const columns = im2col(h as tf.Tensor4D, kernel, stage.padding)
        const product = denseMatMul(columns, tf.reshape(weight(layer), [kernel * kernel * cin, filters]))
        const z = tf.add(tf.reshape(product, [n, outHeight, outWidth, filters]), bias(layer))
        const a = activate(z, stage.activation) as tf.Tensor4D
        h = stage.pool === 'none' ? a : pool2(a, stage.pool)
      })
      h = globalPool ? tf.mean(h, [1, 2]) : tf.reshape(h, [n, -1])
    }
    dense.forEach((layer, i) => {
      const z = tf.add(
        denseMatMul(h as tf.Tensor2D, weight(conv.length + i) as tf.Tensor2D),
        bias(conv.length + i),
      )
      h = layer.activation ? activate(z, layer.activation) : z
    })
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
