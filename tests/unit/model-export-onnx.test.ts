/**
 * ONNX model export, held against an outside runtime: an imported MLP fine-tuned in Lethe, a
 * logistic regression Lethe trained, a Tanh MLP, imported convolutional networks (BatchNorm
 * folded, pooling, GlobalAveragePool), a CNN of Lethe's and a three-channel convnet are exported
 * and run in onnxruntime, which predicts the probabilities Lethe does; a deleted version is
 * refused, writing nothing.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import type * as OnnxProto from 'onnx-proto'
import { beforeAll, describe, expect, it } from 'vitest'
import { TrainOptions } from '../../electron/contract/engine'
import type { Output } from '../../electron/contract'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import {
  EXPORTS_FILE,
  exportModel,
  importModel,
  recipeOf,
  trainModel,
  unlearnModel,
  type ExportRecord,
  type JobControl,
} from '../../electron/engine/jobs'
import { exportOnnx } from '../../electron/engine/export/onnx'
import { importOnnx } from '../../electron/engine/import/onnx'
import { logits } from '../../electron/engine/models/forward'
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { Random } from '../../electron/engine/random'
import {
  loadModel,
  readManifest,
  saveModel,
  shredModel,
  trainedDraft,
} from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'
import { sha256Hex } from '../../electron/lib/digest'
import { importBreastCancer, lethe } from '../support/cli'
import { importedDemo } from '../support/engine'
import { letheProbabilities, nchwOf, softmaxRows, testRowsOf, worstDifference } from '../support/onnx'
import { tempDir } from '../support/fixtures'
import { rejection } from '../support/errors'

const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto

const fixture = (name: string) => path.resolve('tests/fixtures/onnx', name)
const MLP = fixture('breast-cancer-mlp.onnx')
const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

let dataDir: string
let dataset: Dataset
let rowsOfSubjects: (skip: number, count: number) => number[]

/** onnxruntime's output of an exported model for the rows (one row's shape `rowDims`), with its output's name. */
async function runtimeOutput(model: string | Uint8Array, x: Float32Array, rowDims: number[]) {
  const session = await InferenceSession.create(typeof model === 'string' ? readFileSync(model) : model)
  try {
    expect(session.inputNames).toEqual(['input'])
    const [outputName] = session.outputNames
    const rows = x.length / rowDims.reduce((a, b) => a * b, 1)
    const result = await session.run({ input: new Tensor('float32', x, [rows, ...rowDims]) })
    return { name: outputName as string, values: result[outputName as string]?.data as Float32Array }
  } finally {
    await session.release()
  }
}

const exportTo = (modelId: string, file: string) =>
  exportModel({ dataDir, modelId, format: 'onnx', path: file })

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-onnx-export-')
  ;({ dataset, rowsOfSubjects } = await importedDemo('breast-cancer', dataDir))
})

