/**
 * The generic IPC binding: one `ipcMain.handle` per contract method, each checking the
 * sender, the size and the input before the service runs. It never changes when a method
 * is added. Only Electron's types are imported, so it is tested in plain Node.
 */
import type { IpcMainInvokeEvent } from 'electron'
import { dispatch, inputBytes, inputLimit, type Handlers } from '../contract/dispatch'
import { fail, methodNames, type Result } from '../contract'
import { ipcChannel } from '../contract/channels'

/** The part of `ipcMain` the binding uses. */
export interface IpcHandleRegistry {
  handle(
    channel: string,
    listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<Result<unknown>>,
  ): void
}

export function bindIpc(
  ipcMain: IpcHandleRegistry,
  handlers: Handlers,
  isTrustedSender: (frameUrl: string | undefined) => boolean,
): void {
  for (const method of methodNames) {
    ipcMain.handle(ipcChannel(method), async (event, input) => {
      const url = event.senderFrame?.url
      if (!isTrustedSender(url)) {
        return fail('FORBIDDEN', 'This window may not call the Lethe API.', { sender: url ?? null })
      }
      const size = inputBytes(input)
      const limit = inputLimit(method)
      if (size > limit) return fail('TOO_LARGE', `The request is ${size} bytes; the limit is ${limit}.`)
      return dispatch(handlers, method, input, { transport: 'ipc' })
    })
  }
}
