import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { exportLedger, importLedger } from '../../electron/ledger/audit'
import { verifyLedger, verifyLedgerFiles } from '../../electron/ledger/verify'
import { hashEvent } from '../../electron/ledger/chain'
import { parseRequestsCsv } from '../../electron/ledger/csv-import'
import { Ledger } from '../../electron/ledger/ledger'
import { LedgerService } from '../../electron/ledger/service'
import { tempDir } from '../support/fixtures'
import { clock, openLedger, requestInput, testKeys } from '../support/ledger'

const open: Ledger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => undefined)
})

/** A closed ledger with `requests` requests and three events each, in segments of four events. */
async function filled(requests = 4) {
  const { ledger, dataDir } = await openLedger({ segmentEvents: 4 })
  const ids = await ledger.create(
    Array.from({ length: requests }, () => requestInput()),
    'o',
  )
  for (const id of ids) {
    await ledger.transition({ id, to: 'identity-verified', method: 'm' }, 'o')
    await ledger.addNote({ id, text: 'n' }, 'o')
  }
  await ledger.close()
  return { dataDir, ids, eventsDir: path.join(dataDir, 'ledger', 'events') }
}

const reopen = async (dataDir: string) => {
  const ledger = await Ledger.open(dataDir, {
    now: clock(),
    segmentEvents: 4,
    flushDelayMs: 5,
    keyProtector: testKeys,
  })
  open.push(ledger)
  return ledger
}

function editSegment(eventsDir: string, index: number, edit: (events: Record<string, unknown>[]) => void) {
  const file = path.join(eventsDir, readdirSync(eventsDir).sort()[index] as string)
  const segment = JSON.parse(readFileSync(file, 'utf8')) as { events: Record<string, unknown>[] }
  edit(segment.events)
  writeFileSync(file, JSON.stringify(segment))
  return file
}

describe('tamper detection', () => {
  it('verifies an untouched ledger across segments', async () => {
    const { dataDir } = await filled()
    const report = await verifyLedger(await reopen(dataDir))
    expect(report).toMatchObject({ ok: true, events: 13, firstBad: null, stateMismatches: [] })
    expect(report.head?.seq).toBe(13)
  })

  it.each([
    [
      'an edited entry',
      (events: Record<string, unknown>[]) => ((events[2] as { actor: string }).actor = 'someone else'),
      3,
      /content does not match its hash/,
    ],
    [
      'a deleted entry',
      (events: Record<string, unknown>[]) => events.splice(2, 1),
      3,
      /expected seq 3 but found 4/,
    ],
    [
      'two entries swapped',
      (events: Record<string, unknown>[]) => events.splice(1, 2, events[2] as never, events[1] as never),
      2,
      /expected seq 2 but found 3/,
    ],
    [
      'an inserted entry',
      (events: Record<string, unknown>[]) =>
        events.splice(2, 0, { ...(events[1] as object), actor: 'forger' }),
      3,
      /expected seq 3 but found 2/,
    ],
  ])('names the first bad seq for %s', async (_label, edit, seq, reason) => {
    const { dataDir, eventsDir } = await filled()
    const file = editSegment(eventsDir, 0, edit)
    const report = await verifyLedger(await reopen(dataDir))
    expect(report.ok).toBe(false)
    expect(report.firstBad).toMatchObject({ seq, file })
    expect(report.firstBad?.reason).toMatch(reason)
  })

  it('catches a re-hashed forgery through the broken link to the next entry', async () => {
    const { dataDir, eventsDir } = await filled()
    editSegment(eventsDir, 0, (events) => {
      const event = events[2] as Parameters<typeof hashEvent>[0] & { hash: string }
      event.actor = 'forger'
      event.hash = hashEvent(event)
    })
    const report = await verifyLedger(await reopen(dataDir))
    expect(report.firstBad).toMatchObject({ seq: 4, reason: expect.stringMatching(/prevHash/) })
  })

  it('refuses to open a ledger whose last segment was cut, naming the file', async () => {
    const { dataDir, eventsDir } = await filled()
    const last = readdirSync(eventsDir).sort().length - 1
    const file = editSegment(eventsDir, last, (events) => events.pop())
    await expect(reopen(dataDir)).rejects.toMatchObject({ code: 'CORRUPT', details: { file } })
  })

  it('reports a stored state that disagrees with the audit log', async () => {
    const { dataDir } = await filled()
    const state = path.join(dataDir, 'ledger', 'state')
    const name = readdirSync(state).find((f) => f.startsWith('requests-0000.')) as string
    const shard = path.join(state, name)
    writeFileSync(
      shard,
      readFileSync(shard, 'utf8').replace('"status":"identity-verified"', '"status":"completed"'),
    )
    // Read as it lies: a writer opening it would rebuild the projection from the events (and log that).
    const report = await verifyLedgerFiles(path.join(dataDir, 'ledger'))
    expect(report.ok).toBe(false)
    expect(report.firstBad).toBeNull()
    expect(report.stateMismatches).toEqual([
      `${name} was changed after it was written`,
      "RTBF-2026-0001's stored state differs from its audit events",
    ])
  })
})

