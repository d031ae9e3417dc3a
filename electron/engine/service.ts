/**
 * The engine behind the API contract, in the main process: it forwards work to the engine
 * process, keeps the state of jobs, and writes what the engine made into the ledger (the
 * registry, the request's links, and write-ahead work records for unlearning).
 */
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { LetheError, toErrorPayload, type LetheEvent } from '../contract'
import type { CallContext, Handlers } from '../contract/dispatch'
import { demoDatasets } from '../contract/demos'
import { TrainOptions, type engineMethods, type JobStatus } from '../contract/engine'
import type { CurvePoint } from '../contract/events'
import type { EventHub } from '../host/events'
import { actorOf, type LedgerService } from '../ledger/service'
import type { DatasetManifest } from './data/dataset'
import type { BackendChoice } from './backends'
import type { EngineHost } from './host'
import type { EngineMethods } from './protocol'
import { unlearningOf, type UnlearnResult } from './models/runs'
import type { Settings } from '../contract/system'
import type { ModelManifest } from './models/store'
import { describeArch } from './models/spec'
import type { z } from 'zod'

export type EngineApi = keyof typeof engineMethods
type Job = z.infer<typeof JobStatus>

const datasetInfo = (m: DatasetManifest) => ({
  id: m.id,
  name: m.name,
  kind: m.kind,
  source: m.source,
  contentHash: m.contentHash,
  rows: m.rows,
  featureDim: m.featureDim,
  shape: m.shape,
  classes: m.classes,
  columns: m.columns,
  split: m.split,
  subjects: m.subjects,
  createdAt: m.createdAt,
})

/** The manifest's training config in the contract's TrainOptions form (the schedule as its name). */
const trainingOf = (t: ModelManifest['training']): z.infer<typeof TrainOptions> => ({
  optimizer: t.optimizer,
  learningRate: t.learningRate,
  momentum: t.momentum,
  epochs: t.epochs,
  batchSize: t.batchSize,
  l2: t.l2,
  schedule: t.schedule.kind,
  lrDecay: t.schedule.kind === 'exponential' ? t.schedule.gamma : TrainOptions.shape.lrDecay.parse(undefined),
  seed: t.seed,
  samePermutationEachEpoch: t.samePermutationEachEpoch,
  // Manifests written before the projection existed have no radius.
  projectRadius: t.projectRadius ?? null,
})

const modelInfo = (m: ModelManifest) => ({
  id: m.id,
  name: m.name,
  description: describeArch(m.arch),
  parameters: m.parameters,
  paramsSha256: m.paramsSha256,
  datasetId: m.datasetId,
  parentId: m.parentId,
  method: m.method,
  requestId: m.requestId,
  forgottenRows: m.forgottenRows.length,
  backend: m.backend,
  preparation: m.preparation ?? null,
  training: trainingOf(m.training),
  createdAt: m.createdAt,
})

/** Points kept per phase of a curve; beyond it every other point is dropped, so the shape stays. */
const CURVE_POINTS_PER_PHASE = 400

function addPoint(curve: CurvePoint[], point: CurvePoint): void {
  curve.push(point)
  const phase = curve.filter((p) => p.phase === point.phase)
  if (phase.length <= CURVE_POINTS_PER_PHASE) return
  const dropped = new Set(phase.filter((_, i) => i % 2 === 1 && i < phase.length - 1))
  const kept = curve.filter((p) => !dropped.has(p))
  curve.splice(0, curve.length, ...kept)
}

export class EngineService {
  private readonly jobs = new Map<string, Job>()
  private readonly onFinish = new Map<
    string,
    (event: Extract<LetheEvent, { name: 'job.finished' }>['payload']) => Promise<void>
  >()

  constructor(
    private readonly dataDir: string,
    private readonly engine: EngineHost,
    private readonly ledger: LedgerService,
    events: EventHub,
    private readonly backendChoice: () => Promise<BackendChoice | null>,
    private readonly demosDir: string,
    private readonly certificationDefaults: () => Promise<Settings['certification']>,
  ) {
    events.subscribe((event) => void this.track(event))
  }

