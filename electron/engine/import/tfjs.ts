/**
 * TF.js Layers model import: the model.json (format 'layers-model') that tensorflowjs_converter
 * writes from a Keras model, or TF.js's own model.save, with its float32 weight shards, becomes
 * one of the engine's architectures (models/spec.ts) with its flat parameter vector.
 *
 * Keras is channels-last like the engine: Conv2D kernels are [kh, kw, in, out], Dense kernels
 * [in, out] and Flatten reads height × width × channels, so weights are copied as they are.
 * Supported: a Sequential model, or a Functional one whose layers form one chain, of InputLayer,
 * Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Dropout (dropped),
 * Activation (merged into the layer before it) and Dense. Anything else is refused naming the
 * layer (its name and class) and what is supported.
 */
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../../contract'
import { ACTIVATIONS, specOf, type Activation, type Architecture, type ConvStage } from '../models/spec'

/** What the model's output is: the engine computes logits, a Keras model usually ends in softmax. */
export type TfjsOutput = 'logits' | 'softmax'

/** The architectures a Layers model maps onto: a logistic regression, an MLP or a general CNN. */
export type TfjsArchitecture = Extract<Architecture, { kind: 'logreg' | 'mlp' | 'convnet' }>

export interface ImportedTfjs {
  arch: TfjsArchitecture
  /** The engine's flat layout: per layer the kernel ([k, k, in, out] or [in, out]) then the bias. */
  params: Float32Array
  output: TfjsOutput
  /** Layers dropped on import (InputLayer, Dropout, Flatten, merged Activation), by name and class. */
  dropped: string[]
}

export const SUPPORTED_LAYERS =
  'a Sequential (or single-chain Functional) model of InputLayer, Conv2D (strides 1, dilation 1, padding same or valid, channels_last, activation relu, sigmoid, tanh or linear), MaxPooling2D or AveragePooling2D (pool 2, strides 2, padding valid) after a Conv2D, GlobalAveragePooling2D, Flatten, Dropout (dropped), Activation (merged into the layer before it) and Dense (relu, sigmoid, tanh or linear hidden layers, all alike; softmax or linear at the end), with float32 weights'

const bad = (message: string, details?: Record<string, unknown>) =>
  new LetheError('BAD_INPUT', message, details)

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** One layer of the topology, as Keras serialises it. */
interface KerasLayer {
  className: string
  name: string
  config: Json
}

const labelOf = (layer: KerasLayer) => `Layer "${layer.name}" (${layer.className})`

const refuse = (layer: KerasLayer, why: string) =>
  bad(`${labelOf(layer)}: ${why}. Lethe imports ${SUPPORTED_LAYERS}.`, {
    layer: layer.name,
    className: layer.className,
  })

/** The topology's model config: the converter nests it under model_config, TF.js's save does not. */
function modelConfigOf(json: Json): {
  className: string
  layers: KerasLayer[]
  rawLayers: unknown[]
  config: Json
} {
  if (json.format !== undefined && json.format !== 'layers-model')
    throw bad(
      `This model.json is a TF.js "${String(json.format)}" model; Lethe imports Layers models (format "layers-model", what tensorflowjs_converter writes from Keras), not graph models.`,
      { format: json.format },
    )
  if (!isObject(json.modelTopology))
    throw bad(
      'This JSON file has no modelTopology: it is not a TF.js Layers model.json (what tensorflowjs_converter writes from Keras).',
    )
  const topology = isObject(json.modelTopology.model_config)
    ? json.modelTopology.model_config
    : json.modelTopology
  const className = topology.class_name
  if (typeof className !== 'string' || (!isObject(topology.config) && !Array.isArray(topology.config)))
    throw bad('The modelTopology holds no model (class_name and config): the model.json is malformed.')
  // Keras before 2.2.3 wrote a Sequential's config as the list of its layers.
  const rawLayers = Array.isArray(topology.config) ? topology.config : topology.config.layers
  if (!Array.isArray(rawLayers) || rawLayers.length === 0)
    throw bad(`The ${className} model lists no layers: the model.json is malformed.`)
  const layers = rawLayers.map((raw, index): KerasLayer => {
    if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config))
      throw bad(
        `Layer #${index + 1} of the topology has no class_name and config: the model.json is malformed.`,
      )
    const name =
      typeof raw.config.name === 'string'
        ? raw.config.name
        : typeof raw.name === 'string'
          ? raw.name
          : `#${index + 1}`
    return { className: raw.class_name, name, config: raw.config }
  })
  return { className, layers, rawLayers, config: isObject(topology.config) ? topology.config : {} }
}

