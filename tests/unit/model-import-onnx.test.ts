/**
 * ONNX model import, held against an outside runtime: PyTorch models exported with
 * torch.onnx.export (tests/fixtures/onnx, made by make_fixtures.py on the breast-cancer and digits
 * demos' encoded features: dense networks, and convolutional ones with BatchNorm, pooling and
 * several activations) predict in Lethe what onnxruntime predicts; graphs Lethe cannot represent
 * are refused naming the node and its op, and store nothing; an imported model is unlearned.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import type * as OnnxProto from 'onnx-proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import type { Dataset } from '../../electron/engine/data/dataset'
import { workerThreadChannel } from '../../electron/engine/host'
import { folders } from '../../electron/engine/folders'
import { importModel, unlearnModel, type JobControl } from '../../electron/engine/jobs'
import { loadModel, readManifest, type ModelManifest } from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'
import { sha256Hex } from '../../electron/lib/digest'
import { createServices, type LetheServices } from '../../electron/host/services'
import { importBreastCancer, lethe } from '../support/cli'
import { caller, importedDemo } from '../support/engine'
import { letheProbabilities, nchwOf, softmaxRows, testRowsOf, worstDifference } from '../support/onnx'
import { tempDir } from '../support/fixtures'
import { rejection } from '../support/errors'
import { testKeys } from '../support/ledger'

const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto

const fixture = (name: string) => path.resolve('tests/fixtures/onnx', name)
const MLP = fixture('breast-cancer-mlp.onnx')
const LOGREG = fixture('breast-cancer-logreg.onnx')
const TANH = fixture('breast-cancer-tanh.onnx')
const DIGITS_CNN = fixture('digits-cnn.onnx')
const DIGITS_GAP = fixture('digits-gap.onnx')
const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

let dataDir: string
let dataset: Dataset
let rowsOfSubjects: (skip: number, count: number) => number[]

const modelFolders = () => {
  const folder = folders(dataDir).models
  return existsSync(folder) ? readdirSync(folder, { recursive: true }).map(String).sort() : []
}
/**
 * onnxruntime's output for the same rows, as probabilities (softmax of logits or log-probabilities
 * when the graph ends in neither); `rowDims` is one row's shape as the graph takes it.
 */
async function runtimeProbabilities(file: string, x: Float32Array, rowDims: number[]): Promise<Float32Array> {
  const session = await InferenceSession.create(readFileSync(file))
  try {
    const [inputName] = session.inputNames
    const [outputName] = session.outputNames
    const rows = x.length / rowDims.reduce((a, b) => a * b, 1)
    const result = await session.run({
      [inputName as string]: new Tensor('float32', x, [rows, ...rowDims]),
    })
    const out = result[outputName as string]?.data as Float32Array
    const origin = (await readOrigin(file)).output
    return origin === 'softmax' ? out : softmaxRows(out, out.length / rows)
  } finally {
    await session.release()
  }
}

/** Whether the fixture's graph ends in Softmax, from its last node. */
async function readOrigin(file: string): Promise<{ output: 'softmax' | 'other' }> {
  const model = onnx.ModelProto.decode(readFileSync(file))
  const nodes = model.graph?.node ?? []
  return { output: nodes[nodes.length - 1]?.opType === 'Softmax' ? 'softmax' : 'other' }
}

const importFile = (file: string, extra: { name?: string; datasetId?: string } = {}) =>
  importModel({ dataDir, datasetId: dataset.manifest.id, path: file, ...extra })

/** A float32 initializer in float_data. */
const tensor = (name: string, dims: number[], fill = 0.01) => ({
  name,
  dims,
  dataType: onnx.TensorProto.DataType.FLOAT,
  floatData: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => fill * ((i % 7) - 3)),
})
/** A float tensor's value info: a batch of `dims` (one width, or [C, H, W] for images). */
const valueInfo = (name: string, dims: number | number[]) => ({
  name,
  type: {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: [{ dimParam: 'batch' }, ...[dims].flat().map((dimValue) => ({ dimValue }))] },
    },
  },
})