  private async track(event: LetheEvent): Promise<void> {
    const job = this.jobs.get(event.payload.jobId)
    if (!job) return
    if (event.name === 'job.progress') {
      job.progress = { fraction: event.payload.fraction, message: event.payload.message }
      if (event.payload.point) addPoint(job.curve, event.payload.point)
      return
    }
    if (event.name !== 'job.finished') return
    let { state, error } = event.payload
    try {
      await this.onFinish.get(job.jobId)?.(event.payload)
    } catch (caught) {
      // The engine's work is on disk, but the ledger did not take the record: say so, never crash.
      const { code, message } = toErrorPayload(caught)
      state = 'failed'
      error = { code, message: `The job finished, but recording it in the ledger failed: ${message}` }
    }
    Object.assign(job, {
      state,
      result: event.payload.result,
      error,
      finishedAt: new Date().toISOString(),
      progress: { fraction: 1, message: state },
    })
    this.onFinish.delete(job.jobId)
  }

  private start(
    kind: Job['kind'],
    finish: (payload: Extract<LetheEvent, { name: 'job.finished' }>['payload']) => Promise<void>,
  ): Job {
    const job: Job = {
      jobId: randomUUID(),
      kind,
      state: 'running',
      progress: { fraction: null, message: 'Starting' },
      curve: [],
      startedAt: new Date().toISOString(),
      finishedAt: null,
      result: null,
      error: null,
    }
    this.jobs.set(job.jobId, job)
    this.onFinish.set(job.jobId, finish)
    return job
  }

  private job(jobId: string): Job {
    const job = this.jobs.get(jobId)
    if (!job) throw new LetheError('NOT_FOUND', `There is no job ${jobId} in this session.`)
    return job
  }

  /** The engine computes on the backend the settings (or LETHE_BACKEND) choose. */
  private async useChosenBackend(): Promise<void> {
    await this.engine.call('probe', { choice: await this.backendChoice() })
  }

  /** The rows an unlearning request names: explicit rows, subject ids, or a ledger request's subjects. */
  private async forgetRows(
    model: ModelManifest,
    input: { requestId?: string; subjects?: string[]; rows?: number[] },
  ) {
    if (input.rows) return input.rows
    const subjects = await this.engine.call('datasets.subjects', {
      dataDir: this.dataDir,
      datasetId: model.datasetId,
    })
    if (input.subjects) {
      const wanted = new Set(input.subjects)
      return subjects.flatMap((s, row) => (wanted.has(s) ? [row] : []))
    }
    const ledger = await this.ledger.ledger()
    return ledger.matchSubjects(input.requestId as string, subjects)
  }

