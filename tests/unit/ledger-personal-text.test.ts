import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { dispatch, type Handlers } from '../../electron/contract/dispatch'
import { LedgerService } from '../../electron/ledger/service'
import { clock, openLedger, requestInput, testKeys } from '../support/ledger'
import { tempDir } from '../support/fixtures'

/** A name no one has: wherever it turns up, it was put there by this test. */
const MARK = `Zebulon Quixhatch-${randomUUID().slice(0, 8)}`
/** The text typed into one field, each different, all naming the marked person. */
const typed = (field: string) => `${field}: asked by ${MARK}`

const services: LedgerService[] = []
afterEach(async () => {
  for (const service of services.splice(0)) await service.close()
})

function open(dataDir: string) {
  const service = new LedgerService(dataDir, { now: clock(), flushDelayMs: 5, keyProtector: testKeys })
  services.push(service)
  const handlers = service.handlers() as unknown as Handlers
  const call = async <T>(method: string, input: unknown): Promise<T> => {
    const result = await dispatch(handlers, method, input, { transport: 'cli' })
    if (!result.ok) throw Object.assign(new Error(result.error.message), result.error)
    return result.value as T
  }
  return { service, call }
}

type View = Output<'requests.create'>
type Got = Output<'requests.get'>

/** Every file under `folder` whose bytes hold `text`, by path. */
function filesHolding(folder: string, text: string): string[] {
  if (!existsSync(folder)) return []
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name)
    if (statSync(file).isDirectory()) return filesHolding(file, text)
    return readFileSync(file, 'utf8').includes(text) ? [file] : []
  })
}

describe('free text a person types', () => {
  it('stays out of the chain and the projection, reads back through the API, and is erased at retention', async () => {
    const dataDir = tempDir('lethe-personal-text-')
    const { service, call } = open(dataDir)
    const given: string[] = []
    const type = (field: string) => {
      given.push(typed(field))
      return typed(field)
    }

    const created = await call<View>('requests.create', {
      requester: { name: MARK, otherContact: type('other contact') },
      subjectIds: [{ type: 'other', value: MARK }],
      jurisdiction: 'gdpr',
      received: '2026-03-02',
      ground: type('ground'),
      assignee: type('assignee'),
      note: type('note'),
    })
    const id = created.id
    expect([created.ground, created.assignee]).toEqual([typed('ground'), typed('assignee')])
    const updated = await call<View>('requests.update', {
      id,
      assignee: type('new assignee'),
      ground: type('new ground'),
    })
    expect([updated.ground, updated.assignee]).toEqual([typed('new ground'), typed('new assignee')])

    const held = await call<View>('requests.transition', { id, to: 'on-hold', reason: type('hold') })
    expect(held.holdReason).toBe(typed('hold'))
    await call('requests.transition', { id, to: 'received', reason: type('resume') })
    const verified = await call<View>('requests.transition', {
      id,
      to: 'identity-verified',
      method: type('identity method'),
    })
    expect(verified.identity.method).toBe(typed('identity method'))
    const extended = await call<View>('requests.extend', { id, reason: type('extension') })
    expect(extended.deadline.extension?.reason).toBe(typed('extension'))
    await call('requests.addNote', { id, text: type('second note') })
    await call('requests.attach', {
      id,
      name: `${MARK}.txt`,
      contentBase64: Buffer.from('scan').toString('base64'),
      mediaType: 'text/plain',
    })
    await call('requests.acknowledge', { id })
    await call('requests.transition', { id, to: 'in-progress' })
    const rejected = await call<View>('requests.transition', {
      id,
      to: 'rejected',
      exemption: type('exemption'),
      reason: type('rejection'),
    })
    expect(rejected.decision).toEqual({
      kind: 'reject',
      exemption: typed('exemption'),
      reason: typed('rejection'),
    })
    await call('requests.transition', { id, to: 'received', reason: type('reopening') })
    await call('requests.transition', { id, to: 'identity-verified', method: type('second method') })
    await call('requests.transition', { id, to: 'in-progress' })
    await call('requests.transition', { id, to: 'completed', reason: type('completion') })

    const csv = [
      'name,other_contact,subject_ids,jurisdiction,ground,received,assignee,note',
      `${MARK},${type('imported contact')},customer-id:Z-1,gdpr,${type('imported ground')},2026-03-03,${type('imported assignee')},${type('imported note')}`,
    ].join('\n')
    const { imported } = await call<Output<'requests.import'>>('requests.import', { csv })
    const importedId = imported[0] as string
    await call('requests.transition', {
      id: importedId,
      to: 'rejected',
      exemption: type('imported exemption'),
      reason: type('imported rejection'),
    })
    const ledger = await service.ledger()
    await ledger.backup() // holds every text: retention must reach into it too
    await ledger.exclusive(async () => undefined) // the projection is on disk

    // None of it is in the chain or the projection: only in the personal store.
    const root = path.join(dataDir, 'ledger')
    expect(filesHolding(path.join(root, 'events'), MARK)).toEqual([])
    expect(filesHolding(path.join(root, 'state'), MARK)).toEqual([])
    expect(filesHolding(path.join(root, 'personal'), MARK)).not.toEqual([])

    // The desk still reads every text: the request, its audit trail, the exports.
    const { request, events } = await call<Got>('requests.get', { id, reveal: true })
    expect(request.notes.map((n) => n.text)).toEqual([typed('note'), typed('second note')])
    expect(request.ground).toBe(typed('new ground'))
    const trail = JSON.stringify([events, (await call<Got>('requests.get', { id: importedId })).events])
    const exported = (await call<Output<'ledger.exportEvents'>>('ledger.exportEvents', { format: 'json' }))
      .content
    const shownInTrail = [
      'new assignee',
      'new ground',
      'hold',
      'resume',
      'identity method',
      'extension',
      'exemption',
      'rejection',
      'reopening',
      'second method',
      'completion',
      'imported exemption',
      'imported rejection',
    ].map(typed)
    for (const text of shownInTrail) {
      expect(trail).toContain(text)
      expect(exported).toContain(text)
    }
    const requestsCsv = (await call<Output<'requests.export'>>('requests.export', { format: 'csv' })).content
    expect(requestsCsv).toContain(typed('extension'))
    expect(requestsCsv).toContain(typed('imported exemption'))

    // Verification checks each text against the salted hash the chain holds of it.
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
    const shard = path.join(root, 'personal', 'personal-0000.json')
    const original = readFileSync(shard, 'utf8')
    writeFileSync(shard, original.replace(typed('identity method'), typed('forged method')))
    const tampered = await call<Output<'ledger.verify'>>('ledger.verify', {})
    expect(tampered.ok).toBe(false)
    expect(tampered.stateMismatches).toContainEqual(expect.stringMatching(/text .* was changed/))
    writeFileSync(shard, original)

    // Retention erases them with the rest of the personal data, here and in the backup.
    await call('ledger.settings', { retentionDays: 0 })
    const { redacted } = await call<Output<'ledger.applyRetention'>>('ledger.applyRetention', {})
    expect(redacted.sort()).toEqual([id, importedId].sort())
    const after = await call<Got>('requests.get', { id })
    expect([after.request.ground, after.request.assignee, after.request.holdReason]).toEqual([
      null,
      null,
      null,
    ])
    expect(after.request.identity.method).toBeNull()
    expect(after.request.deadline.extension?.reason).toBeNull()
    const rejectedAfter = await call<Got>('requests.get', { id: importedId })
    expect(rejectedAfter.request.decision).toEqual({ kind: 'reject', exemption: null, reason: null })
    for (const text of given) expect(JSON.stringify([after, rejectedAfter])).not.toContain(text)
    await ledger.exclusive(async () => undefined)
    expect(filesHolding(dataDir, MARK)).toEqual([])
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
  })
})