/** An ONNX model built with onnx-proto's encoder: a chain of the given nodes from "x" to "y". */
function encodeModel(
  nodes: OnnxProto.onnx.INodeProto[],
  initializer: OnnxProto.onnx.ITensorProto[],
  inputWidth: number | number[] = 30,
  classes = 2,
): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'lethe-test',
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'test',
        node: nodes,
        initializer,
        input: [valueInfo('x', inputWidth)],
        output: [valueInfo('y', classes)],
      },
    }),
  ).finish()
}

const gemm = (name: string, input: string, output: string, prefix: string) => ({
  name,
  opType: 'Gemm',
  input: [input, `${prefix}.weight`, `${prefix}.bias`],
  output: [output],
  attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
})

const ints = (name: string, values: number[]) => ({
  name,
  type: onnx.AttributeProto.AttributeType.INTS,
  ints: values,
})

/**
 * A model on one-channel 8×8 images: Conv "conv1" (2 filters, 3×3, with `convAttributes`), then
 * the given nodes from "c" to "f" (flat features, `features` wide), then Gemm "fc" to two classes.
 */
function imageModel(
  convAttributes: OnnxProto.onnx.IAttributeProto[],
  middle: OnnxProto.onnx.INodeProto[],
  features: number,
) {
  return encodeModel(
    [
      { name: 'conv1', opType: 'Conv', input: ['x', 'k', 'kb'], output: ['c'], attribute: convAttributes },
      ...middle,
      gemm('fc', 'f', 'y', 'fc'),
    ],
    [
      tensor('k', [2, 1, 3, 3]),
      tensor('kb', [2]),
      tensor('fc.weight', [2, features]),
      tensor('fc.bias', [2]),
    ],
    [1, 8, 8],
  )
}

/** The share of rows whose most probable class is their label. */
function accuracyOf(probabilities: Float32Array, of: Dataset): number {
  const classes = of.manifest.classes.length
  let correct = 0
  of.test.forEach((row, i) => {
    const scores = Array.from(probabilities.subarray(i * classes, (i + 1) * classes))
    if (scores.indexOf(Math.max(...scores)) === of.labels[row]) correct++
  })
  return correct / of.test.length
}

const writeModel = (name: string, bytes: Uint8Array) => {
  const file = path.join(tempDir('lethe-onnx-file-'), name)
  writeFileSync(file, bytes)
  return file
}

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-onnx-import-')
  ;({ dataset, rowsOfSubjects } = await importedDemo('breast-cancer', dataDir))
})

let mlp: ModelManifest
let logreg: ModelManifest