  handlers(): Pick<Handlers, EngineApi> {
    const dataDir = this.dataDir
    const engine = this.engine
    const register = async (
      entry: Parameters<Awaited<ReturnType<LedgerService['ledger']>>['register']>[0],
      context: CallContext,
    ) => (await this.ledger.ledger()).register(entry, actorOf(context))
    const importDataset = async (
      input: Omit<EngineMethods['datasets.import']['input'], 'dataDir'>,
      context: CallContext,
    ) => {
      const manifest = await engine.call('datasets.import', { dataDir, ...input })
      await register(
        {
          id: manifest.id,
          kind: 'dataset',
          name: manifest.name,
          version: '1',
          contentHash: manifest.contentHash,
          parentId: null,
          datasetId: null,
          method: null,
          requestId: null,
        },
        context,
      )
      return datasetInfo(manifest)
    }
    return {
      'datasets.import': importDataset,
      'datasets.importDemo': async ({ demo }, context) => {
        const { file, subjectColumn, labelColumn, imageShape } = demoDatasets[demo]
        return importDataset(
          {
            path: path.join(this.demosDir, file),
            subjectColumn,
            labelColumn,
            ...(imageShape ? { imageShape: [...imageShape] } : {}),
            testFraction: 0.2,
            seed: 42,
          },
          context,
        )
      },
      'datasets.list': async () => (await engine.call('datasets.list', { dataDir })).map(datasetInfo),
      'models.list': async () => (await engine.call('models.list', { dataDir })).map(modelInfo),
      'models.evaluate': async (input) => ({
        ...(await engine.call('models.evaluate', { dataDir, ...input })),
      }),
      'models.train': async (input, context) => {
        const job = this.start('train', async ({ state, result }) => {
          if (state !== 'succeeded') return
          const model = result as ModelManifest
          await register(
            {
              id: model.id,
              kind: 'model',
              name: model.name,
              version: '1',
              contentHash: model.paramsSha256,
              parentId: null,
              datasetId: model.datasetId,
              method: 'train',
              requestId: null,
            },
            context,
          )
        })
        await this.useChosenBackend()
        await engine.call('jobs.start', { jobId: job.jobId, kind: 'train', input: { dataDir, ...input } })
        return { jobId: job.jobId }
      },
      'unlearn.start': async (input, context) => {
        const models = await engine.call('models.list', { dataDir })
        const model = models.find((m) => m.id === input.modelId)
        if (!model) throw new LetheError('NOT_FOUND', `There is no model ${input.modelId}.`)
        const rows = await this.forgetRows(model, input)
        if (rows.length === 0) {
          throw new LetheError(
            'BAD_INPUT',
            `None of the given subjects are in the training data of ${model.id}.`,
          )
        }
        const ledger = await this.ledger.ledger()
        const actor = actorOf(context)
        const requestId = input.requestId ?? null
        // Write-ahead: the unlearning is on record before it starts.
        const workId = await ledger.beginWork(`unlearning:${input.method}`, requestId, actor)
        const depth = (id: string | null): number =>
          id ? 1 + depth(models.find((m) => m.id === id)?.parentId ?? null) : 0
        const job = this.start('unlearn', async ({ state, result, error }) => {
          if (state !== 'succeeded') {
            await ledger.finishWork(
              workId,
              state === 'cancelled' ? 'abandoned' : 'failed',
              error?.message ?? null,
              actor,
            )
            return
          }
          const outcome = result as UnlearnResult
          await ledger.register(
            {
              id: outcome.model.id,
              kind: 'model',
              name: outcome.model.name,
              version: String(1 + depth(model.id)),
              contentHash: outcome.model.paramsSha256,
              parentId: model.id,
              datasetId: model.datasetId,
              method: outcome.method,
              requestId,
            },
            actor,
          )
          if (requestId) {
            await ledger.link({ id: requestId, kind: 'models', target: outcome.model.id }, actor)
            await ledger.link({ id: requestId, kind: 'runs', target: job.jobId }, actor)
          }
          await ledger.finishWork(
            workId,
            'completed',
            `${outcome.model.id}: ${outcome.forgotten} rows by ${outcome.method}`,
            actor,
          )
        })
        await this.useChosenBackend()
        await engine.call('jobs.start', {
          jobId: job.jobId,
          kind: 'unlearn',
          input: {
            dataDir,
            modelId: input.modelId,
            method: input.method,
            rows,
            strictRows: input.rows !== undefined,
            requestId,
            reference: input.reference,
            referenceMode: input.referenceMode,
            noiseFloor: input.noiseFloor,
            // A certified method takes the organisation's default (ε, δ) unless the run names its own.
            options:
              input.method === 'hf' || input.method === 'certified'
                ? { ...(await this.certificationDefaults()), ...input.options }
                : input.options,
          },
        })
        return { jobId: job.jobId }
      },
      'unlearn.methods': () => engine.call('methods.list', {}),
      'unlearn.get': ({ modelId }) => unlearningOf(dataDir, modelId),
      'matching.preview': async ({ requestId, limit }) => {
        const ledger = await this.ledger.ledger()
        const [datasets, models] = await Promise.all([
          engine.call('datasets.list', { dataDir }),
          engine.call('models.list', { dataDir }),
        ])
        const matches = []
        for (const dataset of datasets) {
          const subjects = await engine.call('datasets.subjects', { dataDir, datasetId: dataset.id })
          const rows = ledger.matchSubjects(requestId, subjects)
          const {
            columns,
            rows: preview,
            ...split
          } = await engine.call('datasets.preview', {
            dataDir,
            datasetId: dataset.id,
            rows,
            limit,
          })
          const inTest = new Set(split.inTest)
          const train = rows.filter((row) => !inTest.has(row))
          matches.push({
            datasetId: dataset.id,
            name: dataset.name,
            kind: dataset.kind,
            shape: dataset.shape,
            columns,
            matched: { train: train.length, test: inTest.size },
            preview,
            models: models
              .filter((m) => m.datasetId === dataset.id)
              .map((m) => {
                const forgotten = new Set(m.forgottenRows)
                return {
                  id: m.id,
                  name: m.name,
                  method: m.method,
                  parentId: m.parentId,
                  requestId: m.requestId,
                  createdAt: m.createdAt,
                  remaining: train.filter((row) => !forgotten.has(row)).length,
                }
              }),
          })
        }
        return { requestId, datasets: matches }
      },
      'jobs.get': async ({ jobId }) => this.job(jobId),
      'jobs.list': async () => [...this.jobs.values()].reverse(),
      'jobs.cancel': async ({ jobId }) => {
        const job = this.job(jobId)
        if (job.state === 'running') await engine.call('jobs.cancel', { jobId })
        return job
      },
    }
  }
}
