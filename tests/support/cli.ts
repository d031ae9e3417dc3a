import { spawnSync } from 'node:child_process'
import { TEST_PASSPHRASE } from './ledger'

/** The real CLI, as a user runs it: `npm run cli -- …` is `tsx electron/cli/index.ts …`. */
export function lethe(args: string[], options: { dataDir?: string; env?: Record<string, string> } = {}) {
  const dataDir = options.dataDir ? ['--data-dir', options.dataDir] : []
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'electron/cli/index.ts', ...args, ...dataDir],
    {
      encoding: 'utf8',
      // Writes sign the ledger with its sealed key, as a user's shell with the passphrase set does.
      env: { ...process.env, LETHE_KEY_PASSPHRASE: TEST_PASSPHRASE, ...options.env },
      timeout: 120_000,
    },
  )
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}
