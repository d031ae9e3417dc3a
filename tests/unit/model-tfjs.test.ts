/**
 * TF.js Layers import and export, held against TF.js's own tf.loadLayersModel: the Keras-style
 * fixtures (tests/fixtures/tfjs, made by make_fixtures.py on the digits and breast-cancer demos'
 * encoded features) predict in Lethe what loadLayersModel predicts; what Lethe exports (an
 * imported CNN, an MLP Lethe trained, Lethe's own CNN, an ONNX import) loads in loadLayersModel
 * and predicts Lethe's probabilities; layers Lethe cannot represent are refused by name, and
 * nothing is stored.
 */
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { TrainOptions } from '../../electron/contract/engine'
import type { Output } from '../../electron/contract'
import type { Dataset } from '../../electron/engine/data/dataset'
import { TFJS_SHARD_FILE } from '../../electron/engine/export/tfjs'
import { importTfjsLayers } from '../../electron/engine/import/tfjs'
import { folders } from '../../electron/engine/folders'
import {
  EXPORTS_FILE,
  exportModel,
  importModel,
  recipeOf,
  trainModel,
  type ExportRecord,
  type JobControl,
} from '../../electron/engine/jobs'
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { saveModel, trainedDraft, type ModelManifest } from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'
import { sha256Hex } from '../../electron/lib/digest'
import { importBreastCancer, lethe } from '../support/cli'
import { importedDemo } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { rejection } from '../support/errors'
import { letheProbabilities, testRowsOf, worstDifference } from '../support/onnx'

const fixture = (name: string) => path.resolve('tests/fixtures/tfjs', name)
const DIGITS_CNN = fixture('digits-cnn/model.json')
const CANCER_MLP = fixture('breast-cancer-mlp/model.json')
const ONNX_MLP = path.resolve('tests/fixtures/onnx/breast-cancer-mlp.onnx')
const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

let dataDir: string
let digits: Dataset
let cancer: Dataset

/**
 * TF.js's own reading of a Layers model on disk: model.json's topology and weight specs, and
 * every group's shards concatenated in manifest order, given to tf.loadLayersModel.
 */
async function loadWithTfjs(modelJsonPath: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as {
    modelTopology: object
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]
  }
  const folder = path.dirname(modelJsonPath)
  const data = Buffer.concat(
    json.weightsManifest.flatMap((group) => group.paths.map((p) => readFileSync(path.join(folder, p)))),
  )
  return tf.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    }),
  })
}

/** loadLayersModel's class probabilities for flat rows (softmax of its output when it gives logits). */
async function tfjsProbabilities(modelJsonPath: string, x: Float32Array): Promise<Float32Array> {
  const model = await loadWithTfjs(modelJsonPath)
  const [, ...shape] = model.inputs[0]?.shape as (number | null)[]
  const width = (shape as number[]).reduce((a, b) => a * b, 1)
  const layers = model.layers
  const last = layers[layers.length - 1]?.getConfig() as { activation?: string }
  const probabilities = tf.tidy(() => {
    const out = model.predict(tf.tensor(x, [x.length / width, ...(shape as number[])])) as tf.Tensor
    return last.activation === 'softmax' ? out : tf.softmax(out)
  })
  const values = (await probabilities.data()) as Float32Array
  probabilities.dispose()
  model.dispose()
  return values
}

const importFile = (file: string, dataset: Dataset) =>
  importModel({ dataDir, datasetId: dataset.manifest.id, path: file })

const modelFolders = () => {
  const folder = folders(dataDir).models
  return existsSync(folder) ? readdirSync(folder).sort() : []
}

/** Accuracy of probabilities on the dataset's test rows. */
function accuracy(dataset: Dataset, probabilities: Float32Array): number {
  const classes = dataset.manifest.classes.length
  let correct = 0
  dataset.test.forEach((row, i) => {
    const scores = Array.from(probabilities.subarray(i * classes, (i + 1) * classes))
    if (scores.indexOf(Math.max(...scores)) === dataset.labels[row]) correct++
  })
  return correct / dataset.test.length
}

/**
 * Exports a version as tfjs (to `target`: a model.json path, or a folder to write it into) and
 * checks loadLayersModel predicts Lethe's probabilities on the test rows.
 */
