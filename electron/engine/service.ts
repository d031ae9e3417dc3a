/**
 * The engine behind the API contract, in the main process: it forwards work to the engine
 * process, keeps the state of jobs, and writes what the engine made into the ledger (the
 * registry, the request's links, and write-ahead work records for unlearning).
 */
import { randomUUID } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError, toErrorPayload, type LetheEvent } from '../contract'
import type { CallContext, Handlers } from '../contract/dispatch'
import { demoDatasets } from '../contract/demos'
import { TrainOptions, type engineMethods, type JobStatus } from '../contract/engine'
import type { ModelExport } from '../contract/ledger'
import type { CurvePoint } from '../contract/events'
import type { EventHub } from '../host/events'
import { actorOf, type LedgerService } from '../ledger/service'
import type { DatasetManifest } from './data/dataset'
import type { PreviewRow } from './data/preview'
import type { BackendChoice } from './backends'
import type { EngineHost } from './host'
import type { EngineMethods } from './protocol'
import { unlearningOf, type UnlearnResult } from './models/runs'
import type { Settings } from '../contract/system'
import { readManifest, shredModel, type ModelManifest } from './models/store'
import { describeArch } from './models/spec'
import { folders } from './folders'
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
  replaces: m.replaces ?? null,
  deleted: m.deleted
    ? {
        at: m.deleted.at,
        reason: m.deleted.reason,
        requestId: m.deleted.requestId,
        replacedBy: m.deleted.replacedBy,
      }
    : null,
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
  tolerance: t.tolerance ?? TrainOptions.shape.tolerance.parse(undefined),
})

const modelInfo = (m: ModelManifest, exports: ModelExport[] = []) => ({
  id: m.id,
  name: m.name,
  archKind: m.arch.kind,
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
  deleted: m.deleted ?? null,
  origin: m.origin ?? null,
  exports,
})

/**
 * Runs `work` on uploaded files (a browser's file input gives content, not paths), written to a
 * private folder under the data folder and removed afterwards, whatever happens. `work` gets the
 * main file: the .onnx, or the model.json its shards sit beside.
 */
