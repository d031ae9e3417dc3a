import { readFileSync } from 'node:fs'
import type { z } from 'zod'
import { demoDatasets } from '../../electron/contract/demos'
import type { Certification } from '../../electron/contract/engine'
import { loadDataset, type Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { importDataset } from '../../electron/engine/jobs'
import path from 'node:path'
import { LetheError, type Output } from '../../electron/contract'
import { dispatch } from '../../electron/contract/dispatch'
import type { UnlearnResult } from '../../electron/engine/models/runs'
import type { LetheServices } from '../../electron/host/services'
import { importCsvDataset } from '../../electron/engine/data/csv-dataset'
import { unlearnContext, type UnlearnContext } from '../../electron/engine/methods/method'
import { identify, trainedDraft, type ModelManifest } from '../../electron/engine/models/store'
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { Random } from '../../electron/engine/random'
import { defaultTrainConfig, train, uploadData, type TrainConfig } from '../../electron/engine/train'

type DemoName = keyof typeof demoDatasets

const demoFile = (name: DemoName) => `resources/datasets/${demoDatasets[name].file}`
/** The columns and the image shape the app imports the demo with. */
const demoMapping = (name: DemoName) => {
  const { subjectColumn, labelColumn, imageShape } = demoDatasets[name]
  return {
    subjectColumn,
    labelColumn,
    imageShape: imageShape ? ([...imageShape] as [number, number, number]) : undefined,
  }
}

export function demoDataset(name: DemoName): Dataset {
  const file = demoFile(name)
  const { imageShape, ...mapping } = demoMapping(name)
  return importCsvDataset(readFileSync(file, 'utf8'), {
    file,
    mapping,
    imageShape,
    createdAt: '2026-01-01T00:00:00Z',
  })
}

/**
 * A demo dataset imported into a data folder by the engine's own job (as the app does), with
 * `rowsOfSubjects(skip, count)`: the training rows of `count` subjects after skipping `skip`,
 * whole subjects as an erasure request removes them.
 */
export async function importedDemo(name: DemoName, dataDir: string) {
  const manifest = await importDataset({
    dataDir,
    path: path.resolve(demoFile(name)),
    ...demoMapping(name),
    testFraction: 0.2,
    seed: 42,
  })
  const dataset = await loadDataset(folders(dataDir).datasets, manifest.id)
  const bySubject = new Map<string, number[]>()
  for (const row of dataset.train) {
    const subject = dataset.subjects[row] as string
    bySubject.set(subject, [...(bySubject.get(subject) ?? []), row])
  }
  const rowsOfSubjects = (skip: number, count: number) =>
    [...bySubject.values()].slice(skip, skip + count).flat()
  return { dataset, rowsOfSubjects }
}

/** ‖unlearned − retrained‖ / ‖original − retrained‖ of a run with a reference: 1 for a method that does nothing. */
export const distanceRatio = (r: UnlearnResult) =>
  (r.report.distance.unlearnedToReference as number) / (r.report.distance.originalToReference as number)

/** The certification a certified method's run recorded. */
export const certificationOf = (r: UnlearnResult) => r.details.certification as z.infer<typeof Certification>

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

/** A typed caller over a services instance, throwing the typed error. */
export function caller(services: LetheServices) {
  return async <T>(method: string, input: unknown): Promise<T> => {
    const result = await dispatch(services.handlers, method, input, { transport: 'cli' })
    if (!result.ok) throw LetheError.fromPayload(result.error)
    return result.value as T
  }
}

type Caller = ReturnType<typeof caller>

/** A job's state once it has ended (succeeded, failed or cancelled). */
export async function waitForJob(call: Caller, jobId: string): Promise<Output<'jobs.get'>> {
  for (;;) {
    const job = await call<Output<'jobs.get'>>('jobs.get', { jobId })
    if (job.state !== 'running') return job
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Starts a job (training, unlearning) and returns its state once it has ended. */
export const finishedJob = async (call: Caller, method: string, input: unknown) =>
  waitForJob(call, (await call<{ jobId: string }>(method, input)).jobId)

/**
 * The whole erasure on real services: the breast-cancer demo set, a trained model, a GDPR
 * request naming three patients, exact retraining without them (with a reference), the
 * request completed. What certificates are issued from.
 */
export async function completedErasure(services: LetheServices, complete = true) {
  const call = caller(services)
  const waitFor = (jobId: string) => waitForJob(call, jobId)
  const dataset = await call<Output<'datasets.import'>>('datasets.import', {
    path: path.resolve('resources/datasets/breast-cancer.csv'),
    subjectColumn: 'patient_id',
    labelColumn: 'diagnosis',
  })
  const trained = await waitFor(
    (
      await call<{ jobId: string }>('models.train', {
        datasetId: dataset.id,
        arch: { kind: 'logreg' },
        training: { epochs: 5 },
      })
    ).jobId,
  )
  const model = trained.result as ModelManifest
  const request = await call<Output<'requests.create'>>('requests.create', {
    requester: { name: 'Jane Doe', email: 'jane@example.com' },
    subjectIds: ['P-0007', 'P-0100', 'P-0200'].map((value) => ({ type: 'customer-id', value })),
    jurisdiction: 'gdpr',
    received: '2026-11-02',
  })
  await call('requests.transition', { id: request.id, to: 'identity-verified', method: 'e-mail' })
  await call('requests.transition', { id: request.id, to: 'in-progress' })
  const run = await waitFor(
    (
      await call<{ jobId: string }>('unlearn.start', {
        modelId: model.id,
        method: 'retrain',
        requestId: request.id,
        reference: true,
      })
    ).jobId,
  )
  if (complete) await call('requests.transition', { id: request.id, to: 'completed' })
  return { dataset, model, request, run: run.result as UnlearnResult }
}
