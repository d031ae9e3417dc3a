/**
 * Which unlearning methods apply to a model trained elsewhere: on the PyTorch MLP fixture,
 * fine-tuning, NegGrad, DEL and the Newton step without noise run; exact retraining runs with
 * Lethe's recipe and says so; HF (no recording) and the noisy Newton step (no constrained
 * training Lethe ran) are refused with the reason, and leave nothing behind.
 */
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { certifiedConformity } from '../../electron/contract/engine'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { importModel, unlearnModel, type JobControl } from '../../electron/engine/jobs'
import type { ModelManifest } from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'
import { importedDemo } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { rejection } from '../support/errors'

const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

let dataDir: string
let dataset: Dataset
let rowsOfSubjects: (skip: number, count: number) => number[]
let mlp: ModelManifest

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-imported-methods-')
  ;({ dataset, rowsOfSubjects } = await importedDemo('breast-cancer', dataDir))
  mlp = await importModel({
    dataDir,
    datasetId: dataset.manifest.id,
    path: path.resolve('tests/fixtures/onnx/breast-cancer-mlp.onnx'),
  })
})

const versions = () => readdirSync(folders(dataDir).models).sort()
const unlearn = (method: string, options: Record<string, unknown> = {}, reference = false) =>
  unlearnModel(
    {
      dataDir,
      modelId: mlp.id,
      method: method as 'finetune',
      rows: rowsOfSubjects(0, 4),
      strictRows: true,
      requestId: null,
      reference,
      options,
    },
    control,
  )
describe('methods on an imported model', () => {
  it('runs fine-tuning, NegGrad, DEL and the noise-free Newton step', async () => {
    for (const [method, options] of [
      ['finetune', { epochs: 2 }],
      // NegGrad+: the fixture is so sure of these rows that their own gradient vanishes in float32.
      ['neggrad', { alpha: 0.5, learningRate: 0.01 }],
      ['del', { epochs: 2 }],
      ['certified', { noise: false }],
    ] as const) {
      const result = await unlearn(method, options)
      expect(result.parent.id, method).toBe(mlp.id)
      expect(result.model.origin, method).toEqual(mlp.origin)
      if (method === 'certified') expect(result.guarantee.strength).toBe('none')
    }
  }, 120_000)

  it('retrains with Lethe’s recipe, and the record says it was not the original’s', async () => {
    const result = await unlearn('retrain', {}, true)
    expect(result.details).toMatchObject({ recipe: 'lethe', reference: 'independent run' })
    expect(result.reference?.recipe).toBe('lethe')
    expect(result.report.unlearned.test.accuracy).toBeGreaterThan(0.85)
  }, 120_000)

  it('refuses HF and the noisy Newton step with the reason, storing nothing', async () => {
    const before = versions()
    const hf = await rejection('CONFLICT', unlearn('hf', { epsilon: 1 }))
    expect(hf.message).toContain('without HF recording')
    const noisy = await rejection('CONFLICT', unlearn('certified', { epsilon: 1 }))
    expect(noisy.message).toContain('was imported')
    expect(versions()).toEqual(before)
  })

  it('takes the recipe fields a user sets over the defaults for the kind', async () => {
    const logreg = await importModel({
      dataDir,
      datasetId: dataset.manifest.id,
      path: path.resolve('tests/fixtures/onnx/breast-cancer-logreg.onnx'),
      training: { l2: 0.01 },
    })
    expect(logreg.training).toMatchObject({ optimizer: 'lbfgs', l2: 0.01 })
    expect(mlp.training).toMatchObject({ optimizer: 'adam', learningRate: 1e-3 })
    await expect(
      importModel({
        dataDir,
        datasetId: dataset.manifest.id,
        path: path.resolve('tests/fixtures/onnx/breast-cancer-tanh.onnx'),
        training: { optimizer: 'lbfgs' },
      }),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining("'lbfgs' is only for logistic regression"),
    })
  })

  it('states the rule the desk and the engine share', () => {
    const imported = { method: 'import', arch: 'logreg', optimizer: 'lbfgs', projectRadius: null }
    expect(certifiedConformity(imported)).toHaveLength(1)
    // The same recipe trained by Lethe is solved to its optimum and qualifies.
    expect(certifiedConformity({ ...imported, method: 'train' })).toEqual([])
    expect(
      certifiedConformity({ method: 'train', arch: 'mlp', optimizer: 'adam', projectRadius: 20 }),
    ).toEqual([])
    expect(
      certifiedConformity({ method: 'train', arch: 'mlp', optimizer: 'sgd', projectRadius: null }),
    ).toHaveLength(2)
  })
})