async function exportAndCompare(
  manifest: ModelManifest,
  dataset: Dataset,
  target = path.join(tempDir('lethe-tfjs-out-'), 'model.json'),
) {
  const exported = await exportModel({ dataDir, modelId: manifest.id, format: 'tfjs', path: target })
  const x = testRowsOf(dataset)
  const ours = await letheProbabilities(dataDir, manifest, x)
  const theirs = await tfjsProbabilities(exported.path, x)
  expect(worstDifference(ours, theirs)).toBeLessThanOrEqual(1e-5)
  return { file: exported.path, exported }
}

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-tfjs-')
  ;({ dataset: digits } = await importedDemo('digits', dataDir))
  ;({ dataset: cancer } = await importedDemo('breast-cancer', dataDir))
})

describe('importing TF.js Layers models', () => {
  let cnn: ModelManifest
  let mlp: ModelManifest
  beforeAll(async () => {
    cnn = await importFile(DIGITS_CNN, digits)
    mlp = await importFile(CANCER_MLP, cancer)
  })

  it('maps the Sequential CNN onto a convnet and records where it came from', () => {
    expect(cnn.arch).toEqual({
      kind: 'convnet',
      height: 8,
      width: 8,
      channels: 1,
      stages: [
        { filters: 4, kernel: 3, padding: 'same', activation: 'relu', pool: 'max' },
        // The separate Activation(tanh) layer is merged into the linear Conv2D before it.
        { filters: 8, kernel: 3, padding: 'valid', activation: 'tanh', pool: 'avg' },
      ],
      globalPool: false,
      hidden: [16],
      activation: 'sigmoid',
      classes: 10,
    })
    expect(cnn.name).toBe('digits-cnn')
    expect(cnn.method).toBe('import')
    expect(cnn.origin).toMatchObject({
      format: 'tfjs',
      sha256: sha256Hex(new Uint8Array(readFileSync(DIGITS_CNN))),
      fileName: 'model.json',
      output: 'softmax',
    })
  })

  it('predicts what loadLayersModel predicts on the digits test rows (≤ 1e-5), as a real classifier', async () => {
    const x = testRowsOf(digits)
    const ours = await letheProbabilities(dataDir, cnn, x)
    expect(worstDifference(ours, await tfjsProbabilities(DIGITS_CNN, x))).toBeLessThanOrEqual(1e-5)
    expect(accuracy(digits, ours)).toBeGreaterThan(0.85)
  })

  it('maps a single-chain Functional model with a final Activation(softmax) onto a tanh MLP, matching loadLayersModel', async () => {
    expect(mlp.arch).toEqual({ kind: 'mlp', inputs: 30, hidden: [16], classes: 2, activation: 'tanh' })
    expect(mlp.origin?.output).toBe('softmax')
    const x = testRowsOf(cancer)
    const ours = await letheProbabilities(dataDir, mlp, x)
    expect(worstDifference(ours, await tfjsProbabilities(CANCER_MLP, x))).toBeLessThanOrEqual(1e-5)
    expect(accuracy(cancer, ours)).toBeGreaterThan(0.9)
  })

  it('reads files given in memory (as uploaded from the browser), listing the layers it dropped or merged', async () => {
    const uploaded = new Map([
      [TFJS_SHARD_FILE, new Uint8Array(readFileSync(fixture(`digits-cnn/${TFJS_SHARD_FILE}`)))],
    ])
    const asked: string[] = []
    const imported = await importTfjsLayers(JSON.parse(readFileSync(DIGITS_CNN, 'utf8')), async (name) => {
      asked.push(name)
      const bytes = uploaded.get(name)
      if (!bytes) throw new Error(`${name} was not uploaded`)
      return bytes
    })
    expect(asked).toEqual([TFJS_SHARD_FILE])
    expect(imported.arch).toEqual(cnn.arch)
    expect(imported.output).toBe('softmax')
    expect(imported.dropped).toEqual([
      'Layer "conv2d_input" (InputLayer)',
      'Layer "activation" (Activation) (merged)',
      'Layer "flatten" (Flatten)',
      'Layer "dropout" (Dropout)',
    ])
  })

  it('exports the imported CNN back: loadLayersModel predicts Lethe’s probabilities, both files recorded', async () => {
    const { file, exported } = await exportAndCompare(cnn, digits)
    const shard = path.join(path.dirname(file), TFJS_SHARD_FILE)
    expect(exported.format).toBe('tfjs')
    expect(exported.path).toBe(file)
    expect(exported.sha256).toBe(sha256Hex(new Uint8Array(readFileSync(file))))
    expect(exported.files).toEqual([
      { name: file, sha256: exported.sha256, bytes: readFileSync(file).length },
      { name: shard, sha256: sha256Hex(new Uint8Array(readFileSync(shard))), bytes: 4 * cnn.parameters },
    ])
    const records = JSON.parse(
      readFileSync(path.join(folders(dataDir).models, cnn.id, EXPORTS_FILE), 'utf8'),
    ) as ExportRecord[]
    expect(records.at(-1)).toMatchObject({ format: 'tfjs', sha256: exported.sha256, files: exported.files })
  })
})

