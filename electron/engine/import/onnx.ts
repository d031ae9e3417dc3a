/**
 * ONNX model import: a ModelProto (opset 11 and later) whose graph is a chain of dense layers
 * becomes one of the engine's architectures (models/spec.ts) with its flat parameter vector.
 *
 * Supported: Gemm (alpha = beta = 1, transA 0, transB 0 or 1) or MatMul followed by Add, with
 * constant weights; Relu between layers; Flatten or Reshape at the input; Dropout and Identity
 * (inference no-ops, dropped); Softmax or LogSoftmax at the end. One layer is a logistic
 * regression, more an MLP with ReLU hidden layers. Anything else is refused with the node's
 * name and op. The protobuf is decoded by onnx-proto (protobufjs static code for onnx.proto).
 */
import { createRequire } from 'node:module'
import type * as OnnxProto from 'onnx-proto'
import { LetheError } from '../../contract'
import { specOf, type Architecture } from '../models/spec'

// onnx-proto is CommonJS (module.exports = { onnx }): required, so that it loads the same way in
// Node's ESM, in the bundled app and under the test runner.
const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto
type Node = OnnxProto.onnx.INodeProto
type Tensor = OnnxProto.onnx.ITensorProto

/** What the imported graph's output is: the engine computes logits, the graph may end in (log-)softmax. */
export type OnnxOutput = 'logits' | 'softmax' | 'logsoftmax'

/** The architectures an ONNX graph maps onto in this version: dense layers only. */
export type DenseArchitecture = Extract<Architecture, { kind: 'logreg' | 'mlp' }>

export interface ImportedOnnx {
  arch: DenseArchitecture
  /** The engine's flat layout: per layer W as [in, out] row-major, then b. */
  params: Float32Array
  output: OnnxOutput
  opset: number
  /** Ops dropped on import (Dropout, Identity, an input Flatten/Reshape), by node. */
  dropped: string[]
}

export const MIN_OPSET = 11

export const SUPPORTED_OPS =
  'Gemm (alpha = beta = 1, transA 0, transB 0 or 1) or MatMul + Add with constant float32 weights, Relu between layers, Flatten or Reshape at the input, Dropout and Identity (dropped), Softmax or LogSoftmax at the end'

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

interface Layer {
  inputs: number
  outputs: number
  /** [inputs, outputs] row-major. */
  weight: Float32Array
  bias: Float32Array
  /** The node(s) the layer came from, for messages. */
  node: string
}

