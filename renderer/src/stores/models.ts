import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { CurvePoint, ErrorPayload, Input, LetheEvent, Output } from '@contract/index'
import { certifiedConformity } from '@contract/engine'
import { call, errorOf, onEvent } from '../api/client'

export type DatasetInfo = Output<'datasets.list'>[number]
export type ModelInfo = Output<'models.list'>[number]
export type JobStatus = Output<'jobs.get'>
export type JobKind = JobStatus['kind']
export type TrainInput = Input<'models.train'>
export type ImportInput = Input<'datasets.import'>
export type TableColumns = Output<'datasets.columns'>
export type DemoName = Input<'datasets.importDemo'>['demo']
export type HoldingVersion = Output<'models.holdingRows'>[number]
/** What to do with a version still trained on a request's rows when the request completes. */
export type HoldingDecision = { modelId: string } & ({ delete: true } | { delete: false; reason: string })

/** Whether a version can get a certified (noisy) release from the Newton-step method, and why not. */
export type CertifiedReadiness =
  /** `radius` is null for a logistic regression solved to its optimum by L-BFGS. */
  | { ready: true; radius: number | null; root: ModelInfo }
  /** The chain's root (trained or imported) cannot be certified: `problems` in words (contract's certifiedConformity). */
  | { ready: false; why: 'training'; root: ModelInfo; problems: string[] }
  /** A version on the way was made by another method. */
  | { ready: false; why: 'method'; via: ModelInfo }
  | { ready: false; why: 'unknown' }

/** A job followed live: its progress and loss curve from events, its outcome when it ends. */
export interface LiveJob {
  jobId: string
  kind: JobKind
  state: JobStatus['state']
  fraction: number | null
  message: string
  curve: CurvePoint[]
  error: { code: string; message: string } | null
  result: unknown
  startedAt: string
}

/** Points kept per phase of a live curve; beyond it every other one is dropped, so the shape stays. */
const POINTS_PER_PHASE = 500
/** A slow look at the job beside the events: an event missed while the stream reconnected is not fatal. */
const POLL_MS = 4000

function addPoint(curve: CurvePoint[], point: CurvePoint): void {
  const last = curve.findLast((p) => p.phase === point.phase)
  if (last && last.step >= point.step) return
  curve.push(point)
  const phase = curve.filter((p) => p.phase === point.phase)
  if (phase.length <= POINTS_PER_PHASE) return
  const dropped = new Set(phase.filter((_, i) => i % 2 === 1 && i < phase.length - 1))
  curve.splice(0, curve.length, ...curve.filter((p) => !dropped.has(p)))
}

const fromStatus = (status: JobStatus): LiveJob => ({
  jobId: status.jobId,
  kind: status.kind,
  state: status.state,
  fraction: status.progress.fraction,
  message: status.progress.message,
  curve: [...status.curve],
  error: status.error,
  result: status.result,
  startedAt: status.startedAt,
})

/**
 * Follows one job of a kind at a time through `job.progress` / `job.finished` events. The
 * event stream is open while a view that shows the job is mounted (`attach`/`detach`) or the
 * job runs, and closed otherwise; a job started elsewhere (another window, the API) is taken
 * up when its first event arrives, and one running before a reload by `resume`.
 */