describe('a ledger written before free text left the chain', () => {
  it('still verifies and shows its texts, and writes no new text in the clear', async () => {
    const old = (field: string) => `${field} (written in the clear)`
    const { ledger, dataDir } = await openLedger()
    const [id] = (await ledger.create([requestInput()], 'desk')) as [string]
    const extendedDueDate = ledger.state.requests.get(id)?.deadlines.extendedDueDate as string
    // Events as an older Lethe wrote them, with the texts in their payloads.
    const on = '2026-03-10'
    await ledger.storage.append('desk', [
      {
        type: 'request.updated',
        requestId: id,
        payload: { changes: { assignee: old('assignee'), ground: old('ground') } },
      },
      {
        type: 'request.transitioned',
        requestId: id,
        payload: {
          from: 'received',
          to: 'identity-verified',
          on,
          reason: null,
          method: old('method'),
          exemption: null,
        },
      },
      {
        type: 'request.extended',
        requestId: id,
        payload: { reason: old('extension'), noticeDate: on, dueDate: extendedDueDate },
      },
      {
        type: 'request.transitioned',
        requestId: id,
        payload: {
          from: 'identity-verified',
          to: 'rejected',
          on,
          reason: old('rejection'),
          method: null,
          exemption: old('exemption'),
        },
      },
    ])
    await ledger.close()
    // As an older Lethe left it: schema 1, and a projection this one rebuilds from the events.
    const meta = path.join(dataDir, 'ledger', 'meta.json')
    writeFileSync(meta, readFileSync(meta, 'utf8').replace(/"schemaVersion":\d+/, '"schemaVersion":1'))
    rmSync(path.join(dataDir, 'ledger', 'state'), { recursive: true })

    const { call } = open(dataDir)
    const { request, events } = await call<Got>('requests.get', { id })
    expect(request.assignee).toBe(old('assignee'))
    expect(request.ground).toBe(old('ground'))
    expect(request.identity.method).toBe(old('method'))
    expect(request.deadline.extension?.reason).toBe(old('extension'))
    expect(request.decision).toEqual({
      kind: 'reject',
      exemption: old('exemption'),
      reason: old('rejection'),
    })
    expect(JSON.stringify(events)).toContain(old('rejection'))
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)

    // A new text in the old ledger goes to the personal store like any other.
    const reopened = await call<View>('requests.transition', {
      id,
      to: 'received',
      reason: typed('reopening an old request'),
    })
    expect(reopened.status).toBe('received')
    const after = await call<Got>('requests.get', { id })
    expect(JSON.stringify(after.events)).toContain(typed('reopening an old request'))
    expect(filesHolding(path.join(dataDir, 'ledger', 'events'), MARK)).toEqual([])
    expect(filesHolding(path.join(dataDir, 'ledger', 'events'), old('rejection'))).not.toEqual([])
    expect((await call<Output<'ledger.verify'>>('ledger.verify', {})).ok).toBe(true)
  })
})
