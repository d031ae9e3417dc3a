import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SystemInfo } from '../../electron/contract'
import type { Handlers } from '../../electron/contract/dispatch'

export const tempDir = (prefix = 'lethe-test-'): string => mkdtempSync(path.join(os.tmpdir(), prefix))

/** A valid `system.info` answer, for tests of the transports rather than of the engine. */
export function sampleInfo(dataDir = '/data'): SystemInfo {
  return {
    name: 'Lethe',
    version: '0.0.0-test',
    dataDir,
    host: 'cli',
    platform: 'linux-x64',
    versions: { node: '20.0.0', electron: null },
    engine: {
      backends: [{ name: 'cpu', label: 'CPU', available: true, detail: 'test', gflops: 1, probeMs: 1 }],
      selected: 'cpu',
      selectedBy: 'probe',
      warning: null,
    },
  }
}

/** Handlers that record their calls, so a test can tell whether a service ran. */
export function recordingHandlers(answer: () => unknown = () => sampleInfo()): {
  handlers: Handlers
  calls: unknown[]
} {
  const calls: unknown[] = []
  const handlers = {
    'system.info': async (input: unknown) => {
      calls.push(input)
      return answer()
    },
  } as unknown as Handlers
  return { handlers, calls }
}