describe('damaged files at start', () => {
  it('answers CORRUPT with the backups, changes nothing, and restores a backup on request', async () => {
    const dataDir = tempDir('lethe-ledger-')
    const service = new LedgerService(dataDir, { now: clock(), flushDelayMs: 5, keyProtector: testKeys })
    const handlers = service.handlers()
    const ctx = { transport: 'cli' } as const
    await handlers['requests.create']({ ...requestInput(), channel: 'email' }, ctx)
    await service.close()
    const eventsDir = path.join(dataDir, 'ledger', 'events')
    const file = path.join(eventsDir, readdirSync(eventsDir).sort().at(-1) as string)
    const damaged = readFileSync(file, 'utf8').slice(0, 200)
    writeFileSync(file, damaged)

    const again = new LedgerService(dataDir, { now: clock(), keyProtector: testKeys })
    const list = again.handlers()['requests.list']
    const error = await list({ sort: 'id', order: 'asc', offset: 0, limit: 10 }, ctx).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'CORRUPT',
      message: expect.stringMatching(/not valid JSON.*Nothing was changed.*restore it/s),
    })
    const backups = (error as { details: { backups: { id: string }[] } }).details.backups
    expect(backups.length).toBe(1)
    expect(readFileSync(file, 'utf8')).toBe(damaged)
    const status = await again.handlers()['ledger.status']({}, ctx)
    expect(status.damage?.file).toBe(file)

    const restored = await again.handlers()['ledger.restore']({ backupId: backups[0]?.id as string }, ctx)
    expect(readFileSync(path.join(restored.movedAside, 'events', path.basename(file)), 'utf8')).toBe(damaged)
    const ledger = await reopen(dataDir)
    expect((await verifyLedger(ledger)).ok).toBe(true)
  })

  it('refuses a ledger written by a newer Lethe', async () => {
    const { dataDir } = await filled(1)
    const meta = path.join(dataDir, 'ledger', 'meta.json')
    writeFileSync(meta, readFileSync(meta, 'utf8').replace(/"schemaVersion":\d+/, '"schemaVersion":99'))
    await expect(reopen(dataDir)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/newer Lethe/),
    })
  })
})

describe('one writer', () => {
  it('refuses a second writer with LOCKED, and lets readers in', async () => {
    const { ledger, dataDir } = await openLedger()
    open.push(ledger)
    await ledger.create([requestInput()], 'o')
    await expect(Ledger.open(dataDir, { keyProtector: testKeys })).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringMatching(/pid \d+/),
    })
    await ledger.storage.flush()
    const reader = await Ledger.open(dataDir, { readOnly: true, now: clock() })
    expect(reader.state.requests.size).toBe(1)
    await expect(reader.create([requestInput()], 'o')).rejects.toMatchObject({ code: 'LOCKED' })
    await reader.close()
  })
})

describe('data minimisation', () => {
  it('erases personal data after the retention period, keeps the salted hash, and the chain still verifies', async () => {
    const { ledger, dataDir } = await openLedger()
    open.push(ledger)
    const file = path.join(dataDir, 'scan.txt')
    writeFileSync(file, 'passport')
    const [old, recent] = (await ledger.create(
      [
        requestInput({ received: '2026-01-02', note: 'Jane called' }),
        requestInput({ received: '2026-03-01' }),
      ],
      'o',
    )) as [string, string]
    await ledger.attach({ id: old, path: file }, 'o')
    await ledger.transition(
      { id: old, to: 'rejected', exemption: 'Art. 12(5)', reason: 'manifestly unfounded', on: '2026-02-01' },
      'o',
    )
    await ledger.transition(
      { id: recent, to: 'rejected', exemption: 'Art. 12(5)', reason: 'duplicate', on: '2026-03-09' },
      'o',
    )

    expect(await ledger.applyRetention()).toEqual([old])
    expect(await ledger.applyRetention()).toEqual([])
    await ledger.storage.flush()
    const personal = readFileSync(path.join(dataDir, 'ledger', 'personal', 'personal-0000.json'), 'utf8')
    expect(personal).not.toContain('"RTBF-2026-0001"')
    expect(personal).toContain('"RTBF-2026-0002"')
    expect(existsSync(path.join(dataDir, 'ledger', 'attachments', old))).toBe(false)

    const view = await ledger.view(old, true)
    expect(view).toMatchObject({
      requester: null,
      redactedOn: '2026-03-10',
      subjectIds: [{ type: 'customer-id', value: null }],
    })
    expect(view.attachments[0]?.sha256).toMatch(/^[0-9a-f]{64}$/)
    const [repeat] = (await ledger.create([requestInput()], 'o')) as [string]
    expect((await ledger.view(repeat)).possibleDuplicates).toContain(old)
    await expect(ledger.addNote({ id: old, text: 'x' }, 'o')).rejects.toMatchObject({ code: 'CONFLICT' })
    expect((await verifyLedger(ledger)).ok).toBe(true)
    expect(ledger.state.work.size).toBe(0)
  })
})

