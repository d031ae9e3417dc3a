import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyLedger, verifyLedgerFiles } from '../../electron/ledger/verify'
import { testKeys } from '../support/ledger'
import { Ledger } from '../../electron/ledger/ledger'
import { tempDir } from '../support/fixtures'

const KILLS = 12

/** Runs the writer until it has acknowledged some writes, then kills it with SIGKILL mid-stride. */
function writeThenKill(dataDir: string, killAfterMs: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/ledger-writer.ts', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const acked = new Map<string, string>()
    let buffer = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop() ?? ''
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        const [word, id, status] = line.split(' ')
        if (word === 'ack' && id && status) acked.set(id, status)
      }
    })
    child.on('exit', (_code, signal) =>
      signal === 'SIGKILL'
        ? resolve(acked)
        : reject(new Error(`writer ended without being killed:\n${stderr}`)),
    )
  })
}

describe('crash safety', () => {
  it(`keeps every acknowledged write and a valid chain across ${KILLS} SIGKILLs`, async () => {
    const dataDir = tempDir('lethe-crash-')
    const acked = new Map<string, string>()
    let total = 0
    for (let round = 0; round < KILLS; round++) {
      const got = await writeThenKill(dataDir, 40 + ((round * 37) % 160))
      for (const [id, status] of got) acked.set(id, status)
      total += got.size

      // Read as it was left, before any writer recovers it, the ledger verifies: the projection
      // may lag the log, but what the signed checkpoint names holds, and no personal data is orphaned
      // beyond what an interrupted write explains.
      const asLeft = await verifyLedgerFiles(path.join(dataDir, 'ledger'))
      expect(asLeft.firstBad).toBeNull()
      expect(asLeft.stateMismatches.filter((m) => !/not in the audit log/.test(m))).toEqual([])

      // The killed writer's lock is stale: a new writer takes over, recovers and verifies.
      const ledger = await Ledger.open(dataDir, {
        now: () => new Date('2026-03-10T12:00:00'),
        keyProtector: testKeys,
      })
      try {
        const report = await verifyLedger(ledger)
        expect(report.firstBad).toBeNull()
        expect(report.stateMismatches).toEqual([])
        for (const [id, status] of acked) {
          const record = ledger.state.requests.get(id)
          expect(record, `${id} was acknowledged`).toBeDefined()
          if (status === 'identity-verified') expect(record?.status).toBe('identity-verified')
          expect((await ledger.view(id, true)).notes).toHaveLength(1)
        }
      } finally {
        await ledger.close()
      }
    }
    expect(total).toBeGreaterThan(KILLS)
    rmSync(dataDir, { recursive: true, force: true })
  })
})