describe('importing the PyTorch fixtures', () => {
  beforeAll(async () => {
    mlp = await importFile(MLP)
    logreg = await importFile(LOGREG, { name: 'deployed logreg' })
  })

  it('maps the MLP onto the engine’s architecture and records where it came from', () => {
    expect(mlp.arch).toEqual({ kind: 'mlp', inputs: 30, hidden: [16, 8], classes: 2 })
    expect(mlp.parameters).toBe(30 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2)
    expect(mlp.method).toBe('import')
    expect(mlp.parentId).toBeNull()
    expect(mlp.origin).toMatchObject({
      format: 'onnx',
      sha256: sha256Hex(new Uint8Array(readFileSync(MLP))),
      fileName: 'breast-cancer-mlp.onnx',
      output: 'softmax',
    })
    // The recipe exact retraining will use: Lethe's defaults, with Adam for an MLP.
    expect(mlp.training.optimizer).toBe('adam')
    expect(mlp.training.trainRows).toBe(dataset.train.length)
  })

  it('predicts the probabilities onnxruntime does on the test rows (≤ 1e-5)', async () => {
    const x = testRowsOf(dataset)
    const dim = dataset.manifest.featureDim
    const ours = await letheProbabilities(dataDir, mlp, x)
    const theirs = await runtimeProbabilities(MLP, x, [dim])
    expect(worstDifference(ours, theirs)).toBeLessThanOrEqual(1e-5)
    // The model is a real classifier on Lethe's features, not a constant.
    let correct = 0
    dataset.test.forEach((row, i) => {
      const predicted = (ours[2 * i + 1] as number) > (ours[2 * i] as number) ? 1 : 0
      if (predicted === dataset.labels[row]) correct++
    })
    expect(correct / dataset.test.length).toBeGreaterThan(0.9)
  })

  it('imports one Gemm as a logistic regression with an L-BFGS recipe, matching onnxruntime', async () => {
    expect(logreg.arch).toEqual({ kind: 'logreg', inputs: 30, classes: 2 })
    expect(logreg.name).toBe('deployed logreg')
    expect(logreg.origin?.output).toBe('logits')
    expect(logreg.training.optimizer).toBe('lbfgs')
    expect(logreg.training.l2).toBe(1e-3)
    const x = testRowsOf(dataset)
    const ours = await letheProbabilities(dataDir, logreg, x)
    const theirs = await runtimeProbabilities(LOGREG, x, [dataset.manifest.featureDim])
    expect(worstDifference(ours, theirs)).toBeLessThanOrEqual(1e-5)
  })

  it('is unlearned by fine-tuning, and the unlearned version keeps its origin', async () => {
    const forget = rowsOfSubjects(0, 5)
    const result = await unlearnModel(
      {
        dataDir,
        modelId: mlp.id,
        method: 'finetune',
        rows: forget,
        strictRows: true,
        requestId: null,
        reference: false,
        options: { epochs: 2, learningRate: 0.001 },
      },
      control,
    )
    expect(result.parent.id).toBe(mlp.id)
    expect(result.method).toBe('finetune')
    const child = await readManifest(folders(dataDir).models, result.model.id)
    expect(child.parentId).toBe(mlp.id)
    expect(child.origin).toEqual(mlp.origin)
    expect(child.forgottenRows.sort((a, b) => a - b)).toEqual([...forget].sort((a, b) => a - b))
    expect(result.report.unlearned.test.accuracy).toBeGreaterThan(0.85)
  })
})

describe('exact retraining of an imported model', () => {
  it('retrains an imported logistic regression with Lethe’s L-BFGS recipe', async () => {
    const result = await unlearnModel(
      {
        dataDir,
        modelId: logreg.id,
        method: 'retrain',
        rows: rowsOfSubjects(5, 3),
        strictRows: true,
        requestId: null,
        reference: false,
        options: {},
      },
      control,
    )
    const child = await readManifest(folders(dataDir).models, result.model.id)
    expect(child.origin).toEqual(logreg.origin)
    expect(child.training.optimizer).toBe('lbfgs')
    expect(result.report.unlearned.test.accuracy).toBeGreaterThan(0.9)
  })
})

