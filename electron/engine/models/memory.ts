/**
 * What training a model holds in memory at its peak, against what the engine can hold, so that a
 * model too large for the machine is refused before it starts rather than aborting the engine.
 *
 * The constants come from peaks of tensor memory measured with tf.profile on the WASM backend (one
 * epoch, SGD and Adam alike): MLPs held 19–34 parameter-sized vectors (the parameters, the
 * optimiser's state, and the gradient once per parameter view, since TF.js pads each slice's
 * gradient to the whole vector), and MLPs and CNNs 6–10 copies of a batch's activations. The
 * estimate lay 5–100 % above every peak measured, logistic regression to CNNs.
 */
import os from 'node:os'
import { LetheError } from '../../contract'
import { describeArch, layersOf, type ModelSpec } from './spec'

const PARAMETER_COPIES_BASE = 16
const PARAMETER_COPIES_PER_VIEW = 2
const ACTIVATION_COPIES = 10
/** The dataset's features: on the host and uploaded as one tensor. */
const DATA_COPIES = 2
/** Emscripten's ceiling for the WASM backend's memory (32-bit addresses). */
const WASM_MEMORY = 4294901760

/** Float32 values one row's forward pass makes: each layer's input and output, a convolution's image patches too. */
function activationsPerRow(spec: ModelSpec): number {
  const { conv, globalPool, dense } = layersOf(spec.arch)
  let total = spec.inputs
  for (const c of conv) total += c.outHeight * c.outWidth * (c.kernel * c.kernel * c.cin + c.filters)
  const last = conv[conv.length - 1]
  if (last) {
    const pooled = (size: number) => (last.pool === 'none' ? size : Math.floor(size / 2))
    total += pooled(last.outHeight) * pooled(last.outWidth) * last.filters + (globalPool ? last.filters : 0)
  }
  return dense.reduce((sum, d) => sum + d.fanOut, total)
}

/** Bytes training `spec` in batches of `batchSize` over `rows` rows takes at its peak. */
function trainingBytes(spec: ModelSpec, batchSize: number, rows: number): number {
  const parameterCopies = PARAMETER_COPIES_BASE + PARAMETER_COPIES_PER_VIEW * spec.views.length
  return (
    4 *
    (parameterCopies * spec.size +
      ACTIVATION_COPIES * batchSize * activationsPerRow(spec) +
      DATA_COPIES * rows * (spec.inputs + 1))
  )
}

/** What the engine can hold on a backend, and why that much. */
function engineCapacity(backend: string): { bytes: number; limit: string } {
  const machine = os.totalmem()
  return backend === 'wasm' && WASM_MEMORY < machine
    ? { bytes: WASM_MEMORY, limit: 'the WebAssembly backend’s 4 GB address space' }
    : { bytes: machine, limit: 'this machine’s memory' }
}

const gigabytes = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GB`

/** Refuses a training the engine cannot hold, naming the parameters and the memory it would need. */
export function checkTrainingFits(spec: ModelSpec, batchSize: number, rows: number, backend: string): void {
  const needed = trainingBytes(spec, batchSize, rows)
  const capacity = engineCapacity(backend)
  if (needed <= capacity.bytes) return
  throw new LetheError(
    'BAD_INPUT',
    `The ${describeArch(spec.arch)} has ${spec.size.toLocaleString('en')} parameters; training it in batches of ${batchSize} needs about ${gigabytes(needed)} of memory, more than the ${gigabytes(capacity.bytes)} the engine can hold (${capacity.limit}). Choose fewer or narrower hidden layers, or a smaller batch size.`,
    { parameters: spec.size, bytesNeeded: needed, bytesAvailable: capacity.bytes },
  )
}