/** Parses an ONNX file and maps its graph onto a logistic regression or a ReLU MLP. */
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
      `The graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); Lethe imports models with one input, a batch of feature rows.`,
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
  const dropped: string[] = []
  let current = input.name ?? ''
  let output: OnnxOutput = 'logits'
  /** 'input': before the first layer; 'linear': right after a layer; 'relu': after its ReLU; 'end': after softmax. */
  let state = 'input' as 'input' | 'linear' | 'relu' | 'end'
  const consumed = new Set<number>()
  /** The op of the chain's previous node: an Add is a bias only right after a MatMul. */
  let previous = ''

  const refuse = (node: Node, index: number, why: string) =>
    bad(`Node ${nodeName(node, index)} (${node.opType}): ${why}. Lethe imports ${SUPPORTED_OPS}.`, {
      node: node.name ?? null,
      op: node.opType ?? null,
    })
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
        `its bias "${constant.name}" has shape [${constant.dims.join(', ')}], not [${width}]`,
      )
    return constant.values
  }
  const addLayer = (layer: Layer, node: Node, index: number) => {
    const expected = layers.length ? (layers[layers.length - 1] as Layer).outputs : inputWidth
    if (expected !== null && layer.inputs !== expected)
      throw refuse(
        node,
        index,
        `it takes ${layer.inputs} inputs but is given ${expected} (${layers.length ? 'the previous layer’s outputs' : `the width of the input "${input.name}"`})`,
      )
    layers.push(layer)
    state = 'linear'
  }

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
    switch (op) {
      case 'Identity':
      case 'Dropout':
        // Dropout in training mode (opset 12's third input, when true) is not an inference no-op.
        if (op === 'Dropout' && node.input?.[2]) {
          const mode = constants.get(node.input[2])
          if (!mode?.integers || mode.integers.some((v) => v !== 0))
            throw refuse(node, index, 'only inference Dropout (training_mode false) is supported')
        }
        // Dropout's optional second output (the mask) must feed nothing.
        if (
          (node.output ?? [])
            .slice(1)
            .some((o) => o && nodes.some(({ node: n }) => (n.input ?? []).includes(o)))
        )
          throw refuse(node, index, 'its mask output is used')
        dropped.push(`${nodeName(node, index)} (${op})`)
        break
      case 'Flatten':
      case 'Reshape': {
        if (state !== 'input')
          throw refuse(node, index, 'Flatten and Reshape are supported only at the input')
        if (op === 'Flatten' && intAttribute(node, 'axis', 1) !== 1)
          throw refuse(node, index, 'only axis 1 (keep the batch, flatten the rest) is supported')
        if (op === 'Reshape') {
          const shape = constants.get(node.input?.[1] ?? '')
          // A reshape to [batch, width]: [-1, w] or [0, w] (0 keeps the batch), w the input's width.
          const [batch, width] = shape?.integers ?? []
          if (
            !shape?.integers ||
            shape.integers.length !== 2 ||
            (batch !== -1 && batch !== 0) ||
            width === undefined ||
            !(width > 0 || (width === -1 && batch === 0)) ||
            (inputWidth !== null && width > 0 && width !== inputWidth)
          )
            throw refuse(
              node,
              index,
              'only a reshape to [batch, features] with a constant shape is supported',
            )
        }
        dropped.push(`${nodeName(node, index)} (${op})`)
        break
      }
      case 'Gemm': {
        if (state === 'linear') throw refuse(node, index, 'two layers follow each other without a ReLU')
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
        if (state === 'linear') throw refuse(node, index, 'two layers follow each other without a ReLU')
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
        if (state !== 'linear') throw refuse(node, index, 'a ReLU is supported only right after a layer')
        state = 'relu'
        break
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
      case 'Sigmoid':
      case 'Tanh':
      case 'LeakyRelu':
      case 'Elu':
      case 'Selu':
      case 'HardSigmoid':
      case 'Softplus':
      case 'Gelu':
        throw refuse(node, index, `the hidden activation ${op} is not supported: Lethe's MLPs use ReLU`)
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
  if (layers.length === 0) throw bad(`The graph has no Gemm or MatMul layer; Lethe imports ${SUPPORTED_OPS}.`)
  if (state === 'relu')
    throw bad(
      `The graph ends in a ReLU after ${(layers[layers.length - 1] as Layer).node}; the last layer must give the class scores (logits, Softmax or LogSoftmax).`,
    )

  const first = layers[0] as Layer
  const last = layers[layers.length - 1] as Layer
  const arch: DenseArchitecture =
    layers.length === 1
      ? { kind: 'logreg', inputs: first.inputs, classes: last.outputs }
      : {
          kind: 'mlp',
          inputs: first.inputs,
          hidden: layers.slice(0, -1).map((l) => l.outputs),
          classes: last.outputs,
        }
  const spec = specOf(arch)
  const params = new Float32Array(spec.size)
  layers.forEach((layer, i) => {
    const w = spec.views[2 * i]
    const b = spec.views[2 * i + 1]
    if (!w || !b) throw new LetheError('INTERNAL', `The spec of ${arch.kind} has no layer ${i + 1}.`)
    params.set(layer.weight, w.offset)
    params.set(layer.bias, b.offset)
  })
  const nonFinite = params.findIndex((v) => !Number.isFinite(v))
  if (nonFinite >= 0)
    throw bad(
      `The model's weights hold NaN or infinite values (parameter ${nonFinite}); it cannot be imported.`,
    )
  return { arch, params, output, opset, dropped }
}