async function withUploadedFiles<T>(
  dataDir: string,
  upload: { name: string; base64: string }[],
  work: (main: string) => Promise<T>,
): Promise<T> {
  const main =
    upload.find((f) => /\.onnx$/i.test(f.name)) ??
    upload.find((f) => /\.json$/i.test(f.name)) ??
    (upload.length === 1 ? upload[0] : undefined)
  if (!main)
    throw new LetheError(
      'BAD_INPUT',
      `None of the uploaded files (${upload.map((f) => f.name).join(', ')}) is a model: upload one .onnx file, or a TF.js model.json with its weight shards.`,
    )
  const folder = path.join(dataDir, 'uploads', randomUUID())
  await mkdir(folder, { recursive: true, mode: 0o700 })
  try {
    for (const file of upload)
      await writeFile(path.join(folder, file.name), Buffer.from(file.base64, 'base64'))
    return await work(path.join(folder, main.name))
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

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
  /** The dataset and model versions each job of this session reads, so none is deleted under it. */
  private readonly uses = new Map<string, string[]>()
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
    uses: string[],
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
    this.uses.set(job.jobId, uses)
    this.onFinish.set(job.jobId, finish)
    return job
  }

  /** Deleting what a running job reads would pull its data from under it. */
  private refuseIfInUse(id: string): void {
    for (const [jobId, ids] of this.uses) {
      const job = this.jobs.get(jobId)
      if (job?.state === 'running' && ids.includes(id))
        throw new LetheError(
          'CONFLICT',
          `${id} is in use by the running ${job.kind} job ${jobId}; wait for it to finish (or cancel it), then delete.`,
          { id, jobId },
        )
    }
  }

  /**
   * Checked before anything is shredded: the reason of a deletion for a request is kept in its
   * personal record, which an unknown or erased request does not have.
   */
  private async refuseUnknownOrErased(requestId: string | undefined): Promise<void> {
    if (!requestId) return
    const record = (await this.ledger.ledger()).state.requests.get(requestId)
    if (!record) throw new LetheError('NOT_FOUND', `There is no request ${requestId}.`, { id: requestId })
    if (record.redactedOn)
      throw new LetheError(
        'CONFLICT',
        `${requestId}'s personal data was erased on ${record.redactedOn}, so the deletion's reason cannot be kept with it; delete without --request (the reason is then kept in the ledger itself).`,
        { id: requestId },
      )
  }

  /** A version whose parameters or training data were shredded can no longer be unlearned. */
  private async refuseUnusable(model: ModelManifest): Promise<void> {
    if (model.deleted) {
      const { at, reason, requestId } = model.deleted
      throw new LetheError(
        'CONFLICT',
        `${model.id} (${model.name}) was deleted on ${at}${requestId ? ` for ${requestId}` : ''} ("${reason}"): its parameters no longer exist, so it cannot be unlearned. Use a version derived from it.`,
        { id: model.id, deleted: model.deleted },
      )
    }
    const datasets = await this.engine.call('datasets.list', { dataDir: this.dataDir })
    const deleted = datasets.find((d) => d.id === model.datasetId)?.deleted
    if (deleted)
      throw new LetheError(
        'CONFLICT',
        `${model.id} was trained on ${model.datasetId}, which was deleted on ${deleted.at} ("${deleted.reason}") and replaced by ${deleted.replacedBy}: unlearning needs the training rows. Train a new model on ${deleted.replacedBy}.`,
        { id: model.id, datasetId: model.datasetId },
      )
  }

  /**
   * The training rows of a request's subjects in each dataset, and every model version trained on
   * it with how many of them it still learned from. A deleted dataset's rows are known only to the
   * request it was deleted for (its tombstone keeps their row ids; the subject ids are gone).
   */
  private async matchesOf(requestId: string, limit: number) {
    const ledger = await this.ledger.ledger()
    const dataDir = this.dataDir
    const engine = this.engine
    const [datasets, models] = await Promise.all([
      engine.call('datasets.list', { dataDir }),
      engine.call('models.list', { dataDir }),
    ])
    const matches = []
    for (const dataset of datasets) {
      let matched: { train: number[]; test: number }
      let details: { columns: string[]; preview: PreviewRow[] }
      if (dataset.deleted) {
        if (dataset.deleted.requestId !== requestId) continue
        matched = { train: dataset.deleted.removedTrainRows, test: 0 }
        details = { columns: [], preview: [] }
      } else {
        const subjects = await engine.call('datasets.subjects', { dataDir, datasetId: dataset.id })
        const rows = ledger.matchSubjects(requestId, subjects)
        const {
          columns,
          rows: preview,
          inTest,
        } = await engine.call('datasets.preview', {
          dataDir,
          datasetId: dataset.id,
          rows,
          limit,
        })
        const test = new Set(inTest)
        matched = { train: rows.filter((row) => !test.has(row)), test: test.size }
        details = { columns, preview }
      }
      matches.push({
        dataset,
        ...details,
        matched,
        models: models
          .filter((m) => m.datasetId === dataset.id)
          .map((m) => {
            const forgotten = new Set(m.forgottenRows)
            return { model: m, remaining: matched.train.filter((row) => !forgotten.has(row)).length }
          }),
      })
    }
    return matches
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
      'datasets.columns': ({ path: file }) => engine.call('datasets.columns', { path: file }),
      'datasets.list': async () => (await engine.call('datasets.list', { dataDir })).map(datasetInfo),
      'models.list': async () => {
        // Exports are on the ledger's record; a damaged ledger (reported by ledger.status) hides them, not the models.
        const registry = await this.ledger.ledger().then(
          (ledger) => ledger.state.registry,
          () => new Map<string, { exports?: ModelExport[] }>(),
        )
        return (await engine.call('models.list', { dataDir })).map((m) =>
          modelInfo(m, registry.get(m.id)?.exports ?? []),
        )
      },
      'models.evaluate': async (input) => ({
        ...(await engine.call('models.evaluate', { dataDir, ...input })),
      }),
      'models.import': async ({ upload, path: file, ...input }, context) => {
        // Checked and saved by the engine before anything is registered: a refused file stores nothing.
        const model = upload
          ? await withUploadedFiles(dataDir, upload, (main) =>
              engine.call('models.import', { dataDir, ...input, path: main }),
            )
          : await engine.call('models.import', { dataDir, ...input, path: file as string })
        await register(
          {
            id: model.id,
            kind: 'model',
            name: model.name,
            version: '1',
            contentHash: model.paramsSha256,
            parentId: null,
            datasetId: model.datasetId,
            method: 'import',
            requestId: null,
          },
          context,
        )
        return modelInfo(model)
      },
      // Written by the engine after every check: a refused export writes and records nothing. The
      // ledger keeps each file's name, hash and size, never its folder (a path can name a person).
      'models.export': async (input, context) => {
        const exported = await engine.call('models.export', { dataDir, ...input })
        const files = exported.files.map((f) => ({
          fileName: path.basename(f.name),
          sha256: f.sha256,
          bytes: f.bytes,
        }))
        const ledger = await this.ledger.ledger()
        await ledger.recordExport(
          { modelId: exported.modelId, format: exported.format, files },
          actorOf(context),
        )
        return exported
      },
      'models.train': async (input, context) => {
        const job = this.start('train', [input.datasetId], async ({ state, result }) => {
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
        await this.refuseUnusable(model)
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
        // Methods that replay the chain read every earlier version, and the training data.
        const lineage = (id: string | null): string[] =>
          id ? [id, ...lineage(models.find((m) => m.id === id)?.parentId ?? null)] : []
        const uses = [...lineage(model.id), model.datasetId]
        const job = this.start('unlearn', uses, async ({ state, result, error }) => {
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
      'matching.preview': async ({ requestId, limit }) => ({
        requestId,
        datasets: (await this.matchesOf(requestId, limit)).map(
          ({ dataset, matched, models, ...details }) => ({
            datasetId: dataset.id,
            name: dataset.name,
            kind: dataset.kind,
            shape: dataset.shape,
            ...details,
            matched: { train: matched.train.length, test: matched.test },
            models: models.map(({ model: m, remaining }) => ({
              id: m.id,
              name: m.name,
              method: m.method,
              parentId: m.parentId,
              requestId: m.requestId,
              createdAt: m.createdAt,
              remaining,
              deletedAt: m.deleted?.at ?? null,
            })),
          }),
        ),
      }),
      'models.holdingRows': async ({ requestId }) => {
        const decisions = await (await this.ledger.ledger()).modelDecisions(requestId)
        const keptReason = (id: string) =>
          decisions.findLast((d) => d.modelId === id && d.kind === 'retained')?.reason ?? null
        return (await this.matchesOf(requestId, 0)).flatMap(({ models }) =>
          models
            .filter(({ remaining }) => remaining > 0)
            .map(({ model: m, remaining }) => ({
              id: m.id,
              name: m.name,
              method: m.method,
              datasetId: m.datasetId,
              createdAt: m.createdAt,
              remaining,
              deleted: m.deleted ?? null,
              keptReason: keptReason(m.id),
            })),
        )
      },
      'models.delete': async ({ modelId, reason, requestId }, context) => {
        const modelsDir = folders(dataDir).models
        const manifest = await readManifest(modelsDir, modelId)
        const ledger = await this.ledger.ledger()
        const entry = ledger.state.registry.get(modelId)
        // A tombstone the ledger has not recorded is a deletion interrupted part-way: finish it.
        if (manifest.deleted && (entry === undefined || entry.deletedAt)) {
          const { at, reason: why } = manifest.deleted
          throw new LetheError('CONFLICT', `${modelId} was already deleted on ${at} ("${why}").`, {
            id: modelId,
            deleted: manifest.deleted,
          })
        }
        await this.refuseUnknownOrErased(requestId)
        this.refuseIfInUse(modelId)
        const deletion = manifest.deleted ?? {
          at: new Date().toISOString(),
          reason,
          requestId: requestId ?? null,
        }
        const { shredded } = await shredModel(modelsDir, manifest, deletion)
        await ledger.recordDeletion(
          { kind: 'model', id: modelId, reason: deletion.reason, requestId: deletion.requestId },
          actorOf(context),
        )
        return { id: modelId, paramsSha256: manifest.paramsSha256, deleted: deletion, shredded }
      },
      'models.retain': async (input, context) => {
        const ledger = await this.ledger.ledger()
        await readManifest(folders(dataDir).models, input.modelId)
        await ledger.recordRetention(input, actorOf(context))
        return input
      },
      'datasets.removeSubjects': async ({ datasetId, requestId, subjects }, context) => {
        const datasets = await engine.call('datasets.list', { dataDir })
        const old = datasets.find((d) => d.id === datasetId)
        if (!old) throw new LetheError('NOT_FOUND', `No dataset ${datasetId}.`, { id: datasetId })
        const ledger = await this.ledger.ledger()
        await this.refuseUnknownOrErased(requestId)
        this.refuseIfInUse(datasetId)
        const all = await engine.call('datasets.subjects', { dataDir, datasetId })
        const wanted = new Set(subjects)
        const rows = requestId
          ? ledger.matchSubjects(requestId, all)
          : all.flatMap((s, row) => (wanted.has(s) ? [row] : []))
        const reason = requestId ? `the subjects of ${requestId} removed` : `${wanted.size} subjects removed`
        const { manifest, removed } = await engine.call('datasets.removeRows', {
          dataDir,
          datasetId,
          rows,
          deletion: { at: new Date().toISOString(), reason, requestId: requestId ?? null },
        })
        const actor = actorOf(context)
        const version = ledger.state.registry.get(datasetId)?.version
        await ledger.register(
          {
            id: manifest.id,
            kind: 'dataset',
            name: manifest.name,
            version: String(Number(version ?? 1) + 1),
            contentHash: manifest.contentHash,
            parentId: datasetId,
            datasetId: null,
            method: 'remove-subjects',
            requestId: requestId ?? null,
          },
          actor,
        )
        await ledger.recordDeletion(
          { kind: 'dataset', id: datasetId, reason, requestId: requestId ?? null, replacedBy: manifest.id },
          actor,
        )
        return { dataset: datasetInfo(manifest), removedRows: removed }
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
