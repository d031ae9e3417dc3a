/**
 * Model architectures and their parameters as one flat Float32 vector with named views.
 * Every method works on the flat vector (updates, distances, Hessian-vector products); the
 * views say which slice is which layer, and which layers form the classifier head.
 *
 * Lethe trains three kinds itself (logreg, mlp, cnn); a 'convnet' is the general form an
 * imported convolutional network takes (per-stage kernels, padding, activation and pooling,
 * optional global average pooling, any dense stack). {@link layersOf} turns every kind into one
 * normal form of conv stages and dense layers, which the forward pass, the second-order code,
 * the memory estimate and the exporters all read.
 */
import { Random } from '../random'

/** Elementwise activations; 'linear' is the identity (a layer with no activation of its own). */
export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'linear'
export const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh', 'linear']

/** One convolution stage: a stride-1 convolution, its activation, then optional 2×2, stride-2 pooling. */
export interface ConvStage {
  filters: number
  kernel: number
  /** 'same' pads (k−1)/2 before and the rest after (TF.js and Keras 'same'); 'valid' pads nothing. */
  padding: 'same' | 'valid'
  activation: Activation
  /** 2×2 windows, stride 2, 'valid' (an odd last row or column is dropped). */
  pool: 'max' | 'avg' | 'none'
}

export type Architecture =
  | { kind: 'logreg'; inputs: number; classes: number }
  | {
      kind: 'mlp'
      inputs: number
      hidden: number[]
      classes: number
      /** Of every hidden layer; absent means ReLU (all records before imports had it). */
      activation?: Activation
    }
  | {
      kind: 'cnn'
      height: number
      width: number
      channels: number
      /** Output channels of each 'same'-padded conv layer, each followed by ReLU and 2×2 max-pooling. */
      filters: number[]
      kernel: number
      /** Width of the dense ReLU layer before the head. */
      dense: number
      classes: number
    }
  | {
      kind: 'convnet'
      height: number
      width: number
      channels: number
      stages: ConvStage[]
      /** Average each channel over the whole image after the last stage (GlobalAveragePool). */
      globalPool: boolean
      /** Widths of the dense hidden layers between the (flattened or pooled) features and the head. */
      hidden: number[]
      /** Of every dense hidden layer. */
      activation: Activation
      classes: number
    }

/** A conv stage with the shapes it sees: input [height, width, cin], conv output [outHeight, outWidth, filters]. */
export interface ConvLayerShape extends ConvStage {
  cin: number
  height: number
  width: number
  outHeight: number
  outWidth: number
}

/** A dense layer, logits = x·W + b with W [fanIn, fanOut]; the head's activation is null (it gives logits). */
export interface DenseLayerShape {
  fanIn: number
  fanOut: number
  activation: Activation | null
}

/**
 * The normal form of an architecture. Data rows are flat images in height × width × channels
 * order (channels last); features reach the dense layers flattened in the same order, or as one
 * mean per channel when `globalPool`.
 */
export interface Layers {
  image: { height: number; width: number; channels: number } | null
  conv: ConvLayerShape[]
  globalPool: boolean
  dense: DenseLayerShape[]
}

const pooled = (size: number, pool: ConvStage['pool']) => (pool === 'none' ? size : Math.floor(size / 2))

export function layersOf(arch: Architecture): Layers {
  if (arch.kind === 'logreg')
    return {
      image: null,
      conv: [],
      globalPool: false,
      dense: [{ fanIn: arch.inputs, fanOut: arch.classes, activation: null }],
    }
  if (arch.kind === 'mlp') {
    const widths = [arch.inputs, ...arch.hidden, arch.classes]
    const activation = arch.activation ?? 'relu'
    const dense = widths.slice(1).map((fanOut, i) => ({
      fanIn: widths[i] as number,
      fanOut,
      activation: i === widths.length - 2 ? null : activation,
    }))
    return { image: null, conv: [], globalPool: false, dense }
  }
  const general =
    arch.kind === 'cnn'
      ? {
          stages: arch.filters.map((filters): ConvStage => ({
            filters,
            kernel: arch.kernel,
            padding: 'same',
            activation: 'relu',
            pool: 'max',
          })),
          globalPool: false,
          hidden: [arch.dense],
          activation: 'relu' as Activation,
        }
      : arch
  const image = { height: arch.height, width: arch.width, channels: arch.channels }
  const conv: ConvLayerShape[] = []
  let [height, width, cin] = [arch.height, arch.width, arch.channels]
  for (const stage of general.stages) {
    const shrink = stage.padding === 'valid' ? stage.kernel - 1 : 0
    const outHeight = height - shrink
    const outWidth = width - shrink
    if (outHeight < 1 || outWidth < 1)
      throw new Error(
        `a ${stage.kernel}×${stage.kernel} 'valid' convolution does not fit a ${height}×${width} input`,
      )
    conv.push({ ...stage, cin, height, width, outHeight, outWidth })
    ;[height, width, cin] = [pooled(outHeight, stage.pool), pooled(outWidth, stage.pool), stage.filters]
    if (height < 1 || width < 1) throw new Error(`pooling leaves no pixels after stage ${conv.length}`)
  }
  const features = general.globalPool ? cin : height * width * cin
  const widths = [features, ...general.hidden, arch.classes]
  const dense = widths.slice(1).map((fanOut, i) => ({
    fanIn: widths[i] as number,
    fanOut,
    activation: i === widths.length - 2 ? null : general.activation,
  }))
  return { image, conv, globalPool: general.globalPool, dense }
}