describe('other activations and convolutional networks', () => {
  let digitsDir: string
  let digits: Dataset
  const importDigits = (file: string) =>
    importModel({ dataDir: digitsDir, datasetId: digits.manifest.id, path: file })

  beforeAll(async () => {
    digitsDir = tempDir('lethe-onnx-digits-')
    ;({ dataset: digits } = await importedDemo('digits', digitsDir))
  })

  it('imports a Tanh MLP, matching onnxruntime', async () => {
    const model = await importFile(TANH)
    expect(model.arch).toEqual({ kind: 'mlp', inputs: 30, hidden: [8], classes: 2, activation: 'tanh' })
    expect(model.origin).toMatchObject({ output: 'logits', input: 'rows' })
    const x = testRowsOf(dataset)
    const ours = await letheProbabilities(dataDir, model, x)
    expect(worstDifference(ours, await runtimeProbabilities(TANH, x, [30]))).toBeLessThanOrEqual(1e-5)
    expect(accuracyOf(ours, dataset)).toBeGreaterThan(0.9)
  })

  it('maps a CNN with BatchNorm, max-pool, a valid Conv, Tanh and Sigmoid onto a convnet, folding the BatchNorm', async () => {
    const model = await importDigits(DIGITS_CNN)
    expect(model.arch).toEqual({
      kind: 'convnet',
      height: 8,
      width: 8,
      channels: 1,
      stages: [
        { filters: 6, kernel: 3, padding: 'same', activation: 'relu', pool: 'max' },
        { filters: 8, kernel: 3, padding: 'valid', activation: 'tanh', pool: 'none' },
      ],
      globalPool: false,
      hidden: [16],
      activation: 'sigmoid',
      classes: 10,
    })
    expect(model.origin).toMatchObject({
      format: 'onnx',
      output: 'logsoftmax',
      input: 'images',
      folded: ['"/1/BatchNormalization" (BatchNormalization) into "/0/Conv"'],
    })
    const x = testRowsOf(digits)
    const ours = await letheProbabilities(digitsDir, model, x)
    const theirs = await runtimeProbabilities(DIGITS_CNN, nchwOf(x, [8, 8, 1]), [1, 8, 8])
    expect(worstDifference(ours, theirs)).toBeLessThanOrEqual(1e-5)
    expect(accuracyOf(ours, digits)).toBeGreaterThan(0.85)

    // The imported network is the engine's own: it is unlearned like one Lethe trained.
    const result = await unlearnModel(
      {
        dataDir: digitsDir,
        modelId: model.id,
        method: 'finetune',
        rows: Array.from(digits.train.subarray(0, 20)),
        strictRows: true,
        requestId: null,
        reference: false,
        options: { epochs: 1, learningRate: 0.001 },
      },
      control,
    )
    const child = await readManifest(folders(digitsDir).models, result.model.id)
    expect(child.origin).toEqual(model.origin)
    expect(result.report.unlearned.test.accuracy).toBeGreaterThan(0.8)
  })

  it('maps flat rows reshaped to images, average pooling and GlobalAveragePool, matching onnxruntime', async () => {
    const model = await importDigits(DIGITS_GAP)
    expect(model.arch).toEqual({
      kind: 'convnet',
      height: 8,
      width: 8,
      channels: 1,
      stages: [
        { filters: 4, kernel: 3, padding: 'same', activation: 'relu', pool: 'avg' },
        { filters: 8, kernel: 3, padding: 'same', activation: 'relu', pool: 'none' },
      ],
      globalPool: true,
      hidden: [],
      activation: 'relu',
      classes: 10,
    })
    expect(model.origin).toMatchObject({ output: 'softmax', input: 'rows' })
    expect(model.origin?.folded).toBeUndefined()
    const x = testRowsOf(digits)
    const ours = await letheProbabilities(digitsDir, model, x)
    expect(worstDifference(ours, await runtimeProbabilities(DIGITS_GAP, x, [64]))).toBeLessThanOrEqual(1e-5)
    expect(accuracyOf(ours, digits)).toBeGreaterThan(0.85)
  })

  it('refuses a convnet for a dataset whose rows are not its images', async () => {
    const before = modelFolders()
    const error = await rejection('BAD_INPUT', importFile(DIGITS_CNN))
    expect(error.message).toContain('takes 64 input features')
    expect(modelFolders()).toEqual(before)
  })
})

