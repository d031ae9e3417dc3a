import { spawnSync } from 'node:child_process'
import { expect } from 'vitest'
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

/** `lethe dataset import` of the breast-cancer demo, where CLI tests start: the dataset it made. */
export function importBreastCancer(dataDir: string): { id: string; rows: number } {
  const imported = lethe(
    [
      'dataset',
      'import',
      'resources/datasets/breast-cancer.csv',
      '--subject-column',
      'patient_id',
      '--label-column',
      'diagnosis',
      '--json',
    ],
    { dataDir },
  )
  expect(imported.code, imported.stderr).toBe(0)
  return JSON.parse(imported.stdout) as { id: string; rows: number }
}
