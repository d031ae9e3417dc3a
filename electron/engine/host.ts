/**
 * The main-process side of the engine: starts the engine process on first use, matches
 * replies to calls, forwards progress events, and turns a crash into ENGINE_CRASHED for
 * every pending call (the next call starts a fresh process).
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { LetheError, type LetheEvent } from '../contract'
import type { EngineChannel, EngineMethod, EngineMethods, EngineReply } from './protocol'

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: LetheError) => void
}

export class EngineHost {
  private channel: EngineChannel | undefined
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  constructor(
    private readonly spawn: () => EngineChannel,
    private readonly onEvent: (event: LetheEvent) => void = () => {},
  ) {}

  call<M extends EngineMethod>(
    method: M,
    input: EngineMethods[M]['input'],
  ): Promise<EngineMethods[M]['output']> {
    const channel = this.connect()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      channel.post({ id, method, input })
    })
  }

  async close(): Promise<void> {
    const channel = this.channel
    this.channel = undefined
    this.failPending('The engine was shut down.')
    await channel?.terminate()
  }

  private connect(): EngineChannel {
    if (this.channel) return this.channel
    let channel: EngineChannel
    try {
      channel = this.spawn()
    } catch (error) {
      throw new LetheError('ENGINE_UNAVAILABLE', `The compute engine could not start: ${String(error)}`)
    }
    channel.onMessage((reply) => this.receive(reply))
    channel.onExit((reason) => {
      if (this.channel === channel) this.channel = undefined
      this.failPending(`The compute engine stopped (${reason}); nothing it was doing was saved.`)
    })
    this.channel = channel
    return channel
  }

  private receive(reply: EngineReply): void {
    if (reply.type === 'event') return this.onEvent(reply.event)
    const pending = this.pending.get(reply.id)
    if (!pending) return
    this.pending.delete(reply.id)
    if (reply.result.ok) pending.resolve(reply.result.value)
    else pending.reject(LetheError.fromPayload(reply.result.error))
  }

  private failPending(message: string): void {
    for (const { reject } of this.pending.values()) reject(new LetheError('ENGINE_CRASHED', message))
    this.pending.clear()
  }
}

/**
 * The engine entry for plain Node: the bundled `engine-worker.js` beside the bundle, or the
 * TypeScript source (run through tsx) when running from sources under tsx or vitest.
 */
export function defaultWorkerEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const bundled = path.join(here, 'engine-worker.js')
  return existsSync(bundled) ? bundled : path.join(here, 'worker.ts')
}

/** Worker threads share the app's V8 heap cage, so cap the heap to keep an OOM local. */
export function workerThreadChannel(entry = defaultWorkerEntry(), maxHeapMb = 4096): EngineChannel {
  const options = { resourceLimits: { maxOldGenerationSizeMb: maxHeapMb } }
  // From sources, the worker registers tsx's loader itself before importing the entry.
  const worker = entry.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(entry).href)}) })`,
        { ...options, eval: true },
      )
    : new Worker(entry, options)
  let exitListener: (reason: string) => void = () => {}
  let ended = false
  const end = (reason: string) => {
    if (ended) return
    ended = true
    exitListener(reason)
  }
  worker.on('error', (error) => end(error.message))
  worker.on('exit', (code) => end(`exit code ${code}`))
  return {
    post: (request) => worker.postMessage(request),
    onMessage: (listener) => worker.on('message', listener),
    onExit: (listener) => (exitListener = listener),
    terminate: async () => {
      ended = true
      await worker.terminate()
    },
  }
}
