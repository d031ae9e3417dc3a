/**
 * Entry point of the engine process. Runs as an Electron utility process (own V8 heap: an
 * out-of-memory here cannot abort the app) or as a worker thread in plain Node.
 */
import { parentPort } from 'node:worker_threads'
import { toErrorPayload, type LetheEvent } from '../contract'
import { probeBackends, selectBackend, type BackendChoice } from './backends'
import type { BackendReport, BackendStatus } from '../contract/system'
import {
  datasetsOf,
  evaluateModel,
  importDataset,
  importModel,
  exportModel,
  modelsOf,
  previewOf,
  subjectsOf,
  trainModel,
  unlearnModel,
  type JobControl,
} from './jobs'
import type { EngineMethods, EngineReply, EngineRequest, JobRequest } from './protocol'
import { unlearningMethodList } from './methods'
import { removeRows } from './data/dataset'
import { readTableColumns } from './data/sources'
import { folders } from './folders'

// stdout belongs to the CLI's --json output; the engine's libraries talk on stderr.
console.log = console.info = console.warn = (...args: unknown[]) => console.error(...args)

interface Port {
  post(reply: EngineReply): void
  listen(handler: (request: EngineRequest) => void): void
}

function connect(): Port {
  const utility = (process as unknown as { parentPort?: Electron.ParentPort }).parentPort
  if (utility) {
    return {
      post: (reply) => utility.postMessage(reply),
      listen: (handler) => utility.on('message', (e) => handler(e.data as EngineRequest)),
    }
  }
  if (parentPort) {
    const port = parentPort
    return { post: (reply) => port.postMessage(reply), listen: (handler) => port.on('message', handler) }
  }
  throw new Error('The engine must run as a worker thread or an Electron utility process.')
}

const port = connect()
const emit = (event: LetheEvent) => port.post({ type: 'event', event })

let probed: Promise<BackendStatus[]> | undefined
let report: Promise<BackendReport> | undefined

/**
 * Probes the backends once per process (they register once), then selects one; every job
 * waits for it. A new choice (the setting changed) selects again among what was found.
 */
function ready(choice?: BackendChoice | null): Promise<BackendReport> {
  probed ??= probeBackends((fraction, message) =>
    emit({ name: 'job.progress', payload: { jobId: 'engine.probe', kind: 'probe', fraction, message } }),
  )
  if (choice !== undefined || !report)
    report = probed.then((backends) => selectBackend(backends, choice ?? null))
  return report
}

const methods: {
  [M in keyof EngineMethods]: (input: EngineMethods[M]['input']) => Promise<EngineMethods[M]['output']>
} = {
  probe(input) {
    return ready(input.choice)
  },
  'datasets.import': (input) => importDataset(input),
  'datasets.columns': ({ path }) => readTableColumns(path),
  'datasets.list': ({ dataDir }) => datasetsOf(dataDir),
  'datasets.subjects': ({ dataDir, datasetId }) => subjectsOf(dataDir, datasetId),
  'datasets.preview': ({ dataDir, datasetId, rows, limit }) => previewOf(dataDir, datasetId, rows, limit),
  'datasets.removeRows': ({ dataDir, datasetId, rows, deletion }) =>
    removeRows(folders(dataDir).datasets, datasetId, rows, deletion),
  'models.list': ({ dataDir }) => modelsOf(dataDir),
  'models.import': (input) => importModel(input),
  'models.export': (input) => exportModel(input),
  'models.evaluate': async (input) => {
    await ready()
    return evaluateModel(input)
  },
  async 'methods.list'() {
    return unlearningMethodList.map((m) => ({
      name: m.name,
      label: m.label,
      description: m.description,
      guarantee: m.guarantee({}),
    }))
  },
  async 'jobs.start'(job) {
    runJob(job)
    return { jobId: job.jobId }
  },
  async 'jobs.cancel'({ jobId }) {
    const running = jobs.get(jobId)
    running?.abort()
    return { cancelled: running !== undefined }
  },
}

const jobs = new Map<string, AbortController>()

/** Runs a job in the background: progress events while it works, one job.finished at the end. */
function runJob(job: JobRequest): void {
  const abort = new AbortController()
  jobs.set(job.jobId, abort)
  const control: JobControl = {
    signal: abort.signal,
    progress: (fraction, message, point) =>
      emit({
        name: 'job.progress',
        payload: { jobId: job.jobId, kind: job.kind, fraction, message, ...(point ? { point } : {}) },
      }),
  }
  const work = ready().then((): Promise<unknown> =>
    job.kind === 'train' ? trainModel(job.input, control) : unlearnModel(job.input, control),
  )
  work
    .then(
      (result) =>
        emit({
          name: 'job.finished',
          payload: { jobId: job.jobId, kind: job.kind, state: 'succeeded', result, error: null },
        }),
      (error: unknown) => {
        const { code, message } = toErrorPayload(error)
        const state = code === 'CANCELLED' ? 'cancelled' : 'failed'
        emit({
          name: 'job.finished',
          payload: { jobId: job.jobId, kind: job.kind, state, result: null, error: { code, message } },
        })
      },
    )
    .finally(() => jobs.delete(job.jobId))
}

port.listen(async (request) => {
  try {
    const handler = methods[request.method] as (input: unknown) => Promise<unknown>
    const value = await handler(request.input)
    port.post({ type: 'result', id: request.id, result: { ok: true, value } })
  } catch (error) {
    port.post({ type: 'result', id: request.id, result: { ok: false, error: toErrorPayload(error) } })
  }
})
