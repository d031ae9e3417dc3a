import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Ledger } from '../../electron/ledger/ledger'
import { lethe as cli } from '../support/cli'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

const lethe = (dataDir: string, args: string[]) => cli(args, { dataDir })

const folders: string[] = []
const temp = () => {
  const folder = tempDir('lethe-cli-')
  folders.push(folder)
  return folder
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

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
    const dataDir = temp()
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
    const dataDir = temp()
    create(dataDir)
    lethe(dataDir, ['request', 'note', 'RTBF-2026-0001', 'first call'])
    const events = path.join(dataDir, 'ledger', 'events')
    const file = path.join(events, readdirSync(events)[0] as string)
    writeFileSync(file, readFileSync(file, 'utf8').replace('"chars":10', '"chars":11'))
    const result = lethe(dataDir, ['ledger', 'verify'])
    expect(result.code).toBe(3)
    expect(result.stdout).toMatch(/does NOT verify\. First bad entry: seq 3 .*edited/)
  })

  it('holds the chain against a key and an entry given on the command line: a rollback exits 3', () => {
    const dataDir = temp()
    create(dataDir)
    const root = path.join(dataDir, 'ledger')
    const earlier = path.join(temp(), 'ledger')
    cpSync(root, earlier, { recursive: true })
    lethe(dataDir, ['request', 'note', 'RTBF-2026-0001', 'first call'])
    const head = JSON.parse(lethe(dataDir, ['ledger', 'head', '--json']).stdout) as {
      seq: number
      hash: string
    }
    const good = JSON.parse(lethe(dataDir, ['ledger', 'verify', '--json']).stdout) as {
      keyFingerprint: string
    }
    const expectations = ['--expect-key', good.keyFingerprint, '--expect-head', `${head.seq}:${head.hash}`]
    expect(lethe(dataDir, ['ledger', 'verify', ...expectations]).code).toBe(0)

    // The whole ledger folder put back as it was before the note: it verifies on its own…
    rmSync(root, { recursive: true })
    cpSync(earlier, root, { recursive: true })
    expect(lethe(dataDir, ['ledger', 'verify']).code).toBe(0)
    // …but not against the entry a certificate cited.
    const rolledBack = lethe(dataDir, ['ledger', 'verify', ...expectations])
    expect(rolledBack.code).toBe(3)
    expect(rolledBack.stdout).toMatch(new RegExp(`First bad entry: seq ${head.seq}: .*rolled back`))
    expect(rolledBack.stdout).toMatch(/FAIL The entry given to the verifier/)

    const otherKey = lethe(dataDir, ['ledger', 'verify', '--expect-key', Array(32).fill('AB').join(':')])
    expect(otherKey.code).toBe(3)
    expect(otherKey.stdout).toMatch(/the heads are signed with /)
    const malformed = lethe(dataDir, ['ledger', 'verify', '--expect-head', 'latest'])
    expect(malformed.code).toBe(2)
    expect(malformed.stderr).toMatch(/SEQ:HASH/)
  })

  it('refuses a second writer while the app holds the ledger, but still reads', async () => {
    const dataDir = temp()
    create(dataDir)
    const app = await Ledger.open(dataDir, { keyProtector: testKeys })
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
    const dataDir = temp()
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

  it('refuses a received date outside 1970–2099, saying so, and keeps what is stored', () => {
    const dataDir = temp()
    expect(create(dataDir).code).toBe(0)
    const typo = lethe(dataDir, [
      'request',
      'create',
      '--name',
      'Ann Lee',
      '--subject-id',
      'C-2002',
      '--jurisdiction',
      'gdpr',
      '--received',
      '0000-01-01',
    ])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain(
      'lethe: BAD_INPUT: Invalid input for requests.create at "received": Give a date from 1970-01-01 to 2099-12-31.',
    )
    const list = lethe(dataDir, ['request', 'list', '--json'])
    expect(JSON.parse(list.stdout).items.map((r: { id: string }) => r.id)).toEqual(['RTBF-2026-0001'])
  })

  it('writes --out with --json too, and the JSON names the file instead of carrying the content', () => {
    const dataDir = temp()
    create(dataDir)
    const requests = path.join(dataDir, 'requests.csv')
    const exported = lethe(dataDir, ['request', 'export', '--out', requests, '--json'])
    expect(exported.code, exported.stderr).toBe(0)
    expect(JSON.parse(exported.stdout)).toEqual({ format: 'csv', count: 1, out: requests })
    expect(readFileSync(requests, 'utf8')).toMatch(/^id,received,.*\nRTBF-2026-0001,2026-11-02,gdpr,/s)

    const log = path.join(dataDir, 'events.json')
    const events = lethe(dataDir, ['ledger', 'export', '--events', 'json', '--out', log, '--json'])
    expect(events.code, events.stderr).toBe(0)
    expect(JSON.parse(events.stdout)).toEqual({ format: 'json', count: 2, out: log })
    expect(JSON.parse(readFileSync(log, 'utf8')).map((e: { type: string }) => e.type)).toEqual([
      'ledger.created',
      'request.created',
    ])
  })
})
