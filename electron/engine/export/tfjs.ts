/**
 * TF.js Layers model export: any version (logistic regression, MLP, Lethe's CNN, an imported
 * convnet) becomes a Keras Sequential model.json (format 'layers-model', the layout
 * tensorflowjs_converter writes) and one float32 weight shard, which tf.loadLayersModel loads
 * and Keras reads back through tensorflowjs_converter. The engine is channels-last like Keras:
 * its Conv2D kernels [k, k, in, out] and Dense kernels [in, out] are written as they are.
 */
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../../contract'
import { sha256Hex } from '../../lib/digest'
import { writeFileDurably } from '../../lib/files'
import { layersOf, specOf, type Activation, type Architecture } from '../models/spec'

/** The one weight file, named as tensorflowjs_converter names a single-shard group. */
export const TFJS_SHARD_FILE = 'group1-shard1of1.bin'

/** The output the exported model gives: an imported model keeps logits if it came with them. */
export type TfjsExportOutput = 'logits' | 'softmax' | 'logsoftmax'

type KerasLayer = { class_name: string; config: Record<string, unknown> }

const layer = (className: string, name: string, config: Record<string, unknown> = {}): KerasLayer => ({
  class_name: className,
  config: { name, trainable: true, dtype: 'float32', ...config },
})

const initializers = {
  kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
  bias_initializer: { class_name: 'Zeros', config: {} },
  kernel_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  bias_constraint: null,
}

/** Little-endian float32 bytes, whatever the host's byte order. */
function rawFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i] as number, true)
  return bytes
}

/**
 * The model.json (an object, to be written as JSON) and the bytes of its one weight shard.
 * `output` is how the model came in: 'logits' ends in a linear Dense; softmax and log-softmax
 * (which Keras has no activation for) end in a softmax Dense.
 */
export function exportTfjsLayers(args: {
  arch: Architecture
  params: Float32Array
  name?: string
  output?: TfjsExportOutput
}): { modelJson: Record<string, unknown>; weights: Uint8Array } {
  const { arch, params } = args
  const spec = specOf(arch)
  if (params.length !== spec.size)
    throw new LetheError(
      'BAD_INPUT',
      `The parameters have ${params.length} values; the model needs ${spec.size}.`,
    )
  const { image, conv, globalPool, dense } = layersOf(arch)
  const inputShape = image ? [null, image.height, image.width, image.channels] : [null, spec.inputs]
  const layers: KerasLayer[] = [
    {
      class_name: 'InputLayer',
      config: {
        batch_input_shape: inputShape,
        dtype: 'float32',
        sparse: false,
        ragged: false,
        name: 'input',
      },
    },
  ]
  /** Layer names in the order of the spec's layers, whose weights are `${name}/kernel` and `${name}/bias`. */
  const weighted: string[] = []
  conv.forEach((c, i) => {
    const name = `conv2d_${i + 1}`
    weighted.push(name)
    layers.push(
      layer('Conv2D', name, {
        filters: c.filters,
        kernel_size: [c.kernel, c.kernel],
        strides: [1, 1],
        padding: c.padding,
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        groups: 1,
        activation: c.activation,
        use_bias: true,
        ...initializers,
      }),
    )
    if (c.pool !== 'none')
      layers.push(
        layer(
          c.pool === 'max' ? 'MaxPooling2D' : 'AveragePooling2D',
          `${c.pool === 'max' ? 'max' : 'average'}_pooling2d_${i + 1}`,
          {
            pool_size: [2, 2],
            padding: 'valid',
            strides: [2, 2],
            data_format: 'channels_last',
          },
        ),
      )
  })
  if (globalPool)
    layers.push(
      layer('GlobalAveragePooling2D', 'global_average_pooling2d', {
        data_format: 'channels_last',
        keepdims: false,
      }),
    )
  else if (image) layers.push(layer('Flatten', 'flatten', { data_format: 'channels_last' }))
  const headActivation = args.output === 'logits' ? 'linear' : 'softmax'
  dense.forEach((d, i) => {
    const name = `dense_${i + 1}`
    weighted.push(name)
    const activation: Activation | 'softmax' = d.activation ?? headActivation
    layers.push(layer('Dense', name, { units: d.fanOut, activation, use_bias: true, ...initializers }))
  })

  const weightSpecs = spec.views.map((view) => ({
    name: `${weighted[view.layer]}/${view.role === 'weight' ? 'kernel' : 'bias'}`,
    shape: view.shape,
    dtype: 'float32',
  }))
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'Lethe',
    convertedBy: null,
    modelTopology: {
      backend: 'tensorflow',
      model_config: {
        class_name: 'Sequential',
        config: { name: args.name ?? 'sequential', layers },
      },
    },
    weightsManifest: [{ paths: [TFJS_SHARD_FILE], weights: weightSpecs }],
  }
  // The spec's views are the parameter vector in order: the shard is the vector itself.
  return { modelJson, weights: rawFloats(params) }
}

/** A file an export wrote: its path, SHA-256 and size. */
export interface WrittenFile {
  name: string
  sha256: string
  bytes: number
}

/**
 * Writes a Layers model: the weight shard first, then model.json (so a model.json on disk never
 * names a missing shard). `target` is the model.json to write, or an existing folder to write
 * model.json into; the shard goes beside it. Returns model.json's path and both files.
 */
export async function writeTfjsLayers(
  target: string,
  model: Parameters<typeof exportTfjsLayers>[0],
): Promise<{ path: string; files: WrittenFile[] }> {
  const { modelJson, weights } = exportTfjsLayers(model)
  const isFolder = await stat(target).then(
    (s) => s.isDirectory(),
    () => false,
  )
  const jsonPath = isFolder ? path.join(target, 'model.json') : target
  const shardPath = path.join(path.dirname(jsonPath), TFJS_SHARD_FILE)
  const jsonBytes = new TextEncoder().encode(JSON.stringify(modelJson))
  const files: WrittenFile[] = []
  for (const [file, bytes] of [
    [shardPath, weights],
    [jsonPath, jsonBytes],
  ] as const) {
    try {
      await writeFileDurably(file, bytes)
    } catch (error) {
      throw new LetheError('BAD_INPUT', `Cannot write ${file}: ${(error as Error).message}`)
    }
    files.push({ name: file, sha256: sha256Hex(bytes), bytes: bytes.length })
  }
  // model.json is the main file: it comes first.
  return { path: jsonPath, files: files.reverse() }
}
