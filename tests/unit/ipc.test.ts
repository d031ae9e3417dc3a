import type { IpcMainInvokeEvent } from 'electron'
import { describe, expect, it } from 'vitest'
import { methodNames, type Result } from '../../electron/contract'
import { ipcChannel } from '../../electron/contract/channels'
import { MAX_INPUT_BYTES } from '../../electron/contract/dispatch'
import { bindIpc, type IpcHandleRegistry } from '../../electron/main/ipc'
import { isTrustedSender } from '../../electron/main/security'
import { recordingHandlers, sampleInfo } from '../support/fixtures'

type Listener = (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<Result<unknown>>

/** Stands in for Electron's ipcMain, whose binary is not available here: it only records. */
function registry(): IpcHandleRegistry & { listeners: Map<string, Listener> } {
  const listeners = new Map<string, Listener>()
  return {
    listeners,
    handle(channel, listener) {
      if (listeners.has(channel)) throw new Error(`second handler for ${channel}`)
      listeners.set(channel, listener)
    },
  }
}

const from = (url: string | null) => ({ senderFrame: url === null ? null : { url } }) as IpcMainInvokeEvent

function bound() {
  const ipc = registry()
  const { handlers, calls } = recordingHandlers()
  bindIpc(ipc, handlers, (url) => isTrustedSender(url))
  const invoke = (method: string, input: unknown, url: string | null = 'app://lethe/index.html') => {
    const listener = ipc.listeners.get(ipcChannel(method))
    if (!listener) throw new Error(`no handler for ${method}`)
    return listener(from(url), input)
  }
  return { ipc, calls, invoke }
}

describe('the IPC binding', () => {
  it('registers exactly one handler per contract method', () => {
    const { ipc } = bound()
    expect([...ipc.listeners.keys()].sort()).toEqual(methodNames.map(ipcChannel).sort())
  })

  it('answers our own window with the result union', async () => {
    const { invoke, calls } = bound()
    expect(await invoke('system.info', {})).toEqual({ ok: true, value: sampleInfo() })
    expect(calls).toHaveLength(1)
  })

  it.each([
    ['a remote page', 'https://evil.example/'],
    ['a file URL', 'file:///tmp/index.html'],
    ['another app host', 'app://other/index.html'],
    ['a frame without URL', null],
  ])('refuses %s as sender without running the service', async (_label, url) => {
    const { invoke, calls } = bound()
    const result = await invoke('system.info', {}, url)
    expect(result.ok ? 'ok' : result.error.code).toBe('FORBIDDEN')
    expect(calls).toHaveLength(0)
  })

  it('refuses bad input with a typed error', async () => {
    const { invoke, calls } = bound()
    const result = await invoke('system.info', { extra: 1 })
    expect(result.ok ? 'ok' : result.error.code).toBe('BAD_INPUT')
    expect(calls).toHaveLength(0)
  })

  it('refuses an oversized request', async () => {
    const { invoke, calls } = bound()
    const result = await invoke('system.info', { blob: 'x'.repeat(MAX_INPUT_BYTES) })
    expect(result.ok ? 'ok' : result.error.code).toBe('TOO_LARGE')
    expect(calls).toHaveLength(0)
  })
})