/** A Functional model's layers in chain order from its one input to its one output, or a refusal. */
function chainOf(config: Json, layers: KerasLayer[], rawLayers: unknown[]): KerasLayer[] {
  const byName = new Map(layers.map((layer) => [layer.name, layer]))
  const ends = (key: 'input_layers' | 'output_layers') => {
    const list = config[key]
    const names = Array.isArray(list) ? list.map((entry) => (Array.isArray(entry) ? entry[0] : entry)) : []
    if (names.length !== 1 || typeof names[0] !== 'string')
      throw bad(
        `The Functional model has ${names.length} ${key === 'input_layers' ? 'inputs' : 'outputs'}; Lethe imports a chain with one input (the feature rows) and one output (the class scores).`,
      )
    return names[0]
  }
  const first = ends('input_layers')
  const last = ends('output_layers')
  // Who feeds each layer: Keras 2 writes inbound_nodes as [[[name, node, tensor, kwargs], …]].
  const inbound = new Map<string, string[]>()
  rawLayers.forEach((raw, index) => {
    const layer = layers[index] as KerasLayer
    const nodes = isObject(raw) && Array.isArray(raw.inbound_nodes) ? raw.inbound_nodes : []
    if (nodes.length > 1) throw refuse(layer, `it is called ${nodes.length} times (a shared layer)`)
    const sources = nodes.flatMap(sourcesOf)
    inbound.set(layer.name, sources)
  })
  const chain: KerasLayer[] = []
  let current = byName.get(first)
  if (!current) throw bad(`The Functional model's input layer "${first}" is not among its layers.`)
  for (;;) {
    chain.push(current)
    if (current.name === last) break
    const from = current.name
    const next = layers.filter((layer) => (inbound.get(layer.name) ?? []).includes(from))
    if (next.length !== 1)
      throw bad(
        next.length === 0
          ? `The Functional model's chain ends at "${from}", not at its output "${last}".`
          : `The Functional model is not a chain: "${from}" feeds ${next.length} layers (${next.map(labelOf).join(', ')}). Lethe imports ${SUPPORTED_LAYERS}.`,
        { layer: from },
      )
    current = next[0] as KerasLayer
    if (chain.includes(current)) throw refuse(current, 'the layers form a cycle')
    if ((inbound.get(current.name) ?? []).length !== 1)
      throw refuse(current, `it takes ${(inbound.get(current.name) ?? []).length} inputs, not one`)
  }
  const outside = layers.find((layer) => !chain.includes(layer))
  if (outside) throw refuse(outside, `it is not on the chain from "${first}" to "${last}"`)
  return chain
}

/** The layers a Functional node reads: Keras 2 lists [name, node, tensor, kwargs] entries, Keras 3 tensors' keras_history. */
function sourcesOf(node: unknown): string[] {
  if (Array.isArray(node)) return node.map((entry) => String(Array.isArray(entry) ? entry[0] : entry))
  if (!isObject(node) || !Array.isArray(node.args)) return []
  return node.args.flatMap((arg) =>
    isObject(arg) && isObject(arg.config) && Array.isArray(arg.config.keras_history)
      ? [String(arg.config.keras_history[0])]
      : [],
  )
}

const pair = (value: unknown, fallback: number): [number, number] | null => {
  if (value === undefined || value === null) return [fallback, fallback]
  if (typeof value === 'number') return [value, value]
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number'))
    return value as [number, number]
  return null
}

