/**
 * ONNX model import: a ModelProto (opset 11 and later) whose graph is a chain of layers becomes
 * one of the engine's architectures (models/spec.ts) with its flat parameter vector.
 *
 * Supported: optional convolution stages on an image input (Conv, its activation, a 2×2 pool),
 * then dense layers (Gemm, or MatMul followed by Add) with one hidden activation, and Softmax or
 * LogSoftmax at the end; BatchNormalization is folded into the Conv or dense layer before it,
 * Dropout and Identity are inference no-ops. One dense layer without convolutions is a logistic
 * regression, more an MLP, with convolutions a 'convnet'. ONNX is NCHW and the engine channels
 * last: kernels go from OIHW to HWIO and the first dense layer's rows from (c, h, w) to (h, w, c).
 * Anything else is refused with the node's name and op. The protobuf is decoded by onnx-proto
 * (protobufjs static code for onnx.proto).
 */
import { createRequire } from 'node:module'
import type * as OnnxProto from 'onnx-proto'
import { LetheError } from '../../contract'
import { specOf, type Activation, type Architecture, type ConvStage } from '../models/spec'

// onnx-proto is CommonJS (module.exports = { onnx }): required, so that it loads the same way in
// Node's ESM, in the bundled app and under the test runner.
const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto
type Node = OnnxProto.onnx.INodeProto
type Tensor = OnnxProto.onnx.ITensorProto

/** What the imported graph's output is: the engine computes logits, the graph may end in (log-)softmax. */
export type OnnxOutput = 'logits' | 'softmax' | 'logsoftmax'

/** The architectures an ONNX graph maps onto. */
export type ImportedArchitecture = Extract<Architecture, { kind: 'logreg' | 'mlp' | 'convnet' }>

/** How the graph takes its input: flat rows [N, features], or images [N, C, H, W]. */
export type OnnxInput = 'rows' | 'images'

export interface ImportedOnnx {
  arch: ImportedArchitecture
  /** The engine's flat layout (models/spec.ts): per layer its kernel [k, k, in, out] or W [in, out], then b. */
  params: Float32Array
  output: OnnxOutput
  opset: number
  input: OnnxInput
  /** Ops dropped on import (Dropout, Identity, Flatten, Reshape, an input Transpose), by node. */
  dropped: string[]
  /** BatchNormalization nodes folded into the layer before them, as "node (op) into layer". */
  folded: string[]
}

export const MIN_OPSET = 11

export const SUPPORTED_OPS =
  "an input [batch, features], or an image [batch, C, H, W] (or flat rows Reshaped to it, or to [batch, H, W, C] and Transposed to it); optional Conv stages (2-D square kernels with constant float32 weights, stride 1, dilation 1, group 1, pads 'same' or none, auto_pad SAME_UPPER or VALID), each with an optional Relu, Sigmoid or Tanh and an optional MaxPool or AveragePool (2×2, stride 2, no pads), then optional GlobalAveragePool; Flatten or Reshape to [batch, features]; Gemm (alpha = beta = 1, transA 0, transB 0 or 1) or MatMul + Add with constant float32 weights, one hidden activation (Relu, Sigmoid or Tanh) for every dense layer but the last; BatchNormalization right after a Conv or dense layer (folded into it); Dropout and Identity (dropped); Softmax or LogSoftmax at the end"

const bad = (message: string, details?: Record<string, unknown>) =>
  new LetheError('BAD_INPUT', message, details)

/** int64 fields arrive as numbers or Long objects, depending on whether 'long' is installed. */
const int = (value: number | { toNumber(): number } | null | undefined): number =>
  value === null || value === undefined ? 0 : typeof value === 'number' ? value : value.toNumber()

const nodeName = (node: Node, index: number) => (node.name ? `"${node.name}"` : `#${index + 1} (unnamed)`)

const FLOAT = 1

interface Constant {
  dims: number[]
  /** Float32 tensors only; other dtypes (an int64 shape) keep their dtype for the error. */
  values: Float32Array | null
  dtype: number
  name: string
  /** INT64, INT32 and BOOL tensors' values (a Reshape's shape, Dropout's training_mode); null otherwise. */
  integers: number[] | null
}

const INT64 = 7
const INT32 = 6
const BOOL = 9

/** An integer tensor's values, from its typed field or little-endian raw_data. */
function integersOf(tensor: Tensor, dtype: number, size: number): number[] | null {
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : null
  if (dtype === INT64) {
    if (!raw) return (tensor.int64Data ?? []).map(int)
    if (raw.length !== size * 8) return null
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    return Array.from({ length: size }, (_, i) => Number(view.getBigInt64(8 * i, true)))
  }
  if (dtype === INT32 || dtype === BOOL) {
    if (!raw) return [...(tensor.int32Data ?? [])]
    const width = dtype === BOOL ? 1 : 4
    if (raw.length !== size * width) return null
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    return Array.from({ length: size }, (_, i) =>
      width === 1 ? view.getUint8(i) : view.getInt32(4 * i, true),
    )
  }
  return null
}

