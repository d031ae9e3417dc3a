/** Messages between the engine host (main process) and the engine process. */
import type { BackendReport } from '../contract/system'
import type { LetheEvent, Result } from '../contract'

/** What the engine process can be asked, with each method's input and output. */
export interface EngineMethods {
  probe: { input: { override?: string }; output: BackendReport }
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
