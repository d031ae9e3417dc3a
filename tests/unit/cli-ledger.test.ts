import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Ledger } from '../../electron/ledger/ledger'
import { lethe as cli } from '../support/cli'
import { tempDir } from '../support/fixtures'

const lethe = (dataDir: string, args: string[]) => cli(args, { dataDir })

const create = (dataDir: string, ...extra: string[]) =>
  lethe(dataDir, [
    'request',
    'create',
    '--name',
    'Jane Doe',
    '--email',
    'jane@example.com',
    '--subject-id',
    'customer-id:C-1001',
    '--subject-id',
    'email:jane@example.com',
    '--jurisdiction',
    'gdpr',
    '--received',
    '2026-11-02',
    ...extra,
  ])

describe('lethe request and lethe ledger', () => {
  it('creates, lists, moves and verifies, with the typed error and status 2 for a refused move', () => {
    const dataDir = tempDir('lethe-cli-')
    const created = create(dataDir, '--json')
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({
      id: 'RTBF-2026-0001',
      status: 'received',
      deadline: { dueDate: '2026-12-02' },
    })

    const list = lethe(dataDir, ['request', 'list'])
    expect(list.stdout).toMatch(/RTBF-2026-0001\s+received\s+gdpr\s+2026-11-02\s+due 2026-12-02/)
    expect(list.stdout).toContain('J*** D**')
    expect(list.stdout).not.toContain('Jane')

    const refused = lethe(dataDir, ['request', 'transition', 'RTBF-2026-0001', 'completed'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('lethe: CONFLICT: RTBF-2026-0001 cannot move from received to completed')

    const moved = lethe(dataDir, [
      'request',
      'transition',
      'RTBF-2026-0001',
      'identity-verified',
      '--method',
      'e-mail link',
    ])
    expect(moved.code).toBe(0)
    expect(moved.stdout).toContain('Identity: verified by e-mail link')

    const shown = lethe(dataDir, ['request', 'show', 'RTBF-2026-0001'])
    expect(shown.stdout).toMatch(/request\.refused RTBF-2026-0001/)

    const verified = lethe(dataDir, ['ledger', 'verify', '--json'])
    expect(verified.code).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, events: 4 })
  })

  it('exits 3 and names the bad entry when the log was edited', () => {
    const dataDir = tempDir('lethe-cli-')
    create(dataDir)
    lethe(dataDir, ['request', 'note', 'RTBF-2026-0001', 'first call'])
    const events = path.join(dataDir, 'ledger', 'events')
    const file = path.join(events, readdirSync(events)[0] as string)
    writeFileSync(file, readFileSync(file, 'utf8').replace('"chars":10', '"chars":11'))
    const result = lethe(dataDir, ['ledger', 'verify'])
    expect(result.code).toBe(3)
    expect(result.stdout).toMatch(/does NOT verify\. First bad entry: seq 3 .*edited/)
  })

  it('refuses a second writer while the app holds the ledger, but still reads', async () => {
    const dataDir = tempDir('lethe-cli-')
    create(dataDir)
    const app = await Ledger.open(dataDir)
    try {
      const write = create(dataDir)
      expect(write.code).toBe(1)
      expect(write.stderr).toMatch(
        /lethe: LOCKED: The ledger is open for writing in another Lethe process \(pid \d+/,
      )
      const read = lethe(dataDir, ['request', 'list', '--json'])
      expect(read.code).toBe(0)
      expect(JSON.parse(read.stdout).total).toBe(1)
    } finally {
      await app.close()
    }
  })

  it('imports a CSV all-or-nothing and exports requests and the audit log', () => {
    const dataDir = tempDir('lethe-cli-')
    const csv = path.join(dataDir, 'in.csv')
    writeFileSync(
      csv,
      'name,email,subject_ids,jurisdiction,received\nAnn,ann@x.io,customer-id:1,gdpr,2026-11-01\nBen,ben,customer-id:2,ccpa,2026-11-01\n',
    )
    const bad = lethe(dataDir, ['request', 'import', csv])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('line 3, email:')
    writeFileSync(
      csv,
      'name,email,subject_ids,jurisdiction,received\nAnn,ann@x.io,customer-id:1,gdpr,2026-11-01\nBen,ben@x.io,customer-id:2,ccpa,2026-11-01\n',
    )
    expect(lethe(dataDir, ['request', 'import', csv]).stdout).toContain(
      'Imported 2 requests: RTBF-2026-0001, RTBF-2026-0002',
    )

    const out = path.join(dataDir, 'requests.csv')
    expect(lethe(dataDir, ['request', 'export', '--out', out]).code).toBe(0)
    const lines = readFileSync(out, 'utf8').trim().split('\n')
    expect(lines[0]).toMatch(/^id,received,jurisdiction,legal_basis/)
    expect(lines).toHaveLength(3)
    const log = lethe(dataDir, ['ledger', 'export', '--events', 'json'])
    expect(JSON.parse(log.stdout).map((e: { type: string }) => e.type)).toEqual([
      'ledger.created',
      'request.created',
      'request.created',
    ])
  })
})