function dtypeName(dtype: number): string {
  return onnx.TensorProto.DataType[dtype] ?? `data type ${dtype}`
}

/** A tensor's float32 values, from float_data or little-endian raw_data; any other dtype is null. */
function constantOf(tensor: Tensor, name: string): Constant {
  const dims = (tensor.dims ?? []).map(int)
  const dtype = tensor.dataType ?? 0
  const size = dims.reduce((a, b) => a * b, 1)
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
    throw bad(
      `The tensor "${name}" is stored in an external file; Lethe imports ONNX files that hold their weights (save without external data).`,
      { tensor: name },
    )
  if (dtype !== FLOAT) return { dims, values: null, dtype, name, integers: integersOf(tensor, dtype, size) }
  let values: Float32Array
  if (tensor.rawData && tensor.rawData.length > 0) {
    const raw = tensor.rawData
    if (raw.length !== size * 4)
      throw bad(
        `The tensor "${name}" holds ${raw.length} bytes; its shape [${dims.join(', ')}] needs ${size * 4}.`,
        {
          tensor: name,
        },
      )
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    values = new Float32Array(size)
    for (let i = 0; i < size; i++) values[i] = view.getFloat32(4 * i, true)
  } else {
    const floats = tensor.floatData ?? []
    if (floats.length !== size)
      throw bad(
        `The tensor "${name}" holds ${floats.length} values; its shape [${dims.join(', ')}] needs ${size}.`,
        {
          tensor: name,
        },
      )
    values = Float32Array.from(floats)
  }
  return { dims, values, dtype, name, integers: null }
}

function attribute(node: Node, name: string): OnnxProto.onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name)
}
const intAttribute = (node: Node, name: string, fallback: number) => {
  const a = attribute(node, name)
  return a ? int(a.i) : fallback
}
const floatAttribute = (node: Node, name: string, fallback: number) => {
  const a = attribute(node, name)
  return a ? (a.f ?? fallback) : fallback
}

const intsAttribute = (node: Node, name: string): number[] | null => {
  const a = attribute(node, name)
  return a ? (a.ints ?? []).map(int) : null
}
const stringAttribute = (node: Node, name: string, fallback: string) => {
  const a = attribute(node, name)
  return a?.s ? new TextDecoder().decode(a.s) : fallback
}