describe('exporting to TF.js Layers', () => {
  it('exports an MLP Lethe trained, ending in softmax, into a folder given instead of a file', async () => {
    const model = await trainModel(
      {
        dataDir,
        datasetId: cancer.manifest.id,
        arch: { kind: 'mlp', hidden: [8] },
        training: TrainOptions.parse({ epochs: 3 }),
      },
      control,
    )
    const folder = tempDir('lethe-tfjs-folder-')
    const { file } = await exportAndCompare(model, cancer, folder)
    expect(file).toBe(path.join(folder, 'model.json'))
    expect(readdirSync(folder).sort()).toEqual([TFJS_SHARD_FILE, 'model.json'])
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      modelTopology: {
        model_config: { config: { layers: { class_name: string; config: { activation?: string } }[] } }
      }
    }
    const layers = json.modelTopology.model_config.config.layers
    expect(layers.map((l) => l.class_name)).toEqual(['InputLayer', 'Dense', 'Dense'])
    expect(layers.map((l) => l.config.activation)).toEqual([undefined, 'relu', 'softmax'])
  })

  it('exports Lethe’s own CNN (same padding, ReLU, max-pooling) and an ONNX-imported MLP', async () => {
    const cnnArch: Architecture = {
      kind: 'cnn',
      height: 8,
      width: 8,
      channels: 1,
      filters: [3, 5],
      kernel: 3,
      dense: 6,
      classes: 10,
    }
    const training = recipeOf(TrainOptions.parse({}), digits.train.length)
    const cnn = await saveModel(
      folders(dataDir).models,
      trainedDraft({ name: 'lethe cnn', arch: cnnArch, dataset: digits.manifest, training, backend: 'test' }),
      initParams(specOf(cnnArch), 5),
    )
    await exportAndCompare(cnn, digits)
    const onnx = await importFile(ONNX_MLP, cancer)
    await exportAndCompare(onnx, cancer)
  })

  it('exports a convnet with global average pooling and imports it back to the same architecture and weights', async () => {
    const arch: Architecture = {
      kind: 'convnet',
      height: 8,
      width: 8,
      channels: 1,
      stages: [
        { filters: 3, kernel: 2, padding: 'same', activation: 'sigmoid', pool: 'avg' },
        { filters: 4, kernel: 3, padding: 'valid', activation: 'relu', pool: 'none' },
      ],
      globalPool: true,
      hidden: [],
      activation: 'linear',
      classes: 10,
    }
    const params = initParams(specOf(arch), 9)
    const training = recipeOf(TrainOptions.parse({}), digits.train.length)
    const model = await saveModel(
      folders(dataDir).models,
      trainedDraft({ name: 'pooled', arch, dataset: digits.manifest, training, backend: 'test' }),
      params,
    )
    const { file } = await exportAndCompare(model, digits)
    const back = await importTfjsLayers(JSON.parse(readFileSync(file, 'utf8')), async (name) =>
      readFileSync(path.join(path.dirname(file), name)),
    )
    expect(back.arch).toEqual(arch)
    expect(back.params).toEqual(params)
    expect(back.output).toBe('softmax')
  })
})

/** The parts of a converter's model.json the refusal tests change. */
interface LayersJson {
  format: string
  modelTopology: {
    model_config: { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }
  }
  weightsManifest: { paths: string[]; weights: { name: string; dtype: string }[] }[]
}

