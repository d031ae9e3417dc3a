import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SystemInfo } from '../../electron/contract'
import type { Handlers } from '../../electron/contract/dispatch'

const made: string[] = []

/** A new temporary folder, removed once the test file has run (tests/support/cleanup.ts). */
export function tempDir(prefix = 'lethe-test-'): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), prefix))
  made.push(folder)
  return folder
}

/** Files and folders under `folder` that anyone but their owner may read or enter, with their mode. */
export function readableByOthers(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const target = path.join(folder, entry.name)
    const mode = statSync(target).mode & 0o777
    const wrong = (mode & 0o077) !== 0 ? [`${target} ${mode.toString(8)}`] : []
    return entry.isDirectory() ? [...wrong, ...readableByOthers(target)] : wrong
  })
}

/** Removes every temporary folder made so far. */
export function removeTempDirs(): void {
  for (const folder of made.splice(0)) rmSync(folder, { recursive: true, force: true })
}

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
