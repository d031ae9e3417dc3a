/**
 * The generic preload: exposes `window.api` with two functions over the contract's channels
 * and nothing of Electron. Bundled as one CommonJS file, since a sandboxed preload can be
 * neither ESM nor require packages.
 */
import { contextBridge, ipcRenderer } from 'electron'
import { IPC_EVENT_CHANNEL, ipcChannel, METHODS_ARGUMENT } from '../contract/channels'
import type { ErrorPayload, LetheEvent, PreloadApi, Result } from '../contract'

const known = new Set(
  process.argv
    .find((arg) => arg.startsWith(METHODS_ARGUMENT))
    ?.slice(METHODS_ARGUMENT.length)
    .split(',') ?? [],
)

const api: PreloadApi = {
  async call(method, input) {
    if (!known.has(method)) {
      const error: ErrorPayload = { code: 'UNKNOWN_METHOD', message: `Unknown method "${method}".` }
      return { ok: false, error }
    }
    return (await ipcRenderer.invoke(ipcChannel(method), input)) as Result<unknown>
  },
  onEvent(listener) {
    const forward = (_: unknown, event: LetheEvent) => listener(event)
    ipcRenderer.on(IPC_EVENT_CHANNEL, forward)
    return () => ipcRenderer.off(IPC_EVENT_CHANNEL, forward)
  },
}

contextBridge.exposeInMainWorld('api', api)
