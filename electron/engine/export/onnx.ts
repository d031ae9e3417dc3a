/**
 * ONNX model export: a version becomes a ModelProto (IR version 7, opset 13) that any ONNX runtime
 * runs, weights and biases as raw little-endian float32 initializers. A dense model (logistic
 * regression, MLP) takes "input" [N, inputs]: one Gemm per layer (transB 0) with its activation
 * between layers. A convolutional one ('cnn', 'convnet') takes "input" [N, C, H, W] when it was
 * imported from images, else Lethe's flat rows [N, H·W·C] reshaped to [N, H, W, C] and transposed
 * to NCHW; then per stage a Conv (kernels HWIO → OIHW, pads per 'same' or 'valid'), its
 * activation and MaxPool/AveragePool, an optional GlobalAveragePool, a Flatten (the first dense
 * layer's rows permuted from the engine's (h, w, c) order to ONNX's (c, h, w)) and the Gemm layers.
 * The graph ends in the output the model was imported with (logits, Softmax or LogSoftmax), else a
 * Softmax (axis 1) named "probabilities".
 */
import { createRequire } from 'node:module'
import type * as OnnxProto from 'onnx-proto'
import { LetheError } from '../../contract'
import type { OnnxInput, OnnxOutput } from '../import/onnx'
import { layersOf, specOf, type Activation, type Architecture } from '../models/spec'

const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto

export const EXPORT_IR_VERSION = 7
export const EXPORT_OPSET = 13

const OUTPUT_NAMES: Record<OnnxOutput, string> = {
  logits: 'logits',
  softmax: 'probabilities',
  logsoftmax: 'log_probabilities',
}

const ACTIVATION_OPS: Record<Exclude<Activation, 'linear'>, string> = {
  relu: 'Relu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
}

const { INT, INTS, FLOAT } = onnx.AttributeProto.AttributeType

/** Little-endian float32 bytes of a slice, whatever the host's byte order. */
function rawFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i] as number, true)
  return bytes
}

const valueInfo = (name: string, dims: number[]): OnnxProto.onnx.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: [{ dimParam: 'N' }, ...dims.map((dimValue) => ({ dimValue }))] },
    },
  },
})

/**
 * The ONNX bytes of a model. `output` is the imported model's output kind, if any (default
 * softmax); `input` how it took its input (default flat rows).
 */