describe('exporting to ONNX', () => {
  it('exports an imported MLP unlearned by fine-tuning: onnxruntime predicts what Lethe does (≤ 1e-5)', async () => {
    const mlp = await importModel({ dataDir, datasetId: dataset.manifest.id, path: MLP })
    const result = await unlearnModel(
      {
        dataDir,
        modelId: mlp.id,
        method: 'finetune',
        rows: rowsOfSubjects(0, 5),
        strictRows: true,
        requestId: null,
        reference: false,
        options: { epochs: 2, learningRate: 0.001 },
      },
      control,
    )
    const unlearned = await readManifest(folders(dataDir).models, result.model.id)
    const file = path.join(tempDir('lethe-onnx-out-'), 'unlearned.onnx')
    const exported = await exportTo(unlearned.id, file)
    const bytes = new Uint8Array(readFileSync(file))
    expect(exported).toMatchObject({ modelId: unlearned.id, format: 'onnx', path: file, bytes: bytes.length })
    expect(exported.sha256).toBe(sha256Hex(bytes))

    const model = onnx.ModelProto.decode(bytes)
    expect(Number(model.irVersion)).toBe(7)
    expect(model.opsetImport?.[0]?.version?.toString()).toBe('13')
    expect(model.graph?.node?.map((n) => n.opType)).toEqual([
      'Gemm',
      'Relu',
      'Gemm',
      'Relu',
      'Gemm',
      'Softmax',
    ])

    const x = testRowsOf(dataset)
    const theirs = await runtimeOutput(file, x, [dataset.manifest.featureDim])
    // The fixture ended in Softmax, and so does its export.
    expect(unlearned.origin?.output).toBe('softmax')
    expect(theirs.name).toBe('probabilities')
    expect(
      worstDifference(await letheProbabilities(dataDir, unlearned, x), theirs.values),
    ).toBeLessThanOrEqual(1e-5)

    const records = JSON.parse(
      readFileSync(path.join(folders(dataDir).models, unlearned.id, EXPORTS_FILE), 'utf8'),
    ) as ExportRecord[]
    expect(records).toEqual([
      {
        format: 'onnx',
        sha256: exported.sha256,
        bytes: bytes.length,
        files: exported.files,
        at: expect.any(String),
      },
    ])
  })

  it('exports a logistic regression Lethe trained, ending in Softmax', async () => {
    const model = await trainModel(
      {
        dataDir,
        datasetId: dataset.manifest.id,
        arch: { kind: 'logreg' },
        training: TrainOptions.parse({ optimizer: 'lbfgs', l2: 0.01 }),
      },
      control,
    )
    const file = path.join(tempDir('lethe-onnx-out-'), 'logreg.onnx')
    const exported = await exportTo(model.id, file)
    expect(exported.sha256).toBe(sha256Hex(new Uint8Array(readFileSync(file))))
    const x = testRowsOf(dataset)
    const theirs = await runtimeOutput(file, x, [dataset.manifest.featureDim])
    expect(theirs.name).toBe('probabilities')
    expect(worstDifference(await letheProbabilities(dataDir, model, x), theirs.values)).toBeLessThanOrEqual(
      1e-5,
    )
  })

  it('exports a Tanh MLP with its activation, ending in logits as it came', async () => {
    const model = await importModel({
      dataDir,
      datasetId: dataset.manifest.id,
      path: fixture('breast-cancer-tanh.onnx'),
    })
    const file = path.join(tempDir('lethe-onnx-out-'), 'tanh.onnx')
    await exportTo(model.id, file)
    const decoded = onnx.ModelProto.decode(new Uint8Array(readFileSync(file)))
    expect(decoded.graph?.node?.map((n) => n.opType)).toEqual(['Gemm', 'Tanh', 'Gemm'])
    const x = testRowsOf(dataset)
    const theirs = await runtimeOutput(file, x, [dataset.manifest.featureDim])
    expect(theirs.name).toBe('logits')
    expect(
      worstDifference(await letheProbabilities(dataDir, model, x), softmaxRows(theirs.values, 2)),
    ).toBeLessThanOrEqual(1e-5)
  })

  it('refuses a deleted version, writing nothing', async () => {
    const models = folders(dataDir).models
    const mlpArch: Architecture = {
      kind: 'mlp',
      inputs: dataset.manifest.featureDim,
      hidden: [4],
      classes: 2,
    }
    const training = recipeOf(TrainOptions.parse({}), dataset.train.length)
    const draft = (arch: Architecture, name: string) =>
      trainedDraft({ name, arch, dataset: dataset.manifest, training, backend: 'test' })
    const doomed = await saveModel(models, draft(mlpArch, 'doomed'), initParams(specOf(mlpArch), 7))
    await shredModel(models, doomed, { at: new Date().toISOString(), reason: 'test', requestId: null })
    const out = tempDir('lethe-onnx-out-')

    const deletedFile = path.join(out, 'deleted.onnx')
    await rejection('CONFLICT', exportTo(doomed.id, deletedFile))
    expect(existsSync(deletedFile)).toBe(false)
    expect(existsSync(path.join(models, doomed.id, EXPORTS_FILE))).toBe(false)
  })

  it('exports from the command line, and refuses a wrong format with exit status 2', () => {
    const cliDir = tempDir('lethe-onnx-export-cli-')
    const datasetId = importBreastCancer(cliDir).id
    const imported = lethe(['model', 'import', MLP, '--dataset', datasetId, '--json'], { dataDir: cliDir })
    expect(imported.code, imported.stderr).toBe(0)
    const modelId = (JSON.parse(imported.stdout) as Output<'models.import'>).id
    const file = path.join(tempDir('lethe-onnx-out-'), 'cli.onnx')
    const exported = lethe(['model', 'export', modelId, '--format', 'onnx', '--out', file, '--json'], {
      dataDir: cliDir,
    })
    expect(exported.code, exported.stderr).toBe(0)
    const result = JSON.parse(exported.stdout) as Output<'models.export'>
    expect(result).toMatchObject({ modelId, format: 'onnx', path: file })
    expect(result.sha256).toBe(sha256Hex(new Uint8Array(readFileSync(file))))

    const other = path.join(tempDir('lethe-onnx-out-'), 'model.tflite')
    const refused = lethe(['model', 'export', modelId, '--format', 'tflite', '--out', other], {
      dataDir: cliDir,
    })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('BAD_INPUT')
    expect(existsSync(other)).toBe(false)
  }, 120_000)
})