describe('refusals store nothing', () => {
  it('refuses hidden layers with different activations, naming the node and its op', async () => {
    const file = writeModel(
      'mixed.onnx',
      encodeModel(
        [
          gemm('fc1', 'x', 'h1', 'fc1'),
          { name: 'rectify', opType: 'Relu', input: ['h1'], output: ['a1'] },
          gemm('fc2', 'a1', 'h2', 'fc2'),
          { name: 'squash', opType: 'Sigmoid', input: ['h2'], output: ['a2'] },
          gemm('fc3', 'a2', 'y', 'fc3'),
        ],
        [
          tensor('fc1.weight', [4, 30]),
          tensor('fc1.bias', [4]),
          tensor('fc2.weight', [3, 4]),
          tensor('fc2.bias', [3]),
          tensor('fc3.weight', [2, 3]),
          tensor('fc3.bias', [2]),
        ],
      ),
    )
    const before = modelFolders()
    const error = await rejection('BAD_INPUT', importFile(file))
    expect(error.message).toMatch(/^Node "squash" \(Sigmoid\): the hidden layers mix activations/)
    expect(error.message).toContain('Relu after "fc1"')
    expect(modelFolders()).toEqual(before)
  })

  it('refuses an activation it does not have, and a Conv on flat rows, naming them', async () => {
    const leaky = writeModel(
      'leaky.onnx',
      encodeModel(
        [
          gemm('fc1', 'x', 'h', 'fc1'),
          { name: 'leak', opType: 'LeakyRelu', input: ['h'], output: ['a'] },
          gemm('fc2', 'a', 'y', 'fc2'),
        ],
        [
          tensor('fc1.weight', [4, 30]),
          tensor('fc1.bias', [4]),
          tensor('fc2.weight', [2, 4]),
          tensor('fc2.bias', [2]),
        ],
      ),
    )
    const conv = writeModel(
      'conv.onnx',
      encodeModel(
        [{ name: 'conv0', opType: 'Conv', input: ['x', 'k'], output: ['c'] }, gemm('fc', 'c', 'y', 'fc')],
        [tensor('k', [1, 1, 3, 3]), tensor('fc.weight', [2, 30]), tensor('fc.bias', [2])],
      ),
    )
    const before = modelFolders()
    const leaked = await rejection('BAD_INPUT', importFile(leaky))
    expect(leaked.message).toMatch(/^Node "leak" \(LeakyRelu\): the activation LeakyRelu is not supported/)
    expect(leaked.message).toContain('Relu, Sigmoid or Tanh')
    const flat = await rejection('BAD_INPUT', importFile(conv))
    expect(flat.message).toMatch(/^Node "conv0" \(Conv\): a Conv needs an image/)
    expect(modelFolders()).toEqual(before)
  })

  it('refuses a Conv with stride 2, a MaxPool with kernel 3 and an op it lacks among the convolutions', async () => {
    const flatten = { name: 'flat', opType: 'Flatten', input: ['p'], output: ['f'] }
    const relu = { name: 'act', opType: 'Relu', input: ['c'], output: ['r'] }
    const same = [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]
    const strided = imageModel(
      [...same, ints('strides', [2, 2])],
      [{ ...relu, output: ['p'] }, flatten],
      2 * 4 * 4,
    )
    const wide = imageModel(
      same,
      [
        relu,
        {
          name: 'pool3',
          opType: 'MaxPool',
          input: ['r'],
          output: ['p'],
          attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2])],
        },
        flatten,
      ],
      2 * 3 * 3,
    )
    const normalised = imageModel(
      same,
      [
        relu,
        {
          name: 'lrn',
          opType: 'LRN',
          input: ['r'],
          output: ['p'],
          attribute: [{ name: 'size', type: onnx.AttributeProto.AttributeType.INT, i: 3 }],
        },
        flatten,
      ],
      2 * 8 * 8,
    )
    const before = modelFolders()
    const cases = [
      [strided, /^Node "conv1" \(Conv\): only stride 1 is supported, not strides \[2, 2\]/],
      [wide, /^Node "pool3" \(MaxPool\): only 2×2 pooling with stride 2 is supported, not kernel \[3, 3\]/],
      [normalised, /^Node "lrn" \(LRN\): the op LRN is not supported/],
    ] as const
    for (const [bytes, message] of cases) {
      const error = await rejection('BAD_INPUT', importFile(writeModel('refused.onnx', bytes)))
      expect(error.message).toMatch(message)
      // Each names what is supported.
      expect(error.message).toContain('Lethe imports an input [batch, features], or an image')
    }
    expect(modelFolders()).toEqual(before)
  })

  it('refuses float64 weights', async () => {
    const file = writeModel(
      'double.onnx',
      encodeModel(
        [gemm('fc', 'x', 'y', 'fc')],
        [
          {
            name: 'fc.weight',
            dims: [2, 30],
            dataType: onnx.TensorProto.DataType.DOUBLE,
            doubleData: new Array(60).fill(0.1),
          },
          tensor('fc.bias', [2]),
        ],
      ),
    )
    const error = await rejection('BAD_INPUT', importFile(file))
    expect(error.message).toMatch(/"fc" \(Gemm\).*DOUBLE/)
  })

  it('accepts MatMul + Add with Dropout and Identity, in raw_data', async () => {
    const raw = (name: string, dims: number[]) => {
      const values = Float32Array.from(tensor(name, dims).floatData)
      return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(values.buffer) }
    }
    const file = writeModel(
      'matmul.onnx',
      encodeModel(
        [
          {
            name: 'flat',
            opType: 'Flatten',
            input: ['x'],
            output: ['f'],
            attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
          },
          { name: 'mm1', opType: 'MatMul', input: ['f', 'w1'], output: ['m1'] },
          { name: 'add1', opType: 'Add', input: ['m1', 'b1'], output: ['z1'] },
          { name: 'relu1', opType: 'Relu', input: ['z1'], output: ['r1'] },
          { name: 'drop', opType: 'Dropout', input: ['r1'], output: ['d1'] },
          { name: 'mm2', opType: 'MatMul', input: ['d1', 'w2'], output: ['m2'] },
          { name: 'add2', opType: 'Add', input: ['b2', 'm2'], output: ['z2'] },
          { name: 'id', opType: 'Identity', input: ['z2'], output: ['i2'] },
          { name: 'out', opType: 'LogSoftmax', input: ['i2'], output: ['y'] },
        ],
        [raw('w1', [30, 5]), raw('b1', [5]), raw('w2', [5, 2]), raw('b2', [2])],
      ),
    )
    const model = await importFile(file)
    expect(model.arch).toEqual({ kind: 'mlp', inputs: 30, hidden: [5], classes: 2 })
    expect(model.origin?.output).toBe('logsoftmax')
    // MatMul's weight is already [in, out]: stored as is, bias after it.
    const { params } = await loadModel(folders(dataDir).models, model.id)
    expect(Array.from(params.subarray(0, 150))).toEqual(
      Array.from(Float32Array.from(tensor('w1', [30, 5]).floatData)),
    )
  })

  it('drops a Reshape to [batch, features] at the input, and refuses one that mixes rows', async () => {
    const reshaped = (shape: number[]) =>
      writeModel(
        'reshape.onnx',
        encodeModel(
          [
            {
              name: 'shape',
              opType: 'Constant',
              output: ['s'],
              attribute: [
                {
                  name: 'value',
                  type: onnx.AttributeProto.AttributeType.TENSOR,
                  t: {
                    dims: [2],
                    dataType: onnx.TensorProto.DataType.INT64,
                    rawData: new Uint8Array(BigInt64Array.from(shape.map(BigInt)).buffer),
                  },
                },
              ],
            },
            { name: 'flatten', opType: 'Reshape', input: ['x', 's'], output: ['f'] },
            gemm('fc', 'f', 'y', 'fc'),
          ],
          [tensor('fc.weight', [2, 30]), tensor('fc.bias', [2])],
        ),
      )
    const model = await importFile(reshaped([-1, 30]))
    expect(model.arch).toEqual({ kind: 'logreg', inputs: 30, classes: 2 })
    const error = await rejection('BAD_INPUT', importFile(reshaped([30, -1])))
    expect(error.message).toMatch(/"flatten" \(Reshape\)/)
  })

  it('refuses a model whose input width is not the dataset’s features', async () => {
    const file = writeModel(
      'narrow.onnx',
      encodeModel([gemm('fc', 'x', 'y', 'fc')], [tensor('fc.weight', [2, 10]), tensor('fc.bias', [2])], 10),
    )
    const before = modelFolders()
    const error = await rejection('BAD_INPUT', importFile(file))
    expect(error.message).toContain('takes 10 input features')
    expect(error.message).toContain('encodes 30')
    expect(modelFolders()).toEqual(before)
  })

  it('refuses a model with another number of classes than the dataset', async () => {
    const file = writeModel(
      'three.onnx',
      encodeModel(
        [gemm('fc', 'x', 'y', 'fc')],
        [tensor('fc.weight', [3, 30]), tensor('fc.bias', [3])],
        30,
        3,
      ),
    )
    const error = await rejection('BAD_INPUT', importFile(file))
    expect(error.message).toContain('scores 3 classes')
  })

  it('refuses the same weights again (for any dataset): a version’s record is never rewritten', async () => {
    const before = modelFolders()
    const manifest = readFileSync(path.join(folders(dataDir).models, mlp.id, 'manifest.json'), 'utf8')
    const error = await rejection('CONFLICT', importFile(MLP, { name: 'again' }))
    expect(error.message).toContain(mlp.id)
    expect(modelFolders()).toEqual(before)
    expect(readFileSync(path.join(folders(dataDir).models, mlp.id, 'manifest.json'), 'utf8')).toBe(manifest)
  })

  it('refuses a file that is not ONNX', async () => {
    const file = writeModel('junk.onnx', new TextEncoder().encode('this is not a protobuf at all'))
    await rejection('BAD_INPUT', importFile(file))
  })
})

