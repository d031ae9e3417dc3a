/**
 * ONNX model export, held against an outside runtime: an imported MLP fine-tuned in Lethe and a
 * logistic regression Lethe trained are exported and run in onnxruntime, which predicts the
 * probabilities Lethe does; a deleted version and a CNN are refused, writing nothing.
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
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { readManifest, saveModel, shredModel, trainedDraft } from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'
import { sha256Hex } from '../../electron/lib/digest'
import { importBreastCancer, lethe } from '../support/cli'
import { importedDemo } from '../support/engine'
import { letheProbabilities, testRowsOf, worstDifference } from '../support/onnx'
import { tempDir } from '../support/fixtures'

const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto

const MLP = path.resolve('tests/fixtures/onnx', 'breast-cancer-mlp.onnx')
const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

let dataDir: string
let dataset: Dataset
let rowsOfSubjects: (skip: number, count: number) => number[]

/** onnxruntime's output of the exported file for the rows, with its output's name. */
async function runtimeOutput(file: string, x: Float32Array, dim: number) {
  const session = await InferenceSession.create(readFileSync(file))
  try {
    expect(session.inputNames).toEqual(['input'])
    const [outputName] = session.outputNames
    const result = await session.run({ input: new Tensor('float32', x, [x.length / dim, dim]) })
    return { name: outputName as string, values: result[outputName as string]?.data as Float32Array }
  } finally {
    await session.release()
  }
}

const exportTo = (modelId: string, file: string) =>
  exportModel({ dataDir, modelId, format: 'onnx', path: file })

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the export to be refused')
    },
    (error: { code: string; message: string }) => error,
  )

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
    const theirs = await runtimeOutput(file, x, dataset.manifest.featureDim)
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
      { format: 'onnx', sha256: exported.sha256, bytes: bytes.length, at: expect.any(String) },
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
    const theirs = await runtimeOutput(file, x, dataset.manifest.featureDim)
    expect(theirs.name).toBe('probabilities')
    expect(worstDifference(await letheProbabilities(dataDir, model, x), theirs.values)).toBeLessThanOrEqual(
      1e-5,
    )
  })

  it('refuses a deleted version and a CNN, writing nothing', async () => {
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
    const deleted = await refusal(exportTo(doomed.id, deletedFile))
    expect(deleted.code).toBe('CONFLICT')
    expect(existsSync(deletedFile)).toBe(false)

    const cnnArch: Architecture = {
      kind: 'cnn',
      height: 4,
      width: 4,
      channels: 1,
      filters: [2],
      kernel: 3,
      dense: 4,
      classes: 2,
    }
    const cnn = await saveModel(models, draft(cnnArch, 'cnn'), initParams(specOf(cnnArch), 3))
    const cnnFile = path.join(out, 'cnn.onnx')
    const refused = await refusal(exportTo(cnn.id, cnnFile))
    expect(refused.code).toBe('BAD_INPUT')
    expect(refused.message).toMatch(/CNN, which cannot be exported yet/)
    expect(existsSync(cnnFile)).toBe(false)
    expect(existsSync(path.join(models, cnn.id, EXPORTS_FILE))).toBe(false)
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
  })
})
