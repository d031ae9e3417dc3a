/**
 * Entry point of the engine process. Runs as an Electron utility process (own V8 heap: an
 * out-of-memory here cannot abort the app) or as a worker thread in plain Node.
 */
import { parentPort } from 'node:worker_threads'
import { toErrorPayload, type LetheEvent } from '../contract'
import { probeBackends } from './backends'
import type { EngineMethods, EngineReply, EngineRequest } from './protocol'

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

let probed: Promise<EngineMethods['probe']['output']> | undefined

const methods: {
  [M in keyof EngineMethods]: (input: EngineMethods[M]['input']) => Promise<EngineMethods[M]['output']>
} = {
  probe(input) {
    // Backends register once per process, so the first probe's answer stands.
    probed ??= probeBackends(input.override, (fraction, message) =>
      emit({ name: 'job.progress', payload: { jobId: 'engine.probe', kind: 'probe', fraction, message } }),
    )
    return probed
  },
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