const ACTIVATION_OPS: Record<string, Activation> = { Relu: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh' }

interface Layer {
  inputs: number
  outputs: number
  /** [inputs, outputs] row-major. */
  weight: Float32Array
  bias: Float32Array
  /** The node(s) the layer came from, for messages. */
  node: string
  /** The activation node after it, if any. */
  activation: { kind: Activation; node: Node; index: number } | null
}

interface Stage {
  stage: ConvStage
  cin: number
  /** [k, k, cin, filters] (HWIO), the engine's layout. */
  kernel: Float32Array
  bias: Float32Array
  node: string
}

interface ImageShape {
  height: number
  width: number
  channels: number
}

/**
 * Where the chain is: 'input' (flat rows), 'reshaped' (a flat input reshaped to 4-D, the layout
 * still open), 'image' (an image, no Conv yet), 'conv' (right after a Conv), 'convAct' (after its
 * activation), 'pooled' (after its pool), 'global' (after GlobalAveragePool), 'features' (flat
 * features of an image), 'linear' (right after a dense layer), 'act' (after its activation),
 * 'end' (after Softmax/LogSoftmax).
 */
type State =
  | 'input'
  | 'reshaped'
  | 'image'
  | 'conv'
  | 'convAct'
  | 'pooled'
  | 'global'
  | 'features'
  | 'linear'
  | 'act'
  | 'end'
const IMAGE_STATES: readonly State[] = ['image', 'conv', 'convAct', 'pooled']
const AFTER_CONV: readonly State[] = ['conv', 'convAct', 'pooled']

/** W·s per output and (b − mean)·s + β, s = γ/√(var + ε): BatchNormalization folded into the layer before it. */
function foldBatchNorm(
  weight: Float32Array,
  bias: Float32Array,
  outputs: number,
  norm: {
    scale: Float32Array
    shift: Float32Array
    mean: Float32Array
    variance: Float32Array
    epsilon: number
  },
) {
  const factor = Array.from(norm.scale, (g, o) => g / Math.sqrt((norm.variance[o] as number) + norm.epsilon))
  // Both layouts keep the output index last: [k, k, cin, out] and [in, out].
  for (let i = 0; i < weight.length; i++) weight[i] = (weight[i] as number) * (factor[i % outputs] as number)
  for (let o = 0; o < outputs; o++)
    bias[o] =
      ((bias[o] as number) - (norm.mean[o] as number)) * (factor[o] as number) + (norm.shift[o] as number)
}

/** Parses an ONNX file and maps its graph onto a logistic regression, an MLP or a convolutional network. */
export function importOnnx(bytes: Uint8Array): ImportedOnnx {
  let model: OnnxProto.onnx.ModelProto
  try {
    model = onnx.ModelProto.decode(bytes)
  } catch (error) {
    throw bad(`This is not an ONNX model: its protobuf does not decode (${(error as Error).message}).`)
  }
  const graph = model.graph
  if (!graph || !graph.node || graph.node.length === 0)
    throw bad('This ONNX file holds no graph (or an empty one): it is not a model.')
  const opsets = (model.opsetImport ?? []).filter((o) => !o.domain || o.domain === 'ai.onnx')
  const opset = Math.max(0, ...opsets.map((o) => int(o.version)))
  if (opset < MIN_OPSET)
    throw bad(
      `The model uses ONNX opset ${opset || 'none'}; Lethe imports opset ${MIN_OPSET} and later (export again with a newer opset_version).`,
      { opset },
    )

  const constants = new Map<string, Constant>()
  for (const tensor of graph.initializer ?? [])
    constants.set(tensor.name ?? '', constantOf(tensor, tensor.name ?? ''))
  const nodes: { node: Node; index: number }[] = []
  graph.node.forEach((node, index) => {
    if (node.opType === 'Constant' && (!node.domain || node.domain === 'ai.onnx')) {
      const value = attribute(node, 'value')?.t
      const output = node.output?.[0]
      if (!value || !output)
        throw bad(
          `Node ${nodeName(node, index)} (Constant) holds no tensor 'value'; supported: ${SUPPORTED_OPS}.`,
          { node: node.name ?? null, op: 'Constant' },
        )
      constants.set(output, constantOf(value, output))
    } else nodes.push({ node, index })
  })

  const inputs = (graph.input ?? []).filter((i) => !constants.has(i.name ?? ''))
  if (inputs.length !== 1)
    throw bad(
      `The graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); Lethe imports models with one input, a batch of feature rows or images.`,
    )
  const input = inputs[0] as OnnxProto.onnx.IValueInfoProto
  const outputs = graph.output ?? []
  if (outputs.length !== 1)
    throw bad(
      `The graph has ${outputs.length} outputs; Lethe imports models with one output, the class scores.`,
    )
  const outputName = outputs[0]?.name ?? ''
  const tensorType = input.type?.tensorType
  if (tensorType && tensorType.elemType !== FLOAT)
    throw bad(
      `The graph's input "${input.name}" is ${dtypeName(tensorType.elemType ?? 0)}; Lethe feeds FLOAT (float32) rows.`,
    )
  // The input's width: every dimension after the batch, when all are known.
  const dims = tensorType?.shape?.dim ?? []
  const known = dims
    .slice(1)
    .map((d) => (d.dimValue === null || d.dimValue === undefined ? 0 : int(d.dimValue)))
  const inputWidth = dims.length >= 2 && known.every((d) => d > 0) ? known.reduce((a, b) => a * b, 1) : null

  const layers: Layer[] = []
  const stages: Stage[] = []
  const dropped: string[] = []
  const folded: string[] = []
  let current = input.name ?? ''
  let output: OnnxOutput = 'logits'
  let state = 'input' as State
  /** The image the model reads, and the shape of the tensor the chain is at while it is an image. */
  let image: ImageShape | null = null
  let shape: ImageShape | null = null
  let globalPool = false
  /** A flat input reshaped to [batch, a, b, c]: NCHW, or NHWC when a Transpose to NCHW follows. */
  let reshaped: [number, number, number] | null = null
  /** The image flattened (in ONNX's (c, h, w) order) into the first dense layer's rows, if one was. */
  let flattened: ImageShape | null = null
  let flatWidth: number | null = inputWidth
  const consumed = new Set<number>()
  /** The op of the chain's previous node: an Add is a bias only right after a MatMul. */
  let previous = ''

  const refuse = (node: Node, index: number, why: string) =>
    bad(`Node ${nodeName(node, index)} (${node.opType}): ${why}. Lethe imports ${SUPPORTED_OPS}.`, {
      node: node.name ?? null,
      op: node.opType ?? null,
    })

  if (dims.length === 4) {
    const [channels, height, width] = known as [number, number, number]
    if (!(channels > 0 && height > 0 && width > 0))
      throw bad(
        `The graph's input "${input.name}" is 4-D with unknown channels, height or width; Lethe imports images as [batch, channels, height, width] with known sizes.`,
      )
    image = { height, width, channels }
    shape = image
    state = 'image'
  }

  /** The node's float32 constant input at position `at`, or a refusal naming it. */
  const weightOf = (node: Node, index: number, at: number): Constant & { values: Float32Array } => {
    const name = node.input?.[at] ?? ''
    const constant = constants.get(name)
    if (!constant) throw refuse(node, index, `its input "${name}" is computed, not a constant weight`)
    if (!constant.values)
      throw refuse(
        node,
        index,
        `its weight "${name}" is ${dtypeName(constant.dtype)}; only FLOAT (float32) weights are supported`,
      )
    return constant as Constant & { values: Float32Array }
  }
  const biasOf = (
    node: Node,
    index: number,
    constant: Constant & { values: Float32Array },
    width: number,
  ) => {
    const size = constant.dims.reduce((a, b) => a * b, 1)
    if (size !== width || constant.dims.filter((d) => d !== 1).length > 1)
      throw refuse(
        node,
        index,
        `its input "${constant.name}" has shape [${constant.dims.join(', ')}], not [${width}]`,
      )
    return constant.values
  }
  const addLayer = (layer: Omit<Layer, 'activation'>, node: Node, index: number) => {
    if (state === 'linear')
      throw refuse(node, index, 'two dense layers follow each other without an activation between them')
    if (state !== 'input' && state !== 'features' && state !== 'act')
      throw refuse(
        node,
        index,
        'a dense layer needs flat features: Flatten the image (or the GlobalAveragePool) first',
      )
    const expected = layers.length ? (layers[layers.length - 1] as Layer).outputs : flatWidth
    if (expected !== null && layer.inputs !== expected)
      throw refuse(
        node,
        index,
        `it takes ${layer.inputs} inputs but is given ${expected} (${layers.length ? 'the previous layer’s outputs' : state === 'features' ? 'the flattened image' : `the width of the input "${input.name}"`})`,
      )
    layers.push({ ...layer, activation: null })
    state = 'linear'
  }
  /** A Reshape's constant shape, or a refusal. */
  const reshapeTo = (node: Node, index: number): number[] => {
    const target = constants.get(node.input?.[1] ?? '')
    if (!target?.integers) throw refuse(node, index, 'only a Reshape to a constant shape is supported')
    return target.integers
  }
  /** Whether a shape is [batch, width]: [-1, w] or [0, w] (0 keeps the batch), or [0, -1]. */
  const isFlat = ([batch, width, ...rest]: number[], expected: number | null) =>
    rest.length === 0 &&
    (batch === -1 || batch === 0) &&
    width !== undefined &&
    ((width > 0 && (expected === null || width === expected)) || (width === -1 && batch === 0))
  /** The image a flat input reshaped to NCHW reads: its rows are (c, h, w), Lethe's (h, w, c), the same for one channel. */
  const settleReshape = (node: Node, index: number) => {
    const [channels, height, width] = reshaped as [number, number, number]
    if (channels !== 1)
      throw refuse(
        node,
        index,
        `a flat input reshaped to [batch, ${channels}, ${height}, ${width}] reads rows in (channel, height, width) order, and Lethe's image rows are (height, width, channel): with several channels, give the model a 4-D input [batch, C, H, W] or reshape to [batch, H, W, C] then Transpose to NCHW`,
      )
    image = { height, width, channels }
    shape = image
    reshaped = null
    state = 'image'
  }
  const lastStage = () => stages[stages.length - 1] as Stage

  for (;;) {
    const next = nodes.filter(
      ({ node, index }) => !consumed.has(index) && (node.input ?? []).includes(current),
    )
    if (next.length === 0) break
    if (next.length > 1) {
      const names = next.map(({ node, index }) => `${nodeName(node, index)} (${node.opType})`).join(', ')
      throw bad(
        `The graph is not a chain: "${current}" feeds ${next.length} nodes (${names}). Lethe imports a chain of ${SUPPORTED_OPS}.`,
        { tensor: current },
      )
    }
    const { node, index } = next[0] as { node: Node; index: number }
    consumed.add(index)
    const op = node.opType ?? ''
    if (node.domain && node.domain !== 'ai.onnx')
      throw refuse(node, index, `its domain ${node.domain} is not the standard one`)
    // Add is commutative (the bias may come first); every other op reads the chain as its first input.
    if (op !== 'Add' && (node.input?.[0] ?? '') !== current)
      throw refuse(node, index, `it reads "${current}" as another input than its first`)
    const out = node.output?.[0] ?? ''
    if (state === 'end' && op !== 'Identity')
      throw refuse(node, index, 'it follows the final Softmax/LogSoftmax')
    // Extra outputs (Dropout's mask, MaxPool's indices, BatchNormalization's statistics) must feed nothing.
    if (
      (node.output ?? []).slice(1).some((o) => o && nodes.some(({ node: n }) => (n.input ?? []).includes(o)))
    )
      throw refuse(node, index, 'only its first output may be used')
    if (state === 'reshaped' && op !== 'Transpose' && op !== 'Identity' && op !== 'Dropout')
      settleReshape(node, index)
    switch (op) {
      case 'Identity':
      case 'Dropout':
        // Dropout in training mode (opset 12's third input, when true) is not an inference no-op.
        if (op === 'Dropout' && node.input?.[2]) {
          const mode = constants.get(node.input[2])
          if (!mode?.integers || mode.integers.some((v) => v !== 0))
            throw refuse(node, index, 'only inference Dropout (training_mode false) is supported')
        }
        dropped.push(`${nodeName(node, index)} (${op})`)
        break
      case 'Flatten':
      case 'Reshape': {
        if (op === 'Flatten' && intAttribute(node, 'axis', 1) !== 1)
          throw refuse(node, index, 'only axis 1 (keep the batch, flatten the rest) is supported')
        const target = op === 'Reshape' ? reshapeTo(node, index) : null
        if (state === 'input') {
          if (target && target.length === 4) {
            const [batch, a, b, c] = target as [number, number, number, number]
            if ((batch !== -1 && batch !== 0) || !(a > 0 && b > 0 && c > 0))
              throw refuse(node, index, 'only a reshape to [batch, C, H, W] with known sizes is supported')
            if (inputWidth !== null && a * b * c !== inputWidth)
              throw refuse(
                node,
                index,
                `it reshapes ${inputWidth} features into ${a}×${b}×${c} = ${a * b * c} values`,
              )
            reshaped = [a, b, c]
            state = 'reshaped'
          } else if (target && !isFlat(target, inputWidth))
            throw refuse(
              node,
              index,
              'only a reshape to [batch, features] or to an image [batch, C, H, W] is supported at the input',
            )
          dropped.push(`${nodeName(node, index)} (${op})`)
          break
        }
        if (state !== 'global' && !IMAGE_STATES.includes(state))
          throw refuse(
            node,
            index,
            'Flatten and Reshape are supported at the input and between the image layers and the dense ones',
          )
        const { height, width, channels } = shape as ImageShape
        const features = globalPool ? channels : height * width * channels
        if (target && !isFlat(target, features))
          throw refuse(node, index, `only a reshape to [batch, ${features}] is supported here`)
        flattened = globalPool ? null : { height, width, channels }
        flatWidth = features
        state = 'features'
        dropped.push(`${nodeName(node, index)} (${op})`)
        break
      }
      case 'Transpose': {
        const perm = intsAttribute(node, 'perm')
        if (state !== 'reshaped' || !perm || perm.join(',') !== '0,3,1,2')
          throw refuse(
            node,
            index,
            'a Transpose is supported only as perm [0, 3, 1, 2] right after a Reshape of the input to [batch, H, W, C]',
          )
        const [height, width, channels] = reshaped as [number, number, number]
        image = { height, width, channels }
        shape = image
        reshaped = null
        state = 'image'
        dropped.push(`${nodeName(node, index)} (${op})`)
        break
      }
      case 'Conv': {
        if (!IMAGE_STATES.includes(state))
          throw refuse(
            node,
            index,
            state === 'input'
              ? `a Conv needs an image: the input "${input.name}" must be [batch, C, H, W] (or flat rows reshaped to it)`
              : 'a Conv is supported only on the image, before the dense layers',
          )
        const { height, width, channels } = shape as ImageShape
        const w = weightOf(node, index, 1)
        const [filters, cin, kh, kw] = w.dims as [number, number, number, number]
        if (w.dims.length !== 4 || kh !== kw)
          throw refuse(node, index, `only 2-D square kernels are supported, not [${w.dims.join(', ')}]`)
        const kernelShape = intsAttribute(node, 'kernel_shape')
        if (kernelShape && kernelShape.join(',') !== `${kh},${kw}`)
          throw refuse(node, index, `its kernel_shape [${kernelShape.join(', ')}] is not its weight's`)
        if (cin !== channels)
          throw refuse(node, index, `its kernel reads ${cin} channels, but it is given ${channels}`)
        const strides = intsAttribute(node, 'strides') ?? [1, 1]
        if (strides.some((s) => s !== 1))
          throw refuse(node, index, `only stride 1 is supported, not strides [${strides.join(', ')}]`)
        const dilations = intsAttribute(node, 'dilations') ?? [1, 1]
        if (dilations.some((d) => d !== 1))
          throw refuse(node, index, `only dilation 1 is supported, not [${dilations.join(', ')}]`)
        if (intAttribute(node, 'group', 1) !== 1) throw refuse(node, index, 'only group 1 is supported')
        const autoPad = stringAttribute(node, 'auto_pad', 'NOTSET')
        const before = Math.floor((kh - 1) / 2)
        const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0]
        let padding: ConvStage['padding']
        if (autoPad === 'VALID') padding = 'valid'
        // SAME_UPPER puts an even kernel's extra padding after, as the engine's 'same' does; for odd kernels SAME_LOWER is the same.
        else if (autoPad === 'SAME_UPPER' || (autoPad === 'SAME_LOWER' && kh % 2 === 1)) padding = 'same'
        else if (autoPad === 'NOTSET' && pads.every((p) => p === 0)) padding = 'valid'
        else if (
          autoPad === 'NOTSET' &&
          pads.join(',') === [before, before, kh - 1 - before, kh - 1 - before].join(',')
        )
          padding = 'same'
        else
          throw refuse(
            node,
            index,
            `its padding (auto_pad ${autoPad}, pads [${pads.join(', ')}]) is neither 'same' (pads [${before}, ${before}, ${kh - 1 - before}, ${kh - 1 - before}], auto_pad SAME_UPPER) nor 'valid' (no pads)`,
          )
        const shrink = padding === 'valid' ? kh - 1 : 0
        if (height - shrink < 1 || width - shrink < 1)
          throw refuse(
            node,
            index,
            `a ${kh}×${kw} 'valid' convolution does not fit its ${height}×${width} input`,
          )
        // ONNX kernels are [out, in, k, k] (OIHW); the engine's are [k, k, in, out] (HWIO).
        const kernel = new Float32Array(w.values.length)
        for (let o = 0; o < filters; o++)
          for (let i = 0; i < cin; i++)
            for (let y = 0; y < kh; y++)
              for (let x = 0; x < kw; x++)
                kernel[((y * kw + x) * cin + i) * filters + o] = w.values[
                  ((o * cin + i) * kh + y) * kw + x
                ] as number
        const bias = node.input?.[2]
          ? Float32Array.from(biasOf(node, index, weightOf(node, index, 2), filters))
          : new Float32Array(filters)
        stages.push({
          stage: { filters, kernel: kh, padding, activation: 'linear', pool: 'none' },
          cin,
          kernel,
          bias,
          node: nodeName(node, index),
        })
        shape = { height: height - shrink, width: width - shrink, channels: filters }
        state = 'conv'
        break
      }
      case 'BatchNormalization': {
        if (state !== 'conv' && state !== 'linear')
          throw refuse(
            node,
            index,
            'BatchNormalization is supported only right after a Conv or a dense layer, into which it is folded',
          )
        if (intAttribute(node, 'training_mode', 0) !== 0)
          throw refuse(node, index, 'only inference BatchNormalization (training_mode 0) is supported')
        const into = state === 'conv' ? lastStage() : (layers[layers.length - 1] as Layer)
        const width = state === 'conv' ? lastStage().stage.filters : (into as Layer).outputs
        const [scale, shift, mean, variance] = [1, 2, 3, 4].map((at) =>
          biasOf(node, index, weightOf(node, index, at), width),
        ) as [Float32Array, Float32Array, Float32Array, Float32Array]
        const epsilon = floatAttribute(node, 'epsilon', 1e-5)
        if (variance.some((v) => !(v + epsilon > 0)))
          throw refuse(node, index, 'its variance plus epsilon is not positive everywhere')
        const weight = 'kernel' in into ? into.kernel : into.weight
        foldBatchNorm(weight, into.bias, width, { scale, shift, mean, variance, epsilon })
        folded.push(`${nodeName(node, index)} (BatchNormalization) into ${into.node}`)
        break
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (!AFTER_CONV.includes(state) || lastStage().stage.pool !== 'none')
          throw refuse(
            node,
            index,
            'a pool is supported only after a Conv (and its activation), one per Conv',
          )
        const kernelShape = intsAttribute(node, 'kernel_shape') ?? []
        const strides = intsAttribute(node, 'strides') ?? [1, 1]
        const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0]
        const autoPad = stringAttribute(node, 'auto_pad', 'NOTSET')
        const dilations = intsAttribute(node, 'dilations') ?? [1, 1]
        if (kernelShape.join(',') !== '2,2' || strides.join(',') !== '2,2')
          throw refuse(
            node,
            index,
            `only 2×2 pooling with stride 2 is supported, not kernel [${kernelShape.join(', ')}] with strides [${strides.join(', ')}]`,
          )
        if (
          pads.some((p) => p !== 0) ||
          (autoPad !== 'NOTSET' && autoPad !== 'VALID') ||
          dilations.some((d) => d !== 1)
        )
          throw refuse(node, index, 'only pooling without padding or dilation is supported')
        const { height, width, channels } = shape as ImageShape
        // ceil_mode keeps an odd last row or column, which the engine's pooling drops.
        if (intAttribute(node, 'ceil_mode', 0) !== 0 && (height % 2 === 1 || width % 2 === 1))
          throw refuse(node, index, `ceil_mode 1 on an odd ${height}×${width} input is not supported`)
        if (op === 'MaxPool' && intAttribute(node, 'storage_order', 0) !== 0)
          throw refuse(node, index, 'only storage_order 0 is supported')
        if (height < 2 || width < 2)
          throw refuse(node, index, `a 2×2 pool does not fit its ${height}×${width} input`)
        lastStage().stage.pool = op === 'MaxPool' ? 'max' : 'avg'
        shape = { height: Math.floor(height / 2), width: Math.floor(width / 2), channels }
        state = 'pooled'
        break
      }
      case 'GlobalAveragePool':
        if (!AFTER_CONV.includes(state))
          throw refuse(node, index, 'GlobalAveragePool is supported only after a Conv stage')
        globalPool = true
        state = 'global'
        break
      case 'Gemm': {
        if (floatAttribute(node, 'alpha', 1) !== 1 || floatAttribute(node, 'beta', 1) !== 1)
          throw refuse(node, index, 'only alpha = 1 and beta = 1 are supported')
        if (intAttribute(node, 'transA', 0) !== 0) throw refuse(node, index, 'only transA = 0 is supported')
        const transB = intAttribute(node, 'transB', 0)
        const w = weightOf(node, index, 1)
        if (w.dims.length !== 2) throw refuse(node, index, `its weight "${w.name}" is not a matrix`)
        const [rows, columns] = w.dims as [number, number]
        const [inputs, outputs] = transB ? [columns, rows] : [rows, columns]
        const weight = new Float32Array(inputs * outputs)
        if (transB) {
          // B is [out, in]: the engine's W is its transpose, [in, out].
          for (let o = 0; o < outputs; o++)
            for (let i = 0; i < inputs; i++) weight[i * outputs + o] = w.values[o * inputs + i] as number
        } else weight.set(w.values)
        const bias = node.input?.[2]
          ? biasOf(node, index, weightOf(node, index, 2), outputs)
          : new Float32Array(outputs)
        addLayer(
          { inputs, outputs, weight, bias: Float32Array.from(bias), node: nodeName(node, index) },
          node,
          index,
        )
        break
      }
      case 'MatMul': {
        const w = weightOf(node, index, 1)
        if (w.dims.length !== 2) throw refuse(node, index, `its weight "${w.name}" is not a matrix`)
        const [inputs, outputs] = w.dims as [number, number]
        addLayer(
          {
            inputs,
            outputs,
            weight: Float32Array.from(w.values),
            bias: new Float32Array(outputs),
            node: nodeName(node, index),
          },
          node,
          index,
        )
        break
      }
      case 'Add': {
        const last = layers[layers.length - 1]
        if (state !== 'linear' || !last || previous !== 'MatMul')
          throw refuse(node, index, 'Add is supported only as the bias right after a MatMul')
        const addends = node.input ?? []
        const other = addends.findIndex((name) => name !== current)
        if (addends.length !== 2 || other < 0 || addends.filter((name) => name === current).length !== 1)
          throw refuse(node, index, 'it does not add one constant bias')
        last.bias = Float32Array.from(biasOf(node, index, weightOf(node, index, other), last.outputs))
        break
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh': {
        const kind = ACTIVATION_OPS[op] as Activation
        if (
          state === 'conv' ||
          (state === 'pooled' &&
            lastStage().stage.pool === 'max' &&
            lastStage().stage.activation === 'linear')
        ) {
          // After a max-pool, a monotone activation is the same as before it.
          lastStage().stage.activation = kind
          if (state === 'conv') state = 'convAct'
        } else if (state === 'linear') {
          ;(layers[layers.length - 1] as Layer).activation = { kind, node, index }
          state = 'act'
        } else
          throw refuse(
            node,
            index,
            'an activation is supported only right after a Conv (or its max-pool) or a dense layer, one per layer',
          )
        break
      }
      case 'Softmax':
      case 'LogSoftmax': {
        if (state !== 'linear')
          throw refuse(node, index, `${op} is supported only right after the last layer`)
        const axis = intAttribute(node, 'axis', opset >= 13 ? -1 : 1)
        if (axis !== -1 && axis !== 1)
          throw refuse(node, index, `only axis 1 (the classes) is supported, not ${axis}`)
        output = op === 'Softmax' ? 'softmax' : 'logsoftmax'
        state = 'end'
        break
      }
      case 'LeakyRelu':
      case 'Elu':
      case 'Selu':
      case 'HardSigmoid':
      case 'Softplus':
      case 'Gelu':
        throw refuse(
          node,
          index,
          `the activation ${op} is not supported: Lethe's layers use Relu, Sigmoid or Tanh`,
        )
      default:
        throw refuse(node, index, `the op ${op} is not supported`)
    }
    current = out
    previous = op
  }

  const left = nodes.filter(({ index }) => !consumed.has(index))
  if (left.length) {
    const { node, index } = left[0] as { node: Node; index: number }
    throw refuse(
      node,
      index,
      `it is not on the chain from the input "${input.name}" to the output "${outputName}"`,
    )
  }
  if (current !== outputName)
    throw bad(
      `The chain from the input "${input.name}" ends at "${current}", not at the graph's output "${outputName}".`,
    )
  if (layers.length === 0)
    throw bad(
      `The graph has no Gemm or MatMul layer to give the class scores; Lethe imports ${SUPPORTED_OPS}.`,
    )
  const last = layers[layers.length - 1] as Layer
  if (last.activation)
    throw bad(
      `The graph ends in ${last.activation.node.opType} after ${last.node}; the last layer must give the class scores (logits, Softmax or LogSoftmax).`,
    )
  // The dense hidden layers share one activation (the engine's architectures have one).
  const hidden = layers.slice(0, -1)
  const activation = hidden[0]?.activation?.kind ?? 'relu'
  for (const layer of hidden) {
    const own = layer.activation as NonNullable<Layer['activation']>
    if (own.kind !== activation)
      throw refuse(
        own.node,
        own.index,
        `the hidden layers mix activations (${hidden[0]?.activation?.node.opType} after ${hidden[0]?.node}, ${own.node.opType} after ${layer.node}); Lethe's dense layers share one`,
      )
  }

  // ONNX flattens an image in (c, h, w) order, the engine in (h, w, c): the first dense layer's rows follow.
  const first = layers[0] as Layer
  if (flattened) {
    const { height, width, channels } = flattened
    const weight = new Float32Array(first.weight.length)
    for (let c = 0; c < channels; c++)
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) {
          const from = ((c * height + y) * width + x) * first.outputs
          weight.set(
            first.weight.subarray(from, from + first.outputs),
            ((y * width + x) * channels + c) * first.outputs,
          )
        }
    first.weight = weight
  }
  const classes = last.outputs
  const arch: ImportedArchitecture = stages.length
    ? {
        kind: 'convnet',
        ...(image as unknown as ImageShape),
        stages: stages.map((s) => s.stage),
        globalPool,
        hidden: hidden.map((l) => l.outputs),
        activation,
        classes,
      }
    : layers.length === 1
      ? { kind: 'logreg', inputs: first.inputs, classes }
      : {
          kind: 'mlp',
          inputs: first.inputs,
          hidden: hidden.map((l) => l.outputs),
          classes,
          // ReLU is the default an MLP's record leaves out.
          ...(activation === 'relu' ? {} : { activation }),
        }
  const spec = specOf(arch)
  const tensors = [
    ...stages.map((s) => [s.kernel, s.bias] as const),
    ...layers.map((l) => [l.weight, l.bias] as const),
  ]
  const params = new Float32Array(spec.size)
  tensors.forEach(([weight, bias], i) => {
    const w = spec.views[2 * i]
    const b = spec.views[2 * i + 1]
    if (!w || !b || w.size !== weight.length || b.size !== bias.length)
      throw new LetheError(
        'INTERNAL',
        `The spec of the imported ${arch.kind} does not fit its layer ${i + 1}.`,
      )
    params.set(weight, w.offset)
    params.set(bias, b.offset)
  })
  const nonFinite = params.findIndex((v) => !Number.isFinite(v))
  if (nonFinite >= 0)
    throw bad(
      `The model's weights hold NaN or infinite values (parameter ${nonFinite}); it cannot be imported.`,
    )
  return { arch, params, output, opset, input: dims.length === 4 ? 'images' : 'rows', dropped, folded }
}