export function jobTracker(kind: JobKind, finished: (job: LiveJob) => void) {
  const job = ref<LiveJob | null>(null)
  const cancelling = ref(false)
  const cancelError = ref<ErrorPayload | null>(null)
  let unsubscribe: (() => void) | null = null
  let poll: ReturnType<typeof setInterval> | null = null
  let attached = 0
  let adopting = false

  const running = computed(() => job.value?.state === 'running')

  function listen(): void {
    unsubscribe ??= onEvent(handle)
  }
  function quietIfIdle(): void {
    if (attached > 0 || running.value) return
    unsubscribe?.()
    unsubscribe = null
  }
  function startPolling(): void {
    poll ??= setInterval(() => void check(), POLL_MS)
  }
  function stopPolling(): void {
    if (poll) clearInterval(poll)
    poll = null
  }

  async function check(): Promise<void> {
    const current = job.value
    if (!current || current.state !== 'running') return stopPolling()
    try {
      const status = await call('jobs.get', { jobId: current.jobId })
      if (status.state !== 'running') end(current.jobId, status.state, status.result, status.error)
    } catch {
      // The next event or the next look will tell.
    }
  }

  function end(jobId: string, state: LiveJob['state'], result: unknown, error: LiveJob['error']): void {
    const current = job.value
    if (!current || current.jobId !== jobId || current.state !== 'running') return
    Object.assign(current, { state, result, error, fraction: state === 'succeeded' ? 1 : current.fraction })
    cancelling.value = false
    stopPolling()
    finished(current)
    quietIfIdle()
  }

  function handle(event: LetheEvent): void {
    if (event.payload.kind !== kind) return
    const current = job.value
    if (!current || current.jobId !== event.payload.jobId) {
      if (event.name === 'job.progress' && !running.value) void adopt(event.payload.jobId)
      return
    }
    if (event.name === 'job.progress') {
      if (current.state !== 'running') return
      current.fraction = event.payload.fraction
      current.message = event.payload.message
      if (event.payload.point) addPoint(current.curve, event.payload.point)
    } else {
      end(current.jobId, event.payload.state, event.payload.result, event.payload.error)
    }
  }

  function follow(status: JobStatus): void {
    job.value = fromStatus(status)
    cancelError.value = null
    if (status.state === 'running') {
      listen()
      startPolling()
    }
  }

  async function adopt(jobId: string): Promise<void> {
    if (adopting) return
    adopting = true
    try {
      const status = await call('jobs.get', { jobId })
      if (!running.value && status.state === 'running') follow(status)
    } catch {
      // A job that cannot be read is not shown.
    } finally {
      adopting = false
    }
  }

  /** A job just started here: followed from its first event on. */
  function started(jobId: string): void {
    // Its first events may have arrived before the call returned, and the job been taken up.
    if (job.value?.jobId === jobId) return
    follow({
      jobId,
      kind,
      state: 'running',
      progress: { fraction: null, message: 'Starting' },
      curve: [],
      startedAt: new Date().toISOString(),
      finishedAt: null,
      result: null,
      error: null,
    })
  }

  /** Takes up a job of this kind still running in this session (after a reload, or from elsewhere). */
  async function resume(): Promise<void> {
    if (running.value) return
    try {
      const jobs = await call('jobs.list', {})
      const live = jobs.find((j) => j.kind === kind && j.state === 'running')
      if (live && !running.value) follow(live)
    } catch {
      // Nothing to take up.
    }
  }

  async function cancel(): Promise<void> {
    const current = job.value
    if (!current || current.state !== 'running') return
    cancelling.value = true
    cancelError.value = null
    try {
      const status = await call('jobs.cancel', { jobId: current.jobId })
      if (status.state !== 'running') end(current.jobId, status.state, status.result, status.error)
    } catch (caught) {
      cancelling.value = false
      cancelError.value = errorOf(caught)
    }
  }

  function attach(): void {
    attached += 1
    listen()
  }
  function detach(): void {
    attached = Math.max(0, attached - 1)
    quietIfIdle()
  }
  /** Forgets a job that has ended (the user closed its outcome). */
  function dismiss(): void {
    if (!running.value) job.value = null
  }

  return { job, running, cancelling, cancelError, started, resume, cancel, attach, detach, dismiss }
}