export interface ParamView {
  name: string
  shape: number[]
  offset: number
  size: number
  /** Index of the layer the view belongs to, from the input. */
  layer: number
  role: 'weight' | 'bias'
  /** The classifier head (last layer): DEL keeps it fully trainable. */
  head: boolean
  /** Inputs feeding one output unit, for initialisation. */
  fanIn: number
}

export interface ModelSpec {
  arch: Architecture
  views: ParamView[]
  size: number
  inputs: number
  classes: number
}

export function inputsOf(arch: Architecture): number {
  return arch.kind === 'cnn' || arch.kind === 'convnet'
    ? arch.height * arch.width * arch.channels
    : arch.inputs
}

/** Conv kernels are [k, k, cin, out], dense weights [fanIn, fanOut]; views W1, b1, W2, b2, … from the input. */
export function specOf(arch: Architecture): ModelSpec {
  const { conv, dense } = layersOf(arch)
  const layers = [
    ...conv.map((c) => ({
      weight: [c.kernel, c.kernel, c.cin, c.filters],
      bias: [c.filters],
      fanIn: c.kernel * c.kernel * c.cin,
    })),
    ...dense.map((d) => ({ weight: [d.fanIn, d.fanOut], bias: [d.fanOut], fanIn: d.fanIn })),
  ]
  const views: ParamView[] = []
  let offset = 0
  layers.forEach((layer, index) => {
    const head = index === layers.length - 1
    for (const [role, shape] of [
      ['weight', layer.weight],
      ['bias', layer.bias],
    ] as const) {
      const size = shape.reduce((a, b) => a * b, 1)
      views.push({
        name: `${role === 'weight' ? 'W' : 'b'}${index + 1}`,
        shape: [...shape],
        offset,
        size,
        layer: index,
        role,
        head,
        fanIn: layer.fanIn,
      })
      offset += size
    }
  })
  return { arch, views, size: offset, inputs: inputsOf(arch), classes: arch.classes }
}

/**
 * Seeded initialisation: He-normal weights for ReLU layers and the head, Glorot-like 1/fanIn
 * variance for sigmoid, tanh and linear layers, zero for logistic regression (convex: the optimum does not depend on the
 * start), zero biases.
 */
export function initParams(spec: ModelSpec, seed: number): Float32Array {
  const params = new Float32Array(spec.size)
  if (spec.arch.kind === 'logreg') return params
  const { conv, dense } = layersOf(spec.arch)
  const activations = [...conv.map((c) => c.activation), ...dense.map((d) => d.activation)]
  const random = new Random(seed)
  for (const view of spec.views) {
    if (view.role === 'bias') continue
    // The head (no activation) keeps He scaling too: models trained before sigmoid/tanh existed
    // drew every weight so, and DEL redraws θ₀ from a stored seed, so their draws must not change.
    const activation = activations[view.layer]
    const scale = Math.sqrt((activation === 'relu' || activation === null ? 2 : 1) / view.fanIn)
    for (let i = 0; i < view.size; i++) params[view.offset + i] = random.normal() * scale
  }
  return params
}

const POOL_WORDS = { max: ', 2×2 max-pool', avg: ', 2×2 average pool', none: '' } as const
const ACTIVATION_WORDS: Record<Activation, string> = {
  relu: 'ReLU',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  linear: 'linear',
}

export function describeArch(arch: Architecture): string {
  switch (arch.kind) {
    case 'logreg':
      return `logistic regression ${arch.inputs}→${arch.classes}`
    case 'mlp':
      return `MLP ${[arch.inputs, ...arch.hidden, arch.classes].join('→')} (${ACTIVATION_WORDS[arch.activation ?? 'relu']})`
    case 'cnn':
      return `CNN ${arch.height}×${arch.width}×${arch.channels}, conv ${arch.filters.join('/')} (${arch.kernel}×${arch.kernel}), dense ${arch.dense}, ${arch.classes} classes`
    case 'convnet': {
      const stages = arch.stages
        .map(
          (s) =>
            `conv ${s.filters} ${s.kernel}×${s.kernel} ${s.padding} ${ACTIVATION_WORDS[s.activation]}${POOL_WORDS[s.pool]}`,
        )
        .join('; ')
      const pool = arch.globalPool ? '; global average pool' : ''
      const hidden = arch.hidden.length
        ? `; dense ${arch.hidden.join('/')} (${ACTIVATION_WORDS[arch.activation]})`
        : ''
      return `CNN ${arch.height}×${arch.width}×${arch.channels}: ${stages}${pool}${hidden}; ${arch.classes} classes`
    }
  }
}
