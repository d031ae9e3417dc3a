/** Names the IPC transport uses on both sides. Free of schemas so the preload stays tiny. */
export const ipcChannel = (method: string): string => `lethe:call:${method}`
export const IPC_EVENT_CHANNEL = 'lethe:event'
/** The main process hands the method list to the preload as a process argument. */
export const METHODS_ARGUMENT = '--lethe-methods='
