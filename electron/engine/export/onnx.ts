/**
 * ONNX model export: a dense version (logistic regression or MLP) becomes a ModelProto
 * (IR version 7, opset 13) that any ONNX runtime runs: input "input" [N, inputs] float, one Gemm
 * per layer (transB 0, weights and biases as raw little-endian float32 initializers), Relu between
 * layers, and at the end the output the model was imported with (logits, Softmax or LogSoftmax),
 * else a Softmax (axis 1) named "probabilities". CNNs are not exported yet.
 */
import { createRequire } from 'node:module'
import type * as OnnxProto from 'onnx-proto'
import { LetheError } from '../../contract'
import type { OnnxOutput } from '../import/onnx'
import { specOf, type Architecture } from '../models/spec'

const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto

export const EXPORT_IR_VERSION = 7
export const EXPORT_OPSET = 13

const OUTPUT_NAMES: Record<OnnxOutput, string> = {
  logits: 'logits',
  softmax: 'probabilities',
  logsoftmax: 'log_probabilities',
}

/** Little-endian float32 bytes of a slice, whatever the host's byte order. */
function rawFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i] as number, true)
  return bytes
}

const valueInfo = (name: string, width: number): OnnxProto.onnx.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] },
    },
  },
})

/** The ONNX bytes of a dense model; `output` is the imported model's output kind, if any (default softmax). */
export function exportOnnx(args: {
  arch: Architecture
  params: Float32Array
  name: string
  output?: OnnxOutput
}): Uint8Array {
  const { arch, params } = args
  if (arch.kind !== 'logreg' && arch.kind !== 'mlp')
    throw new LetheError(
      'BAD_INPUT',
      `ONNX export supports logistic regressions and MLPs; this model is a ${arch.kind.toUpperCase()}, which cannot be exported yet.`,
      { kind: arch.kind },
    )
  const spec = specOf(arch)
  if (params.length !== spec.size)
    throw new LetheError(
      'BAD_INPUT',
      `The parameters have ${params.length} values; the model needs ${spec.size}.`,
    )
  const output = args.output ?? 'softmax'
  const nodes: OnnxProto.onnx.INodeProto[] = []
  const initializer: OnnxProto.onnx.ITensorProto[] = []
  const layers = spec.views.length / 2
  let current = 'input'
  for (let layer = 0; layer < layers; layer++) {
    const w = spec.views[2 * layer]
    const b = spec.views[2 * layer + 1]
    if (!w || !b) throw new Error('spec views out of order')
    const weightName = `layer${layer + 1}.weight`
    const biasName = `layer${layer + 1}.bias`
    initializer.push(
      {
        name: weightName,
        dims: w.shape,
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: rawFloats(params.subarray(w.offset, w.offset + w.size)),
      },
      {
        name: biasName,
        dims: b.shape,
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: rawFloats(params.subarray(b.offset, b.offset + b.size)),
      },
    )
    const last = layer === layers - 1
    const gemmOut = last && output === 'logits' ? OUTPUT_NAMES.logits : `layer${layer + 1}.gemm`
    nodes.push({
      name: `Gemm_${layer + 1}`,
      opType: 'Gemm',
      input: [current, weightName, biasName],
      output: [gemmOut],
      attribute: [
        { name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
        { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 },
        { name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 },
      ],
    })
    current = gemmOut
    if (!last) {
      const reluOut = `layer${layer + 1}.relu`
      nodes.push({ name: `Relu_${layer + 1}`, opType: 'Relu', input: [current], output: [reluOut] })
      current = reluOut
    }
  }
  if (output !== 'logits') {
    nodes.push({
      name: output === 'softmax' ? 'Softmax' : 'LogSoftmax',
      opType: output === 'softmax' ? 'Softmax' : 'LogSoftmax',
      input: [current],
      output: [OUTPUT_NAMES[output]],
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    })
    current = OUTPUT_NAMES[output]
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
        input: [valueInfo('input', spec.inputs)],
        output: [valueInfo(current, spec.classes)],
      },
    }),
  ).finish()
}