/** Datasets and model versions of the registry, and the training job of the Models area. */
export const useModelsStore = defineStore('models', () => {
  const datasets = ref<DatasetInfo[]>([])
  const models = ref<ModelInfo[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<ErrorPayload | null>(null)

  /** The demo being imported, or 'file'. */
  const importing = ref<DemoName | 'file' | null>(null)
  const importError = ref<ErrorPayload | null>(null)
  /** What the failed import was: a demo's name, or 'file'. */
  const importFailed = ref<DemoName | 'file' | null>(null)

  const starting = ref(false)
  const trainError = ref<ErrorPayload | null>(null)
  /** The model the last training made, once it is in the registry. */
  const trained = ref<ModelInfo | null>(null)

  const training = jobTracker('train', (job) => {
    if (job.state !== 'succeeded') return
    void load().then(() => {
      const id = (job.result as { id?: string } | null)?.id
      trained.value = models.value.find((m) => m.id === id) ?? null
    })
  })

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const [d, m] = await Promise.all([call('datasets.list', {}), call('models.list', {})])
      datasets.value = d
      models.value = m
      loaded.value = true
    } catch (caught) {
      error.value = errorOf(caught)
    } finally {
      loading.value = false
    }
  }

  async function addDataset(which: DemoName | 'file', input: () => Promise<DatasetInfo>): Promise<boolean> {
    importing.value = which
    importError.value = null
    importFailed.value = null
    try {
      const dataset = await input()
      datasets.value = [...datasets.value.filter((d) => d.id !== dataset.id), dataset]
      return true
    } catch (caught) {
      importError.value = errorOf(caught)
      importFailed.value = which
      return false
    } finally {
      importing.value = null
    }
  }

  const importDemo = (demo: DemoName) => addDataset(demo, () => call('datasets.importDemo', { demo }))
  const importFile = (input: ImportInput) => addDataset('file', () => call('datasets.import', input))
  /** A table file's header and first values, for choosing its columns before importing. */
  const readColumns = (path: string): Promise<TableColumns> => call('datasets.columns', { path })

  async function train(input: TrainInput): Promise<boolean> {
    starting.value = true
    trainError.value = null
    trained.value = null
    try {
      const { jobId } = await call('models.train', input)
      training.started(jobId)
      return true
    } catch (caught) {
      trainError.value = errorOf(caught)
      return false
    } finally {
      starting.value = false
    }
  }

  const deleting = ref(false)
  const deleteError = ref<ErrorPayload | null>(null)

  /** Deletes a version for good (its parameters shredded), then reloads the lineage. */
  async function deleteModel(input: Input<'models.delete'>): Promise<boolean> {
    deleting.value = true
    deleteError.value = null
    try {
      await call('models.delete', input)
      return true
    } catch (caught) {
      deleteError.value = errorOf(caught)
      return false
    } finally {
      deleting.value = false
      await load()
    }
  }

  const holdingRows = (requestId: string) => call('models.holdingRows', { requestId })

  /** Deletes or records the keeping of each version, in order; the first refusal stops and is thrown. */
  async function decide(requestId: string, decisions: HoldingDecision[]): Promise<void> {
    try {
      for (const d of decisions) {
        if (d.delete)
          await call('models.delete', {
            modelId: d.modelId,
            requestId,
            reason: `Erasure request ${requestId}`,
          })
        else await call('models.retain', { modelId: d.modelId, requestId, reason: d.reason })
      }
    } finally {
      if (loaded.value) await load()
    }
  }

  const datasetName = (id: string) => datasets.value.find((d) => d.id === id)?.name ?? id

  /** 1 for a trained model, one more for each unlearning on the way to it. */
  function versionOf(id: string): number {
    const byId = new Map(models.value.map((m) => [m.id, m]))
    let version = 0
    for (let at = byId.get(id); at && version < 1000; at = at.parentId ? byId.get(at.parentId) : undefined) {
      version += 1
    }
    return Math.max(version, 1)
  }

  /**
   * The HF statistics a version can be unlearned with: its trained ancestor's, when every
   * step from it is an HF run (any other method leaves the recorded trajectory behind).
   */
  function hfStatisticsOf(id: string): ModelInfo['preparation'] {
    const byId = new Map(models.value.map((m) => [m.id, m]))
    for (let at = byId.get(id), hops = 0; at && hops < 1000; hops++) {
      if (at.method === 'train') return at.preparation?.method === 'hf' ? at.preparation : null
      if (at.method !== 'hf' || !at.parentId) return null
      at = byId.get(at.parentId)
    }
    return null
  }

  /**
   * Whether a version can get a certified release from the Newton-step method: its chain's
   * trained version used Adam with a projection radius C, and every version since came from
   * that method (any other leaves the bound behind). Otherwise, why not.
   */
  function certifiedReadiness(id: string): CertifiedReadiness {
    const byId = new Map(models.value.map((m) => [m.id, m]))
    for (let at = byId.get(id), hops = 0; at && hops < 1000; hops++) {
      if (at.method === 'train' || at.method === 'import') {
        const { optimizer, projectRadius } = at.training
        if (
          certifiedConformity({ method: at.method, arch: at.archKind, optimizer, projectRadius }).length === 0
        )
          return { ready: true, root: at, radius: projectRadius }
        // In the desk's words: what the training lacked.
        const problems = [
          ...(optimizer !== 'adam' ? [`with ${optimizer.toUpperCase()}, not Adam`] : []),
          ...(projectRadius === null ? ['without a projection radius C'] : []),
        ]
        return { ready: false, why: 'training', root: at, problems }
      }
      if (at.method !== 'certified' || !at.parentId) return { ready: false, why: 'method', via: at }
      at = byId.get(at.parentId)
    }
    return { ready: false, why: 'unknown' }
  }

  return {
    datasets,
    models,
    loaded,
    loading,
    error,
    importing,
    importError,
    importFailed,
    starting,
    trainError,
    trained,
    /** The training job followed live. */
    trainJob: training.job,
    trainRunning: training.running,
    cancelling: training.cancelling,
    cancelError: training.cancelError,
    cancelTraining: training.cancel,
    resumeTraining: training.resume,
    dismissTraining: training.dismiss,
    attach: training.attach,
    detach: training.detach,
    load,
    importDemo,
    importFile,
    readColumns,
    train,
    deleting,
    deleteError,
    deleteModel,
    holdingRows,
    decide,
    datasetName,
    versionOf,
    hfStatisticsOf,
    certifiedReadiness,
  }
})