describe('lethe model import', () => {
  it('imports the fixture from the command line, and refuses a wrong width with exit status 2', () => {
    const cliDir = tempDir('lethe-onnx-cli-')
    const datasetId = importBreastCancer(cliDir).id
    const imported = lethe(['model', 'import', MLP, '--dataset', datasetId, '--name', 'deployed', '--json'], {
      dataDir: cliDir,
    })
    expect(imported.code, imported.stderr).toBe(0)
    const model = JSON.parse(imported.stdout) as Output<'models.import'>
    expect(model).toMatchObject({ name: 'deployed', method: 'import', description: 'MLP 30→16→8→2 (ReLU)' })
    expect(model.origin?.sha256).toBe(sha256Hex(new Uint8Array(readFileSync(MLP))))
    const human = lethe(['model', 'import', LOGREG, '--dataset', datasetId], { dataDir: cliDir })
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(
      /^Imported m-[0-9a-f]{12} \(breast-cancer-logreg\): logistic regression 30→2/,
    )

    const narrow = writeModel(
      'narrow.onnx',
      encodeModel([gemm('fc', 'x', 'y', 'fc')], [tensor('fc.weight', [2, 10]), tensor('fc.bias', [2])], 10),
    )
    const refused = lethe(['model', 'import', narrow, '--dataset', datasetId], { dataDir: cliDir })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('BAD_INPUT')
    expect(refused.stderr).toContain('takes 10 input features')
  }, 120_000)
})