export function exportOnnx(args: {
  arch: Architecture
  params: Float32Array
  name: string
  output?: OnnxOutput
  input?: OnnxInput
}): Uint8Array {
  const { arch, params } = args
  const spec = specOf(arch)
  if (params.length !== spec.size)
    throw new LetheError(
      'BAD_INPUT',
      `The parameters have ${params.length} values; the model needs ${spec.size}.`,
    )
  const { image, conv, globalPool, dense } = layersOf(arch)
  const output = args.output ?? 'softmax'
  const nodes: OnnxProto.onnx.INodeProto[] = []
  const initializer: OnnxProto.onnx.ITensorProto[] = []
  const floats = (name: string, dims: number[], values: Float32Array) =>
    initializer.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: rawFloats(values) })
  /** Appends a node reading the chain's current tensor; its output becomes the current one. */
  let current = 'input'
  const chain = (
    name: string,
    opType: string,
    extraInputs: string[] = [],
    attribute: OnnxProto.onnx.IAttributeProto[] = [],
    out = name.toLowerCase(),
  ) => {
    nodes.push({ name, opType, input: [current, ...extraInputs], output: [out], attribute })
    current = out
  }
  /** The activation's node, named by its op and `suffix`; none for the identity. */
  const activate = (suffix: string, activation: Activation | null) => {
    if (activation && activation !== 'linear')
      chain(`${ACTIVATION_OPS[activation]}_${suffix}`, ACTIVATION_OPS[activation])
  }
  const slice = (index: number) => {
    const view = spec.views[index]
    if (!view) throw new LetheError('INTERNAL', `The spec of ${arch.kind} has no view ${index + 1}.`)
    return { view, values: params.subarray(view.offset, view.offset + view.size) }
  }

  let inputDims = [spec.inputs]
  if (image) {
    const { height, width, channels } = image
    if (args.input === 'images') inputDims = [channels, height, width]
    else {
      // Lethe's rows are images flattened channels last; ONNX's Conv reads NCHW.
      initializer.push({
        name: 'image_shape',
        dims: [4],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: new Uint8Array(BigInt64Array.from([-1, height, width, channels].map(BigInt)).buffer),
      })
      chain('Reshape', 'Reshape', ['image_shape'], [], 'image_nhwc')
      chain('Transpose', 'Transpose', [], [{ name: 'perm', type: INTS, ints: [0, 3, 1, 2] }], 'image')
    }
  }

  conv.forEach((stage, s) => {
    const n = s + 1
    const { view, values: hwio } = slice(2 * s)
    const { kernel: k, cin, filters } = stage
    // The engine's kernels are [k, k, in, out] (HWIO); ONNX's [out, in, k, k] (OIHW).
    const oihw = new Float32Array(view.size)
    for (let o = 0; o < filters; o++)
      for (let i = 0; i < cin; i++)
        for (let y = 0; y < k; y++)
          for (let x = 0; x < k; x++)
            oihw[((o * cin + i) * k + y) * k + x] = hwio[((y * k + x) * cin + i) * filters + o] as number
    floats(`conv${n}.weight`, [filters, cin, k, k], oihw)
    floats(`conv${n}.bias`, [filters], slice(2 * s + 1).values)
    // 'same' pads (k − 1)/2 before and the rest after, as the engine does.
    const before = stage.padding === 'same' ? Math.floor((k - 1) / 2) : 0
    const after = stage.padding === 'same' ? k - 1 - before : 0
    chain(
      `Conv_${n}`,
      'Conv',
      [`conv${n}.weight`, `conv${n}.bias`],
      [
        { name: 'kernel_shape', type: INTS, ints: [k, k] },
        { name: 'strides', type: INTS, ints: [1, 1] },
        { name: 'pads', type: INTS, ints: [before, before, after, after] },
      ],
    )
    activate(`conv${n}`, stage.activation)
    if (stage.pool !== 'none')
      chain(
        `${stage.pool === 'max' ? 'MaxPool' : 'AveragePool'}_${n}`,
        stage.pool === 'max' ? 'MaxPool' : 'AveragePool',
        [],
        [
          { name: 'kernel_shape', type: INTS, ints: [2, 2] },
          { name: 'strides', type: INTS, ints: [2, 2] },
        ],
      )
  })
  if (globalPool) chain('GlobalAveragePool', 'GlobalAveragePool')
  if (image) chain('Flatten', 'Flatten', [], [{ name: 'axis', type: INT, i: 1 }])

  // The image the dense layers see, before it is flattened.
  const lastConv = conv[conv.length - 1]
  const pooled = (size: number) => (lastConv?.pool === 'none' ? size : Math.floor(size / 2))
  const features = lastConv
    ? { height: pooled(lastConv.outHeight), width: pooled(lastConv.outWidth), channels: lastConv.filters }
    : image
  dense.forEach((layer, l) => {
    const n = l + 1
    const at = 2 * (conv.length + l)
    let weight = slice(at).values
    if (l === 0 && features && !globalPool) {
      // The engine flattens images (h, w, c), ONNX's Flatten (c, h, w): the rows follow.
      const { height, width, channels } = features
      const permuted = new Float32Array(weight.length)
      const row = layer.fanOut
      for (let c = 0; c < channels; c++)
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) {
            const from = ((y * width + x) * channels + c) * row
            permuted.set(weight.subarray(from, from + row), ((c * height + y) * width + x) * row)
          }
      weight = permuted
    }
    floats(`layer${n}.weight`, [layer.fanIn, layer.fanOut], weight)
    floats(`layer${n}.bias`, [layer.fanOut], slice(at + 1).values)
    const last = l === dense.length - 1
    chain(
      `Gemm_${n}`,
      'Gemm',
      [`layer${n}.weight`, `layer${n}.bias`],
      [
        { name: 'transB', type: INT, i: 0 },
        { name: 'alpha', type: FLOAT, f: 1 },
        { name: 'beta', type: FLOAT, f: 1 },
      ],
      last && output === 'logits' ? OUTPUT_NAMES.logits : `layer${n}.gemm`,
    )
    if (!last) activate(`${n}`, layer.activation)
  })
  if (output !== 'logits') {
    const op = output === 'softmax' ? 'Softmax' : 'LogSoftmax'
    chain(op, op, [], [{ name: 'axis', type: INT, i: 1 }], OUTPUT_NAMES[output])
  }
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: EXPORT_IR_VERSION,
      producerName: 'lethe',
      opsetImport: [{ domain: '', version: EXPORT_OPSET }],
      graph: {
        name: args.name,
        node: nodes,
        initializer,
        input: [valueInfo('input', inputDims)],
        output: [valueInfo(current, [spec.classes])],
      },
    }),
  ).finish()
}