/** A layer's activation: a name, or (Keras 3) an object naming it. */
function activationOf(layer: KerasLayer): string {
  const value = layer.config.activation
  if (value === undefined || value === null) return 'linear'
  if (typeof value === 'string') return value
  if (
    isObject(value) &&
    typeof value.config === 'object' &&
    isObject(value.config) &&
    typeof value.config.name === 'string'
  )
    return value.config.name
  if (isObject(value) && typeof value.class_name === 'string') return value.class_name
  return String(value)
}

function checkChannelsLast(layer: KerasLayer) {
  const format = layer.config.data_format
  if (format !== undefined && format !== null && format !== 'channels_last')
    throw refuse(
      layer,
      `its data_format is ${String(format)}; only channels_last (Keras's default) is supported`,
    )
}

/** One weight of the manifest, decoded. */
interface Weight {
  shape: number[]
  values: Float32Array
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint8: 1, bool: 1 }

/** Reads every group's shards (concatenated per group) and decodes its weights, by name. */
async function readWeights(
  json: Json,
  readShard: (relativePath: string) => Promise<Uint8Array>,
): Promise<Map<string, Weight | { refused: string }>> {
  const manifest = json.weightsManifest
  if (!Array.isArray(manifest)) throw bad('The model.json has no weightsManifest: it names no weight files.')
  const weights = new Map<string, Weight | { refused: string }>()
  for (const [g, group] of manifest.entries()) {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw bad(
        `Weight group ${g + 1} of the weightsManifest has no paths and weights: the model.json is malformed.`,
      )
    const shards: Uint8Array[] = []
    for (const shardPath of group.paths) {
      if (typeof shardPath !== 'string')
        throw bad(`Weight group ${g + 1} names a shard that is not a path: the model.json is malformed.`)
      try {
        shards.push(await readShard(shardPath))
      } catch (error) {
        throw bad(
          `Cannot read the weight file "${shardPath}" (group ${g + 1} of the weightsManifest): ${(error as Error).message}. A Layers model is its model.json and every shard beside it.`,
          { shard: shardPath },
        )
      }
    }
    const total = shards.reduce((sum, shard) => sum + shard.length, 0)
    const data = new Uint8Array(total)
    let at = 0
    for (const shard of shards) {
      data.set(shard, at)
      at += shard.length
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    let offset = 0
    for (const entry of group.weights) {
      if (!isObject(entry) || typeof entry.name !== 'string' || !Array.isArray(entry.shape))
        throw bad(`A weight of group ${g + 1} has no name and shape: the model.json is malformed.`)
      const shape = entry.shape.map(Number)
      if (shape.some((d) => !Number.isInteger(d) || d < 0))
        throw bad(`The weight "${entry.name}" has the shape [${shape.join(', ')}], not one of sizes.`)
      const size = shape.reduce((a, b) => a * b, 1)
      const quantization = isObject(entry.quantization) ? entry.quantization : null
      // A quantised weight is stored in its quantised dtype, whatever the dtype it decodes to.
      const stored = String(quantization?.dtype ?? entry.dtype ?? 'float32')
      const width = DTYPE_BYTES[stored]
      if (width === undefined)
        throw bad(
          `The weight "${entry.name}" is stored as ${stored}, which TF.js Layers weights are never stored as.`,
        )
      const bytes = size * width
      if (offset + bytes > data.length)
        throw bad(
          `The weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${data.length} bytes; the weights listed up to "${entry.name}" need ${offset + bytes}.`,
          { weight: entry.name },
        )
      if (stored !== 'float32' || quantization)
        weights.set(entry.name, {
          refused: quantization ? `quantised to ${stored}` : `${stored}`,
        })
      else {
        const values = new Float32Array(size)
        for (let i = 0; i < size; i++) values[i] = view.getFloat32(offset + 4 * i, true)
        weights.set(entry.name, { shape, values })
      }
      offset += bytes
    }
    if (offset !== data.length)
      throw bad(
        `The weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${data.length} bytes; its weights need ${offset}.`,
      )
  }
  return weights
}

/** The width of a flat row of the input: features, or height × width × channels once flattened. */
const inputsOf = (shape: (number | null)[] | null) =>
  (shape ?? []).slice(1).reduce<number>((a, b) => a * (b as number), 1)

/** What the chain builds, layer by layer, before it becomes an architecture. */
interface Built {
  image: { height: number; width: number; channels: number } | null
  stages: (ConvStage & { layer: KerasLayer })[]
  globalPool: boolean
  flattened: boolean
  dense: { layer: KerasLayer; units: number; activation: string }[]
}

/**
 * Maps a Layers model.json and its weight shards onto the engine's architectures; `readShard`
 * reads a weightsManifest path relative to the model.json (from disk, or from uploaded files).
 */
export async function importTfjsLayers(
  modelJson: unknown,
  readShard: (relativePath: string) => Promise<Uint8Array>,
): Promise<ImportedTfjs> {
  if (!isObject(modelJson))
    throw bad('This is not a TF.js Layers model: its model.json is not a JSON object.')
  const { className, layers: listed, rawLayers, config } = modelConfigOf(modelJson)
  let layers: KerasLayer[]
  if (className === 'Sequential') layers = listed
  else if (className === 'Functional' || className === 'Model') layers = chainOf(config, listed, rawLayers)
  else
    throw bad(
      `The model is a ${className}; Lethe imports Sequential models and Functional ones whose layers form one chain.`,
      { className },
    )

  const built: Built = { image: null, stages: [], globalPool: false, flattened: false, dense: [] }
  let inputShape: (number | null)[] | null = null
  const dropped: string[] = []
  let output: TfjsOutput = 'logits'
  let ended = false
  /** The layer an Activation may merge into: the last Conv2D or Dense, while its activation is linear. */
  let mergeable: { kind: 'conv' | 'dense'; set: (activation: Activation) => void } | null = null

  const shapeOf = (layer: KerasLayer): (number | null)[] | null => {
    const shape = layer.config.batch_input_shape ?? layer.config.batch_shape
    if (shape === undefined || shape === null) return null
    if (!Array.isArray(shape) || shape.slice(1).some((d) => typeof d !== 'number' || d < 1))
      throw refuse(layer, `its input shape [${String(shape)}] is not fully known after the batch`)
    const dtype = layer.config.dtype
    if (dtype !== undefined && dtype !== null && dtype !== 'float32' && !isObject(dtype))
      throw refuse(layer, `its input is ${String(dtype)}; Lethe feeds float32 rows`)
    return shape as (number | null)[]
  }
  const startInput = (layer: KerasLayer, shape: (number | null)[]) => {
    const dims = shape.slice(1) as number[]
    if (dims.length === 3) {
      const [height, width, channels] = dims as [number, number, number]
      built.image = { height, width, channels }
    } else if (dims.length !== 1)
      throw refuse(
        layer,
        `its input shape [${shape.join(', ')}] is neither feature rows [batch, features] nor images [batch, height, width, channels]`,
      )
    return shape
  }

  for (const layer of layers) {
    if (ended) throw refuse(layer, 'it follows the final softmax')
    const shape = shapeOf(layer)
    // Keras 2 repeats the InputLayer's shape in the first layer's config: only a different one is a second input.
    if (shape && !inputShape) inputShape = startInput(layer, shape)
    else if (shape && shape.slice(1).join() !== inputShape?.slice(1).join())
      throw refuse(layer, `it declares a second input shape [${shape.join(', ')}]`)
    if (!inputShape && layer.className !== 'InputLayer')
      throw refuse(layer, 'the model declares no input shape before it (an InputLayer or batch_input_shape)')
    const imageNow = built.image !== null && !built.flattened && !built.globalPool
    switch (layer.className) {
      case 'InputLayer':
        if (!shape) throw refuse(layer, 'it has no batch_input_shape')
        dropped.push(labelOf(layer))
        break
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianDropout':
      case 'GaussianNoise':
      case 'AlphaDropout':
        // Inference no-ops (Keras applies them only while training).
        dropped.push(labelOf(layer))
        break
      case 'Conv2D': {
        if (!imageNow)
          throw refuse(
            layer,
            'a Conv2D needs an image input [batch, height, width, channels], and comes before any Flatten or Dense',
          )
        if (built.dense.length) throw refuse(layer, 'a Conv2D after a Dense layer is not supported')
        checkChannelsLast(layer)
        const kernel = pair(layer.config.kernel_size, 0)
        if (!kernel || kernel[0] !== kernel[1] || kernel[0] < 1)
          throw refuse(
            layer,
            `its kernel_size ${JSON.stringify(layer.config.kernel_size)} is not square; only square kernels are supported`,
          )
        const strides = pair(layer.config.strides, 1)
        if (!strides || strides[0] !== 1 || strides[1] !== 1)
          throw refuse(
            layer,
            `its strides are ${JSON.stringify(layer.config.strides)}; only strides 1 are supported`,
          )
        const dilation = pair(layer.config.dilation_rate, 1)
        if (!dilation || dilation[0] !== 1 || dilation[1] !== 1)
          throw refuse(
            layer,
            `its dilation_rate is ${JSON.stringify(layer.config.dilation_rate)}; only 1 is supported`,
          )
        if ((layer.config.groups ?? 1) !== 1)
          throw refuse(layer, `its groups is ${String(layer.config.groups)}; only 1 is supported`)
        const padding = layer.config.padding ?? 'valid'
        if (padding !== 'same' && padding !== 'valid')
          throw refuse(layer, `its padding is ${String(padding)}; only same and valid are supported`)
        const filters = layer.config.filters
        if (typeof filters !== 'number' || filters < 1) throw refuse(layer, 'it has no filters count')
        const activation = activationOf(layer)
        if (!ACTIVATIONS.includes(activation as Activation))
          throw refuse(layer, `its activation ${activation} is not supported in a convolution stage`)
        const stage: Built['stages'][number] = {
          filters,
          kernel: kernel[0],
          padding,
          activation: activation as Activation,
          pool: 'none',
          layer,
        }
        built.stages.push(stage)
        mergeable = activation === 'linear' ? { kind: 'conv', set: (a) => (stage.activation = a) } : null
        continue
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const stage = built.stages[built.stages.length - 1]
        if (!imageNow || !stage || stage.pool !== 'none')
          throw refuse(layer, 'pooling is supported once, right after a Conv2D (and its Activation)')
        checkChannelsLast(layer)
        const size = pair(layer.config.pool_size, 2)
        // Keras's strides default to the pool size.
        const strides = pair(layer.config.strides ?? layer.config.pool_size, 2)
        if (!size || size[0] !== 2 || size[1] !== 2)
          throw refuse(
            layer,
            `its pool_size is ${JSON.stringify(layer.config.pool_size)}; only 2 is supported`,
          )
        if (!strides || strides[0] !== 2 || strides[1] !== 2)
          throw refuse(layer, `its strides are ${JSON.stringify(layer.config.strides)}; only 2 is supported`)
        if ((layer.config.padding ?? 'valid') !== 'valid')
          throw refuse(layer, `its padding is ${String(layer.config.padding)}; only valid is supported`)
        stage.pool = layer.className === 'MaxPooling2D' ? 'max' : 'avg'
        break
      }
      case 'GlobalAveragePooling2D':
        if (!imageNow || built.stages.length === 0)
          throw refuse(layer, 'global average pooling is supported only after the last Conv2D stage')
        checkChannelsLast(layer)
        if (layer.config.keepdims === true)
          throw refuse(layer, 'keepdims true is not supported (a Flatten is needed after it)')
        built.globalPool = true
        break
      case 'Flatten':
        checkChannelsLast(layer)
        if (built.dense.length) throw refuse(layer, 'a Flatten after a Dense layer is not supported')
        built.flattened = true
        dropped.push(labelOf(layer))
        break
      case 'Dense': {
        if (imageNow)
          throw refuse(
            layer,
            'a Dense layer on an image acts on its channels only; put a Flatten or GlobalAveragePooling2D before it',
          )
        const units = layer.config.units
        if (typeof units !== 'number' || units < 1) throw refuse(layer, 'it has no units count')
        const entry = { layer, units, activation: activationOf(layer) }
        built.dense.push(entry)
        if (entry.activation === 'softmax') {
          output = 'softmax'
          ended = true
          entry.activation = 'linear'
        }
        mergeable =
          entry.activation === 'linear' && !ended
            ? { kind: 'dense', set: (a) => (entry.activation = a) }
            : null
        continue
      }
      case 'Activation': {
        const activation = activationOf(layer)
        if (!mergeable)
          throw refuse(
            layer,
            'an Activation is supported only right after a Conv2D or Dense layer with a linear activation',
          )
        if (activation === 'softmax') {
          if (mergeable.kind !== 'dense')
            throw refuse(layer, 'softmax is supported only at the end, after the last Dense layer')
          output = 'softmax'
          ended = true
        } else if (ACTIVATIONS.includes(activation as Activation)) mergeable.set(activation as Activation)
        else
          throw refuse(
            layer,
            `the activation ${activation} is not supported (relu, sigmoid, tanh or linear; softmax at the end)`,
          )
        dropped.push(`${labelOf(layer)} (merged)`)
        break
      }
      default:
        throw refuse(layer, `the layer class ${layer.className} is not supported`)
    }
    mergeable = null
  }

  const weights = await readWeights(modelJson, readShard)
  const taken = new Set<string>()
  const weightOf = (layer: KerasLayer, role: 'kernel' | 'bias', shape: number[]): Float32Array => {
    const name = `${layer.name}/${role}`
    const weight = weights.get(name)
    if (role === 'bias' && layer.config.use_bias === false) {
      if (weight) throw refuse(layer, `it has use_bias false but the manifest holds "${name}"`)
      return new Float32Array(shape[0] as number)
    }
    if (!weight)
      throw refuse(
        layer,
        `its weight "${name}" is not in the weightsManifest (it lists ${[...weights.keys()].join(', ') || 'nothing'})`,
      )
    if ('refused' in weight)
      throw refuse(
        layer,
        `its weight "${name}" is ${weight.refused}; only float32 weights are supported (convert without quantisation or float16)`,
      )
    if (weight.shape.join() !== shape.join())
      throw refuse(
        layer,
        `its weight "${name}" has the shape [${weight.shape.join(', ')}], not [${shape.join(', ')}]`,
      )
    taken.add(name)
    return weight.values
  }

  if (built.dense.length === 0)
    throw bad(`The model has no Dense layer to give class scores; Lethe imports ${SUPPORTED_LAYERS}.`)
  const lastDense = built.dense[built.dense.length - 1] as Built['dense'][number]
  if (lastDense.activation !== 'linear')
    throw refuse(
      lastDense.layer,
      `the last Dense layer's activation is ${lastDense.activation}; the class scores must be logits (linear) or softmax`,
    )
  if (lastDense.units < 2)
    throw refuse(
      lastDense.layer,
      'the last Dense layer has one unit; Lethe imports classifiers with one score per class (two or more)',
    )
  const hidden = built.dense.slice(0, -1)
  for (const layer of hidden) {
    if (!ACTIVATIONS.includes(layer.activation as Activation))
      throw refuse(
        layer.layer,
        `the hidden activation ${layer.activation} is not supported (relu, sigmoid, tanh or linear)`,
      )
    if (layer.activation !== (hidden[0] as Built['dense'][number]).activation)
      throw refuse(
        layer.layer,
        `its activation ${layer.activation} differs from the first hidden layer's (${(hidden[0] as Built['dense'][number]).activation}); Lethe's dense stacks use one activation`,
      )
  }
  const hiddenActivation = (hidden[0]?.activation ?? 'linear') as Activation

  const arch: TfjsArchitecture =
    built.image && built.stages.length
      ? {
          kind: 'convnet',
          ...built.image,
          stages: built.stages.map((s): ConvStage => ({
            filters: s.filters,
            kernel: s.kernel,
            padding: s.padding,
            activation: s.activation,
            pool: s.pool,
          })),
          globalPool: built.globalPool,
          hidden: hidden.map((d) => d.units),
          activation: hiddenActivation,
          classes: lastDense.units,
        }
      : hidden.length === 0
        ? { kind: 'logreg', inputs: inputsOf(inputShape), classes: lastDense.units }
        : {
            kind: 'mlp',
            inputs: inputsOf(inputShape),
            hidden: hidden.map((d) => d.units),
            classes: lastDense.units,
            activation: hiddenActivation,
          }

  let spec
  try {
    spec = specOf(arch)
  } catch (error) {
    throw bad(`The model's shapes do not fit together: ${(error as Error).message}.`)
  }
  const params = new Float32Array(spec.size)
  const sources = [...built.stages.map((s) => s.layer), ...built.dense.map((d) => d.layer)]
  sources.forEach((layer, i) => {
    const w = spec.views[2 * i]
    const b = spec.views[2 * i + 1]
    if (!w || !b) throw new LetheError('INTERNAL', `The spec of ${arch.kind} has no layer ${i + 1}.`)
    params.set(weightOf(layer, 'kernel', w.shape), w.offset)
    params.set(weightOf(layer, 'bias', b.shape), b.offset)
  })
  const unused = [...weights.keys()].filter((name) => !taken.has(name))
  if (unused.length)
    throw bad(
      `The weightsManifest holds weights no supported layer uses (${unused.join(', ')}); Lethe imports ${SUPPORTED_LAYERS}.`,
      { weights: unused },
    )
  const nonFinite = params.findIndex((v) => !Number.isFinite(v))
  if (nonFinite >= 0)
    throw bad(
      `The model's weights hold NaN or infinite values (parameter ${nonFinite}); it cannot be imported.`,
    )
  return { arch, params, output, dropped }
}

/** Whether a file's bytes are JSON text (a model.json); an ONNX protobuf never starts with '{'. */
export function isJsonText(bytes: Uint8Array): boolean {
  for (const byte of bytes) {
    if (
      byte === 0x20 ||
      byte === 0x09 ||
      byte === 0x0a ||
      byte === 0x0d ||
      byte === 0xef ||
      byte === 0xbb ||
      byte === 0xbf
    )
      continue // whitespace, or a UTF-8 byte-order mark
    return byte === 0x7b
  }
  return false
}

/**
 * Imports a model.json read from disk: its weight shards are read from its folder, and only from
 * there (a manifest path that is absolute or climbs out of the folder is refused), together at
 * most `maxBytes`.
 */
export async function importTfjsLayersFile(
  file: string,
  bytes: Uint8Array,
  maxBytes: number,
): Promise<ImportedTfjs> {
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (error) {
    throw bad(
      `${path.basename(file)} is not valid JSON (${(error as Error).message}); a TF.js Layers model is a model.json with its weight shards.`,
    )
  }
  const folder = path.dirname(path.resolve(file))
  let total = bytes.length
  return importTfjsLayers(json, async (relative) => {
    const shard = path.resolve(folder, relative)
    if (path.isAbsolute(relative) || path.relative(folder, shard).startsWith('..'))
      throw new Error('a weight file must lie in the folder of model.json')
    const { size } = await stat(shard)
    total += size
    if (total > maxBytes) throw new Error(`the model's files pass the limit of ${maxBytes / 1024 ** 2} MiB`)
    return new Uint8Array(await readFile(shard))
  })
}