describe('models.import through the services', () => {
  let services: LetheServices
  let call: ReturnType<typeof caller>
  let servicesDir: string

  beforeAll(async () => {
    servicesDir = tempDir('lethe-onnx-services-')
    services = createServices({
      dataDir: servicesDir,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      keyProtector: testKeys,
    })
    call = caller(services)
  })
  afterAll(async () => {
    await services?.close()
  })

  it('registers the imported version in the ledger, and a refused file registers nothing', async () => {
    const imported = await call<Output<'datasets.importDemo'>>('datasets.importDemo', {
      demo: 'breast-cancer',
    })
    const model = await call<Output<'models.import'>>('models.import', { datasetId: imported.id, path: MLP })
    expect(model.origin).toMatchObject({ format: 'onnx', fileName: 'breast-cancer-mlp.onnx' })
    expect(model.method).toBe('import')
    const registry = await call<Output<'registry.list'>>('registry.list', {})
    expect(registry.find((e) => e.id === model.id)).toMatchObject({
      kind: 'model',
      method: 'import',
      contentHash: model.paramsSha256,
      datasetId: imported.id,
      parentId: null,
    })
    const listed = await call<Output<'models.list'>>('models.list', {})
    expect(listed.find((m) => m.id === model.id)?.origin?.sha256).toBe(model.origin?.sha256)

    const narrow = writeModel(
      'narrow.onnx',
      encodeModel([gemm('fc', 'x', 'y', 'fc')], [tensor('fc.weight', [2, 10]), tensor('fc.bias', [2])], 10),
    )
    const before = await call<Output<'registry.list'>>('registry.list', {})
    await rejection('BAD_INPUT', call('models.import', { datasetId: imported.id, path: narrow }))
    expect(await call<Output<'registry.list'>>('registry.list', {})).toEqual(before)
  })
})