describe('the CLI', () => {
  it('imports a model.json and exports it as tfjs, the format told by --out’s .json', () => {
    const cliDir = tempDir('lethe-tfjs-cli-')
    const datasetId = importBreastCancer(cliDir).id
    const imported = lethe(['model', 'import', CANCER_MLP, '--dataset', datasetId, '--json'], {
      dataDir: cliDir,
    })
    expect(imported.code, imported.stderr).toBe(0)
    const model = JSON.parse(imported.stdout) as Output<'models.import'>
    expect(model.origin).toMatchObject({ format: 'tfjs', fileName: 'model.json' })
    const file = path.join(tempDir('lethe-tfjs-cli-out-'), 'exported.json')
    const exported = lethe(['model', 'export', model.id, '--out', file, '--json'], { dataDir: cliDir })
    expect(exported.code, exported.stderr).toBe(0)
    const result = JSON.parse(exported.stdout) as Output<'models.export'>
    expect(result).toMatchObject({ modelId: model.id, format: 'tfjs', path: file })
    expect(result.files.map((f) => f.name)).toEqual([file, path.join(path.dirname(file), TFJS_SHARD_FILE)])
  }, 120_000)
})

describe('refusing what Lethe cannot represent', () => {
  /** A copy of the CNN fixture, changed by `edit` (the model.json as an object, and the folder). */
  function editedCnn(edit: (json: LayersJson, folder: string) => void): string {
    const folder = path.join(tempDir('lethe-tfjs-bad-'), 'model')
    cpSync(path.dirname(DIGITS_CNN), folder, { recursive: true })
    const json = JSON.parse(readFileSync(DIGITS_CNN, 'utf8')) as LayersJson
    edit(json, folder)
    const file = path.join(folder, 'model.json')
    writeFileSync(file, JSON.stringify(json))
    return file
  }
  const layersOf = (json: LayersJson) => json.modelTopology.model_config.config.layers

  it('refuses a strided Conv2D, an LSTM, float16 weights and a missing shard, naming them, storing nothing', async () => {
    const before = modelFolders()
    const strided = editedCnn((json) => {
      const conv = layersOf(json)[1]
      if (conv) conv.config.strides = [2, 2]
    })
    const lstm = editedCnn((json) => {
      layersOf(json).splice(7, 0, { class_name: 'LSTM', config: { name: 'lstm', units: 4 } })
    })
    const half = editedCnn((json, folder) => {
      // dense_1/kernel (16×10, the 7th weight, after 480 values) stored as float16: two bytes a value.
      const kernel = json.weightsManifest[0]?.weights.find((w) => w.name === 'dense_1/kernel')
      if (kernel) kernel.dtype = 'float16'
      const shard = readFileSync(path.join(folder, TFJS_SHARD_FILE))
      const offset = 4 * (36 + 4 + 288 + 8 + 128 + 16)
      writeFileSync(
        path.join(folder, TFJS_SHARD_FILE),
        Buffer.concat([shard.subarray(0, offset + 320), shard.subarray(offset + 640)]),
      )
    })
    const missing = editedCnn((_json, folder) => rmSync(path.join(folder, TFJS_SHARD_FILE)))

    const cases: [string, RegExp][] = [
      [strided, /Layer "conv2d" \(Conv2D\): its strides are \[2,2\]; only strides 1/],
      [lstm, /Layer "lstm" \(LSTM\): the layer class LSTM is not supported/],
      [half, /Layer "dense_1" \(Dense\): its weight "dense_1\/kernel" is float16; only float32 weights/],
      [missing, /Cannot read the weight file "group1-shard1of1.bin"/],
    ]
    for (const [file, message] of cases) {
      const error = await rejection('BAD_INPUT', importFile(file, digits))
      expect(error.message).toMatch(message)
    }
    expect(modelFolders()).toEqual(before)
  })

  it('refuses a shard path outside the model’s folder and a graph model', async () => {
    const escaping = editedCnn((json) => {
      const [group] = json.weightsManifest
      if (group) group.paths = ['../../secret.bin']
    })
    expect((await rejection('BAD_INPUT', importFile(escaping, digits))).message).toMatch(
      /"\.\.\/\.\.\/secret\.bin".*must lie in the folder of model\.json/,
    )
    const graph = editedCnn((json) => {
      json.format = 'graph-model'
    })
    expect((await rejection('BAD_INPUT', importFile(graph, digits))).message).toMatch(/Layers models/)
  })
})
