/**
 * Model architectures and their parameters as one flat Float32 vector with named views.
 * Every method works on the flat vector (updates, distances, Hessian-vector products); the
 * views say which slice is which layer, and which layers form the classifier head.
 */
import { Random } from '../random'

export type Architecture =
  | { kind: 'logreg'; inputs: number; classes: number }
  | { kind: 'mlp'; inputs: number; hidden: number[]; classes: number }
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
  return arch.kind === 'cnn' ? arch.height * arch.width * arch.channels : arch.inputs
}

export function specOf(arch: Architecture): ModelSpec {
  const layers: { weight: number[]; bias: number[]; fanIn: number }[] = []
  if (arch.kind === 'cnn') {
    let channels = arch.channels
    let height = arch.height
    let width = arch.width
    for (const out of arch.filters) {
      layers.push({
        weight: [arch.kernel, arch.kernel, channels, out],
        bias: [out],
        fanIn: arch.kernel * arch.kernel * channels,
      })
      channels = out
      height = Math.floor(height / 2)
      width = Math.floor(width / 2)
    }
    const flat = height * width * channels
    layers.push({ weight: [flat, arch.dense], bias: [arch.dense], fanIn: flat })
    layers.push({ weight: [arch.dense, arch.classes], bias: [arch.classes], fanIn: arch.dense })
  } else {
    const widths = [arch.inputs, ...(arch.kind === 'mlp' ? arch.hidden : []), arch.classes]
    for (let i = 1; i < widths.length; i++) {
      const fanIn = widths[i - 1] as number
      layers.push({ weight: [fanIn, widths[i] as number], bias: [widths[i] as number], fanIn })
    }
  }
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
 * Seeded initialisation: He-normal weights for ReLU layers, zero for logistic regression
 * (convex: the optimum does not depend on the start), zero biases.
 */
export function initParams(spec: ModelSpec, seed: number): Float32Array {
  const params = new Float32Array(spec.size)
  if (spec.arch.kind === 'logreg') return params
  const random = new Random(seed)
  for (const view of spec.views) {
    if (view.role === 'bias') continue
    const scale = Math.sqrt(2 / view.fanIn)
    for (let i = 0; i < view.size; i++) params[view.offset + i] = random.normal() * scale
  }
  return params
}

export function describeArch(arch: Architecture): string {
  switch (arch.kind) {
    case 'logreg':
      return `logistic regression ${arch.inputs}→${arch.classes}`
    case 'mlp':
      return `MLP ${[arch.inputs, ...arch.hidden, arch.classes].join('→')} (ReLU)`
    case 'cnn':
      return `CNN ${arch.height}×${arch.width}×${arch.channels}, conv ${arch.filters.join('/')} (${arch.kernel}×${arch.kernel}), dense ${arch.dense}, ${arch.classes} classes`
  }
}
