import type { z } from 'zod'
import type { NewRequest } from '../../electron/contract/ledger'
import { Ledger, type LedgerOptions } from '../../electron/ledger/ledger'
import { passphraseProtector } from '../../electron/lib/key-protector'
import { tempDir } from './fixtures'

/** The passphrase that seals the keys in tests (LETHE_KEY_PASSPHRASE where a process is started). */
export const TEST_PASSPHRASE = 'correct horse battery'
export const testKeys = async () => passphraseProtector(TEST_PASSPHRASE)

export type RequestInput = z.output<typeof NewRequest>

/** A fixed "today", so deadlines in tests do not move with the calendar. */
export const TODAY = '2026-03-10'
export const clock =
  (iso = `${TODAY}T12:00:00`) =>
  () =>
    new Date(iso)

export function requestInput(overrides: Partial<RequestInput> = {}): RequestInput {
  return {
    requester: { name: 'Jane Doe', email: 'jane.doe@example.com' },
    subjectIds: [{ type: 'customer-id', value: 'C-1001' }],
    jurisdiction: 'gdpr',
    channel: 'email',
    received: '2026-03-02',
    ...overrides,
  }
}

export async function openLedger(options: LedgerOptions & { dataDir?: string } = {}) {
  const dataDir = options.dataDir ?? tempDir('lethe-ledger-')
  const ledger = await Ledger.open(dataDir, {
    now: clock(),
    flushDelayMs: 5,
    keyProtector: testKeys,
    ...options,
  })
  return { dataDir, ledger }
}