describe('exporting convolutional networks to ONNX', () => {
  let digitsDir: string
  let digits: Dataset

  beforeAll(async () => {
    digitsDir = tempDir('lethe-onnx-export-digits-')
    ;({ dataset: digits } = await importedDemo('digits', digitsDir))
  })

  /** Exports a stored digits version; onnxruntime's probabilities on the test rows beside Lethe's. */
  async function exportDigits(modelId: string, rowDims: number[]) {
    const file = path.join(tempDir('lethe-onnx-out-'), `${modelId}.onnx`)
    await exportModel({ dataDir: digitsDir, modelId, format: 'onnx', path: file })
    const manifest = await readManifest(folders(digitsDir).models, modelId)
    const x = testRowsOf(digits)
    const theirs = await runtimeOutput(file, rowDims.length === 3 ? nchwOf(x, [8, 8, 1]) : x, rowDims)
    const classes = digits.manifest.classes.length
    return {
      bytes: new Uint8Array(readFileSync(file)),
      name: theirs.name,
      theirs: theirs.name === 'probabilities' ? theirs.values : softmaxRows(theirs.values, classes),
      ours: await letheProbabilities(digitsDir, manifest, x),
    }
  }
  const opsOf = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType)

  it('exports an imported CNN on the images it took, BatchNorm folded, ending in LogSoftmax', async () => {
    const model = await importModel({
      dataDir: digitsDir,
      datasetId: digits.manifest.id,
      path: fixture('digits-cnn.onnx'),
    })
    const exported = await exportDigits(model.id, [1, 8, 8])
    expect(opsOf(exported.bytes)).toEqual([
      'Conv',
      'Relu',
      'MaxPool',
      'Conv',
      'Tanh',
      'Flatten',
      'Gemm',
      'Sigmoid',
      'Gemm',
      'LogSoftmax',
    ])
    expect(exported.name).toBe('log_probabilities')
    expect(worstDifference(exported.ours, exported.theirs)).toBeLessThanOrEqual(1e-5)
  })

  it('exports an imported GlobalAveragePool network on flat rows, and the file imports back to the same weights', async () => {
    const model = await importModel({
      dataDir: digitsDir,
      datasetId: digits.manifest.id,
      path: fixture('digits-gap.onnx'),
    })
    const exported = await exportDigits(model.id, [64])
    expect(opsOf(exported.bytes)).toEqual([
      'Reshape',
      'Transpose',
      'Conv',
      'Relu',
      'AveragePool',
      'Conv',
      'Relu',
      'GlobalAveragePool',
      'Flatten',
      'Gemm',
      'Softmax',
    ])
    expect(exported.name).toBe('probabilities')
    expect(worstDifference(exported.ours, exported.theirs)).toBeLessThanOrEqual(1e-5)
    const again = importOnnx(exported.bytes)
    expect(again.arch).toEqual(model.arch)
    const { params } = await loadModel(folders(digitsDir).models, model.id)
    expect(Array.from(again.params)).toEqual(Array.from(params))
  })

  it('exports a CNN of Lethe’s own kind, ending in Softmax', async () => {
    const arch: Architecture = {
      kind: 'cnn',
      height: 8,
      width: 8,
      channels: 1,
      filters: [3, 4],
      kernel: 3,
      dense: 6,
      classes: 10,
    }
    const training = recipeOf(TrainOptions.parse({}), digits.train.length)
    const cnn = await saveModel(
      folders(digitsDir).models,
      trainedDraft({ name: 'cnn', arch, dataset: digits.manifest, training, backend: 'test' }),
      initParams(specOf(arch), 3),
    )
    const exported = await exportDigits(cnn.id, [64])
    expect(opsOf(exported.bytes)).toEqual([
      'Reshape',
      'Transpose',
      'Conv',
      'Relu',
      'MaxPool',
      'Conv',
      'Relu',
      'MaxPool',
      'Flatten',
      'Gemm',
      'Relu',
      'Gemm',
      'Softmax',
    ])
    expect(worstDifference(exported.ours, exported.theirs)).toBeLessThanOrEqual(1e-5)
  })

  it('keeps a three-channel image’s order: Lethe’s (h, w, c) rows and NCHW images give Lethe’s logits', async () => {
    const arch: Architecture = {
      kind: 'convnet',
      height: 5,
      width: 4,
      channels: 3,
      stages: [
        { filters: 4, kernel: 2, padding: 'same', activation: 'sigmoid', pool: 'avg' },
        { filters: 3, kernel: 1, padding: 'valid', activation: 'linear', pool: 'none' },
      ],
      globalPool: false,
      hidden: [5],
      activation: 'tanh',
      classes: 3,
    }
    const spec = specOf(arch)
    const params = initParams(spec, 11)
    // The biases too, so that a misplaced one shows.
    for (const view of spec.views)
      if (view.role === 'bias') for (let i = 0; i < view.size; i++) params[view.offset + i] = 0.1 * (i - 1)
    const random = new Random(5)
    const x = Float32Array.from({ length: 6 * spec.inputs }, () => random.normal())
    const ours = tf.tidy(() =>
      logits(spec, tf.tensor1d(params), tf.tensor2d(x, [6, spec.inputs])).dataSync(),
    ) as Float32Array
    for (const input of ['rows', 'images'] as const) {
      const bytes = exportOnnx({ arch, params, name: 'rgb', output: 'logits', input })
      const theirs =
        input === 'rows'
          ? await runtimeOutput(bytes, x, [spec.inputs])
          : await runtimeOutput(bytes, nchwOf(x, [5, 4, 3]), [3, 5, 4])
      expect(worstDifference(ours, theirs.values)).toBeLessThanOrEqual(1e-5)
      // And Lethe reads the file back as the same network.
      const again = importOnnx(bytes)
      expect(again.arch).toEqual(arch)
      expect(Array.from(again.params)).toEqual(Array.from(params))
    }
  })
})