describe('CSV import', () => {
  const header = 'name,email,subject_ids,jurisdiction,received,note'

  it('imports every row of a good file', async () => {
    const { ledger } = await openLedger()
    open.push(ledger)
    const inputs = parseRequestsCsv(
      `${header}\n"Doe, Jane",jane@example.com,customer-id:C-1; email:jane@example.com,gdpr,2026-03-01,"said ""please"""\nBob,,account:77,ccpa,2026-02-20,\n`,
      '2026-03-10',
    )
    const ids = await ledger.create(inputs, 'importer')
    expect(ids).toEqual(['RTBF-2026-0001', 'RTBF-2026-0002'])
    const jane = await ledger.view('RTBF-2026-0001', true)
    expect(jane.requester?.name).toBe('Doe, Jane')
    expect(jane.subjectIds.map((s) => s.value)).toEqual(['C-1', 'jane@example.com'])
    expect(jane.notes[0]?.text).toBe('said "please"')
  })

  it('imports nothing when any row is bad, and names each bad row and column', async () => {
    const text = [
      header,
      'Ann,ann@example.com,customer-id:1,gdpr,2026-03-01,',
      'Ben,not-an-email,customer-id:2,gdpr,2026-03-01,',
      'Cy,cy@example.com,passport 9,gdpr,2026-03-01,',
      'Di,di@example.com,customer-id:4,mars,2026-02-30,',
      'Ed,ed@example.com,customer-id:5,gdpr,2026-04-01,',
    ].join('\n')
    let error: unknown
    try {
      parseRequestsCsv(text, '2026-03-10')
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/^Nothing was imported: line 3, column email/),
    })
    const rows = (error as { details: { errors: { line: number; column: string }[] } }).details.errors
    expect(rows.map((r) => [r.line, r.column])).toEqual([
      [3, 'email'],
      [4, 'subject_ids'],
      [5, 'jurisdiction'],
      [5, 'received'],
      [6, 'received'],
    ])
  })

  it('reports a malformed file and an unknown column', async () => {
    expect(() => parseRequestsCsv(`${header}\nAnn,"unterminated,x,gdpr,2026-03-01,`, '2026-03-10')).toThrow(
      /line 2, column #5/,
    )
    expect(() => parseRequestsCsv(`${header},shoe_size\n`, '2026-03-10')).toThrow(/shoe_size: unknown column/)
  })

  it('goes through the service: a bad import leaves the ledger as it was', async () => {
    const dataDir = tempDir('lethe-ledger-')
    const service = new LedgerService(dataDir, { now: clock(), flushDelayMs: 5, keyProtector: testKeys })
    const h = service.handlers()
    const ctx = { transport: 'cli' } as const
    await h['requests.import'](
      { csv: `${header}\nAnn,ann@example.com,customer-id:1,gdpr,2026-03-01,\n` },
      ctx,
    )
    const before = (await service.ledger()).state.seq
    await expect(
      h['requests.import']({ csv: `${header}\nBen,x,customer-id:2,gdpr,2026-03-01,\n` }, ctx),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
    expect((await service.ledger()).state.seq).toBe(before)
    await service.close()
  })
})

describe('whole-ledger export and import', () => {
  it('moves a ledger to another data folder with its chain, keys and personal data', async () => {
    const { ledger, dataDir } = await openLedger({ segmentEvents: 4 })
    open.push(ledger)
    const [id] = (await ledger.create([requestInput({ note: 'keep me' })], 'o')) as [string]
    await ledger.transition({ id, to: 'identity-verified', method: 'm' }, 'o')
    const file = path.join(dataDir, 'export.json')
    await exportLedger(ledger, file)

    const target = tempDir('lethe-import-')
    expect(await importLedger(target, file, await testKeys(), 4)).toEqual({
      events: ledger.state.seq,
      requests: 1,
    })
    const copy = await Ledger.open(target, { now: clock(), segmentEvents: 4, keyProtector: testKeys })
    open.push(copy)
    expect(copy.head()).toEqual(ledger.head())
    expect((await verifyLedger(copy)).ok).toBe(true)
    expect((await copy.view(id, true)).notes[0]?.text).toBe('keep me')
    const [next] = await copy.create([requestInput()], 'o')
    expect(next).toBe('RTBF-2026-0002')
    expect((await copy.view(next as string)).possibleDuplicates).toEqual([id])

    await expect(importLedger(target, file, await testKeys())).rejects.toMatchObject({
      code: expect.stringMatching(/CONFLICT|LOCKED/),
    })
  })

  it('refuses a tampered export before touching anything', async () => {
    const { ledger, dataDir } = await openLedger()
    open.push(ledger)
    await ledger.create([requestInput()], 'o')
    const file = path.join(dataDir, 'export.json')
    await exportLedger(ledger, file)
    writeFileSync(file, readFileSync(file, 'utf8').replace('"actor":"o"', '"actor":"x"'))
    const target = tempDir('lethe-import-')
    await expect(importLedger(target, file, await testKeys())).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/seq 2/),
    })
    expect(existsSync(path.join(target, 'ledger'))).toBe(false)
    writeFileSync(file, '{"format":"something else"}')
    await expect(importLedger(target, file, await testKeys())).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/not a Lethe ledger export/),
    })
  })
})
