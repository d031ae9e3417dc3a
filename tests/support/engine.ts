import { readFileSync } from 'node:fs'
import { importCsvDataset } from '../../electron/engine/data/csv-dataset'
import type { Dataset } from '../../electron/engine/data/dataset'
import { unlearnContext, type UnlearnContext } from '../../electron/engine/methods/method'
import { identify, trainedDraft } from '../../electron/engine/models/store'
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { Random } from '../../electron/engine/random'
import { defaultTrainConfig, train, uploadData, type TrainConfig } from '../../electron/engine/train'

export function demoDataset(name: 'breast-cancer' | 'digits'): Dataset {
  const file = `resources/datasets/${name}.csv`
  const mapping =
    name === 'breast-cancer'
      ? { subjectColumn: 'patient_id', labelColumn: 'diagnosis' }
      : { subjectColumn: 'subject_id', labelColumn: 'digit' }
  return importCsvDataset(readFileSync(file, 'utf8'), { file, mapping, createdAt: '2026-01-01T00:00:00Z' })
}

/** Trains a model on the dataset's training split and returns what an unlearning method is given. */
export async function trainedContext(
  dataset: Dataset,
  arch: Architecture,
  overrides: Partial<TrainConfig> = {},
  forgetFraction = 0.05,
): Promise<UnlearnContext> {
  const spec = specOf(arch)
  const data = uploadData(dataset.features, dataset.labels, dataset.manifest.featureDim)
  const training = {
    ...defaultTrainConfig,
    epochs: 20,
    batchSize: 32,
    learningRate: 0.05,
    ...overrides,
    initSeed: 1,
    trainRows: dataset.train.length,
  }
  const result = await train(spec, data, dataset.train, training, initParams(spec, training.initSeed))
  const manifest = identify(
    trainedDraft({
      name: 'test',
      arch,
      dataset: dataset.manifest,
      training,
      backend: 'wasm',
      createdAt: '2026-01-01T00:00:00Z',
    }),
    result.params,
  )
  // Forget whole subjects, as an erasure request would: about `forgetFraction` of the training rows.
  const random = new Random(99)
  const inTraining = new Set(dataset.train)
  const forget: number[] = []
  for (const row of random.shuffle(dataset.train)) {
    if (forget.length >= Math.round(forgetFraction * dataset.train.length)) break
    const subject = dataset.subjects[row]
    for (let r = 0; r < dataset.subjects.length; r++)
      if (dataset.subjects[r] === subject && inTraining.has(r) && !forget.includes(r)) forget.push(r)
  }
  return unlearnContext({ spec, dataset, data, original: { manifest, params: result.params } }, forget)
}
