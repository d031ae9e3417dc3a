/**
 * The renderer's one way to the main process: `window.api` under Electron, the loopback
 * bridge in a browser. Both speak the same contract and the same result union; failures
 * come back as LetheErrors with the main process's code and message.
 */
import type { ErrorPayload, Input, LetheEvent, MethodName, Output, PreloadApi, Result } from '@contract/index'
import { isErrorPayload, LetheError } from '@contract/errors'

declare global {
  interface Window {
    api?: PreloadApi
  }
}

const TOKEN_KEY = 'lethe.bridgeToken'

/** Takes the launch token from the address once, keeps it for this tab, and hides it. */
function bridgeToken(): string {
  const url = new URL(window.location.href)
  const fromUrl = url.searchParams.get('token')
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl)
    url.searchParams.delete('token')
    window.history.replaceState(null, '', url)
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? ''
}

const unreachable = (detail: string): Result<never> => ({
  ok: false,
  error: { code: 'INTERNAL', message: `Lethe's services are not reachable: ${detail}` },
})

function isResult(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null) return false
  const body = value as { ok?: unknown; error?: unknown }
  return body.ok === true || (body.ok === false && isErrorPayload(body.error))
}

function bridgeApi(): PreloadApi {
  const token = bridgeToken()
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  return {
    async call(method, input) {
      let response: Response
      try {
        response = await fetch(`/api/call/${encodeURIComponent(method)}`, {
          method: 'POST',
          headers,
          body: JSON.stringify(input ?? {}),
        })
      } catch (error) {
        return unreachable(String(error))
      }
      const body: unknown = await response.json().catch(() => null)
      return isResult(body) ? body : unreachable(`unexpected answer (HTTP ${response.status})`)
    },
    onEvent(listener) {
      const abort = new AbortController()
      void streamEvents(headers, listener, abort.signal)
      return () => abort.abort()
    },
  }
}

/** Server-sent events read with fetch (EventSource cannot send the token); reconnects. */
async function streamEvents(
  headers: Record<string, string>,
  listener: (event: LetheEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const response = await fetch('/api/events', { headers, signal })
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`)
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        const frames = buffer.split('\n\n')
        buffer = frames.pop() ?? ''
        for (const frame of frames) {
          if (frame.startsWith('data: ')) listener(JSON.parse(frame.slice(6)) as LetheEvent)
        }
      }
    } catch {
      if (signal.aborted) return
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

const transport: PreloadApi = window.api ?? bridgeApi()

export const transportName: 'ipc' | 'http' = window.api ? 'ipc' : 'http'

export async function call<M extends MethodName>(method: M, input: Input<M>): Promise<Output<M>> {
  const result = await transport.call(method, input)
  if (!result.ok) throw LetheError.fromPayload(result.error)
  return result.value as Output<M>
}

export const onEvent = (listener: (event: LetheEvent) => void): (() => void) => transport.onEvent(listener)

/** Whatever was thrown, as the payload the UI shows. */
export function errorOf(error: unknown): ErrorPayload {
  if (error instanceof LetheError) return error.toPayload()
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) }
}
