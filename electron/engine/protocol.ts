/** Messages between the engine host (main process) and the engine process. */
import type { z } from 'zod'
import type { MethodInfo } from '../contract/engine'
import type { BackendReport } from '../contract/system'
import type { BackendChoice } from './backends'
import type { LetheEvent, Result } from '../contract'
import type { DatasetManifest } from './data/dataset'
import type { DatasetPreview } from './data/preview'
import type { TableColumns } from './data/sources'
import type {
  evaluateModel,
  Evaluation,
  exportModel,
  importDataset,
  importModel,
  trainModel,
  unlearnModel,
} from './jobs'
import type { ModelManifest } from './models/store'

type InputOf<F extends (...args: never[]) => unknown> = Parameters<F>[0]

/** A job the engine runs in the background, reporting progress and then its result. */
export type JobRequest =
  | { jobId: string; kind: 'train'; input: InputOf<typeof trainModel> }
  | { jobId: string; kind: 'unlearn'; input: InputOf<typeof unlearnModel> }

/** What the engine process can be asked, with each method's input and output. */
export interface EngineMethods {
  /** Probes once per process; `choice` selects among what was found (again on every call). */
  probe: { input: { choice: BackendChoice | null }; output: BackendReport }
  'datasets.import': { input: InputOf<typeof importDataset>; output: DatasetManifest }
  /** A table file's header and first rows (see readTableColumns). */
  'datasets.columns': { input: { path: string }; output: TableColumns }
  'datasets.list': { input: { dataDir: string }; output: DatasetManifest[] }
  'datasets.subjects': { input: { dataDir: string; datasetId: string }; output: string[] }
  'datasets.preview': {
    input: { dataDir: string; datasetId: string; rows: number[]; limit: number }
    output: DatasetPreview
  }
  /** A new version without these rows; the old one's files shredded (see removeRows). */
  'datasets.removeRows': {
    input: {
      dataDir: string
      datasetId: string
      rows: number[]
      deletion: { at: string; reason: string; requestId: string | null }
    }
    output: { manifest: DatasetManifest; removed: number }
  }
  'models.list': { input: { dataDir: string }; output: ModelManifest[] }
  /** A model trained elsewhere (ONNX), checked against the dataset and saved as a version. */
  'models.import': { input: InputOf<typeof importModel>; output: ModelManifest }
  'models.export': { input: InputOf<typeof exportModel>; output: Awaited<ReturnType<typeof exportModel>> }
  'models.evaluate': { input: InputOf<typeof evaluateModel>; output: Evaluation }
  'methods.list': { input: Record<string, never>; output: z.infer<typeof MethodInfo>[] }
  'jobs.start': { input: JobRequest; output: { jobId: string } }
  'jobs.cancel': { input: { jobId: string }; output: { cancelled: boolean } }
}
export type EngineMethod = keyof EngineMethods

export interface EngineRequest<M extends EngineMethod = EngineMethod> {
  id: number
  method: M
  input: EngineMethods[M]['input']
}

export type EngineReply =
  { type: 'result'; id: number; result: Result<unknown> } | { type: 'event'; event: LetheEvent }

/** A transport to one engine process: a worker thread in Node, a utility process in Electron. */
export interface EngineChannel {
  post(request: EngineRequest): void
  onMessage(listener: (reply: EngineReply) => void): void
  /** Called once when the process ends for any reason, with a human-readable reason. */
  onExit(listener: (reason: string) => void): void
  terminate(): Promise<void>
}
