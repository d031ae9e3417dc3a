import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { allEvents } from '../../electron/ledger/audit'
import { verifyLedger } from '../../electron/ledger/verify'
import type { Ledger } from '../../electron/ledger/ledger'
import { openLedger, requestInput } from '../support/ledger'

let ledger: Ledger | undefined
afterEach(async () => {
  await ledger?.close()
  ledger = undefined
})

async function fresh() {
  const opened = await openLedger()
  ledger = opened.ledger
  return opened
}

const types = async (l: Ledger) => (await allEvents(l)).map((e) => e.type)

describe('creating a request', () => {
  it('gives a yearly human id, the jurisdiction’s deadlines, and keeps personal data out of the chain', async () => {
    const { ledger: l, dataDir } = await fresh()
    const [first, second] = await l.create(
      [requestInput(), requestInput({ received: '2026-01-31', requester: { name: 'Ana Lima' } })],
      'officer',
    )
    expect([first, second]).toEqual(['RTBF-2026-0001', 'RTBF-2026-0002'])
    const view = await l.view('RTBF-2026-0002')
    expect(view.deadline.dueDate).toBe('2026-03-02') // 28 Feb 2026 is a Saturday
    expect(view.deadline.extensionNoticeBy).toBe('2026-03-02')
    expect(view.legalBasis).toBe('gdpr-art-17')
    expect(view.requester?.name).toBe('A** L***')

    await l.close()
    ledger = undefined
    const chain = readFileSync(path.join(dataDir, 'ledger', 'events', 'events-000000000001.json'), 'utf8')
    expect(chain).not.toContain('Jane')
    expect(chain).not.toContain('jane.doe@example.com')
    expect(chain).not.toContain('C-1001')
  })

  it('refuses a receipt date in the future', async () => {
    const { ledger: l } = await fresh()
    await expect(l.create([requestInput({ received: '2026-03-11' })], 'officer')).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
    expect(l.state.requests.size).toBe(0)
  })

  it('flags a repeat request from the same person through the salted hash', async () => {
    const { ledger: l } = await fresh()
    await l.create([requestInput()], 'officer')
    const [again] = await l.create(
      [
        requestInput({
          requester: { name: 'J. Doe', email: 'JANE.DOE@example.com' },
          subjectIds: [{ type: 'phone', value: '1' }],
        }),
      ],
      'officer',
    )
    expect((await l.view(again as string)).possibleDuplicates).toEqual(['RTBF-2026-0001'])
  })
})

describe('the workflow state machine', () => {
  it('walks received → identity verified → in progress → completed, one audit event per step', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput()], 'officer')) as [string]
    await l.transition({ id, to: 'identity-verified', method: 'e-mail link' }, 'officer')
    await l.transition({ id, to: 'in-progress' }, 'engineer')
    await l.transition({ id, to: 'completed', on: '2026-03-09' }, 'engineer')
    const view = await l.view(id)
    expect(view.status).toBe('completed')
    expect(view.identity).toEqual({ status: 'verified', method: 'e-mail link', on: '2026-03-10' })
    expect(view.decision).toEqual({ kind: 'erase' })
    expect(view.closedOn).toBe('2026-03-09')
    expect(view.allowedTransitions).toEqual(['in-progress'])
    expect(await types(l)).toEqual([
      'ledger.created',
      'request.created',
      'request.transitioned',
      'request.transitioned',
      'request.transitioned',
    ])
  })

  it('refuses an illegal move, names the allowed ones, and logs the refusal', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput()], 'officer')) as [string]
    await expect(l.transition({ id, to: 'completed' }, 'intern')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('it can move to: identity-verified, rejected, on-hold'),
      details: { allowed: ['identity-verified', 'rejected', 'on-hold'] },
    })
    const events = await allEvents(l)
    expect(events.at(-1)).toMatchObject({
      type: 'request.refused',
      actor: 'intern',
      payload: { to: 'completed' },
    })
    expect((await l.view(id)).status).toBe('received')
  })

  it('needs a method, an exemption and a reason, or a hold reason, where the step calls for one', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput()], 'officer')) as [string]
    await expect(l.transition({ id, to: 'identity-verified' }, 'o')).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
    await expect(l.transition({ id, to: 'rejected', reason: 'x' }, 'o')).rejects.toThrow(/exemption/)
    await expect(l.transition({ id, to: 'on-hold' }, 'o')).rejects.toThrow(/reason for the hold/)
    expect(l.state.seq).toBe(2) // nothing was appended
  })

  it('holds and resumes to where it was, rejects with the exemption cited, and reopens', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput()], 'officer')) as [string]
    await l.transition({ id, to: 'identity-verified', method: 'passport' }, 'o')
    await l.transition({ id, to: 'on-hold', reason: 'legal hold' }, 'o')
    let view = await l.view(id)
    expect(view.allowedTransitions).toEqual(['identity-verified', 'rejected'])
    expect(view.holdReason).toBe('legal hold')
    await expect(l.transition({ id, to: 'in-progress' }, 'o')).rejects.toMatchObject({ code: 'CONFLICT' })
    await l.transition({ id, to: 'identity-verified' }, 'o')
    await l.transition(
      { id, to: 'rejected', exemption: 'GDPR Art. 17(3)(e)', reason: 'needed for a pending claim' },
      'o',
    )
    view = await l.view(id)
    expect(view.decision).toEqual({
      kind: 'reject',
      exemption: 'GDPR Art. 17(3)(e)',
      reason: 'needed for a pending claim',
    })
    expect(view.closedOn).toBe('2026-03-10')
    await expect(l.transition({ id, to: 'received' }, 'o')).rejects.toThrow(/reason for reopening/)
    await l.transition({ id, to: 'received', reason: 'the claim was dropped' }, 'o')
    view = await l.view(id)
    expect([view.status, view.decision, view.closedOn]).toEqual(['received', null, null])
  })
})

describe('deadlines on requests', () => {
  it('extends a GDPR request once, within the first month, to three months from receipt', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput({ received: '2026-01-31' })], 'o')) as [string]
    await l.extend({ id, reason: 'complex: 14 systems', noticeDate: '2026-03-02' }, 'o')
    const view = await l.view(id)
    expect(view.deadline.dueDate).toBe('2026-04-30')
    expect(view.deadline.extension).toEqual({
      reason: 'complex: 14 systems',
      noticeDate: '2026-03-02',
      dueDate: '2026-04-30',
    })
    await expect(l.extend({ id, reason: 'again', noticeDate: '2026-03-02' }, 'o')).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    expect((await allEvents(l)).at(-1)?.type).toBe('request.refused')
  })

  it('refuses an extension notified after the first month', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput({ received: '2026-01-31' })], 'o')) as [string]
    await expect(l.extend({ id, reason: 'late', noticeDate: '2026-03-03' }, 'o')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('2026-03-02'),
    })
    expect((await l.view(id)).deadline.extension).toBeNull()
  })

  it('counts CCPA from receipt, with a 10-business-day acknowledgement', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput({ jurisdiction: 'ccpa', received: '2026-02-27' })], 'o')) as [
      string,
    ]
    const view = await l.view(id)
    expect(view.legalBasis).toBe('ccpa-1798-105')
    expect(view.deadline.acknowledgeBy).toBe('2026-03-13')
    expect(view.deadline.dueDate).toBe('2026-04-13')
    await l.acknowledge({ id, on: '2026-03-03' }, 'o')
    expect((await l.view(id)).deadline.acknowledgedOn).toBe('2026-03-03')
  })

  it('uses the configured holidays and flags due-soon and overdue requests in the summary', async () => {
    const { ledger: l } = await fresh()
    await l.settings({ holidays: ['2026-03-16'] }, 'admin')
    await l.create(
      [
        requestInput({ received: '2026-02-14' }), // due Sat 14 Mar → Mon 16 Mar is a holiday → Tue 17 Mar
        requestInput({ received: '2026-02-05' }), // due Thu 5 Mar: overdue
        requestInput({ received: '2026-03-01' }),
      ],
      'o',
    )
    expect((await l.view('RTBF-2026-0001')).deadline).toMatchObject({
      dueDate: '2026-03-17',
      daysLeft: 7,
      dueSoon: true,
    })
    expect((await l.view('RTBF-2026-0002')).deadline).toMatchObject({ overdue: true, daysLeft: -5 })
    await l.transition(
      { id: 'RTBF-2026-0003', to: 'rejected', exemption: 'identity', reason: 'not verified' },
      'o',
    )
    expect(l.summary()).toMatchObject({
      open: 2,
      dueWithin7Days: 1,
      overdue: 1,
      closedThisMonth: 1,
      medianDaysToClose: 9,
    })
  })
})

describe('lists', () => {
  it('filters, searches by exact identifier, sorts and pages, with personal data masked', async () => {
    const { ledger: l } = await fresh()
    await l.create(
      [
        requestInput({ received: '2026-03-01', subjectIds: [{ type: 'email', value: 'a@x.io' }] }),
        requestInput({ received: '2026-02-20', jurisdiction: 'ccpa', assignee: 'Priya' }),
        requestInput({ received: '2026-03-05', jurisdiction: 'lgpd' }),
      ],
      'o',
    )
    const base = { sort: 'received', order: 'asc', offset: 0, limit: 50 } as const
    expect((await l.list({ ...base })).items.map((r) => r.id)).toEqual([
      'RTBF-2026-0002',
      'RTBF-2026-0001',
      'RTBF-2026-0003',
    ])
    expect((await l.list({ ...base, jurisdiction: ['ccpa', 'lgpd'] })).total).toBe(2)
    expect((await l.list({ ...base, search: 'A@X.IO' })).items.map((r) => r.id)).toEqual(['RTBF-2026-0001'])
    expect((await l.list({ ...base, search: 'priya' })).items.map((r) => r.id)).toEqual(['RTBF-2026-0002'])
    const page = await l.list({ ...base, order: 'desc', offset: 1, limit: 1 })
    expect([page.total, page.items.map((r) => r.id)]).toEqual([3, ['RTBF-2026-0001']])
    expect(page.items[0]?.requester).toEqual({ name: 'J*** D**', email: 'j***@e***.com', otherContact: null })
    expect(page.items[0]?.revealed).toBe(false)
  })

  it('reveals personal data only on request, and logs that it did', async () => {
    const { ledger: l } = await fresh()
    const [id] = (await l.create([requestInput({ note: 'called twice' })], 'o')) as [string]
    const shown = await l.view(id, true, 'auditor')
    expect(shown.requester?.email).toBe('jane.doe@example.com')
    expect(shown.notes[0]?.text).toBe('called twice')
    expect((await allEvents(l)).at(-1)).toMatchObject({ type: 'request.revealed', actor: 'auditor' })
  })
})

describe('concurrent writes', () => {
  it('loses no update when many calls race: one queue, contiguous sequence, a valid chain', async () => {
    const { ledger: l } = await fresh()
    const ids = (await Promise.all(Array.from({ length: 40 }, () => l.create([requestInput()], 'o')))).flat()
    expect(new Set(ids).size).toBe(40)
    await Promise.all(
      ids.flatMap((id) => [
        l.addNote({ id, text: `note for ${id}` }, 'o'),
        l.transition({ id, to: 'identity-verified', method: 'm' }, 'o'),
        l.update({ id, assignee: 'Sam' }, 'o'),
      ]),
    )
    const events = await allEvents(l)
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 1 + 40 * 4 }, (_, i) => i + 1))
    for (const id of ids) {
      const view = await l.view(id, true)
      expect([view.status, view.assignee, view.notes[0]?.text]).toEqual([
        'identity-verified',
        'Sam',
        `note for ${id}`,
      ])
    }
    expect((await verifyLedger(l)).ok).toBe(true)
  })
})

describe('attachments and links', () => {
  it('copies an attachment, records its SHA-256, and links models, runs and certificates', async () => {
    const { ledger: l, dataDir } = await fresh()
    const [id] = (await l.create([requestInput()], 'o')) as [string]
    const file = path.join(dataDir, 'id-scan.txt')
    writeFileSync(file, 'passport page')
    await l.attach({ id, path: file }, 'o')
    await l.link({ id, kind: 'models', target: 'model-7' }, 'o')
    const view = await l.view(id, true)
    expect(view.attachments[0]).toMatchObject({
      name: 'id-scan.txt',
      bytes: 13,
      mediaType: 'text/plain',
      sha256: createHash('sha256').update('passport page').digest('hex'),
    })
    expect(view.links.models).toEqual(['model-7'])
    await expect(l.attach({ id, path: path.join(dataDir, 'missing.pdf') }, 'o')).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
  })

  it('takes an upload by name and bytes, gives it back, and refuses to give back a changed file', async () => {
    const { ledger: l, dataDir } = await fresh()
    const [id] = (await l.create([requestInput()], 'o')) as [string]
    const bytes = new TextEncoder().encode('%PDF-1.7 signed consent form')
    await l.attach({ id, name: '../../consent.pdf', content: bytes }, 'o')
    const [attachment] = (await l.view(id, true)).attachments
    // Only the base name is kept: an upload's name never becomes a path.
    expect(attachment).toMatchObject({
      name: 'consent.pdf',
      mediaType: 'application/pdf',
      bytes: bytes.length,
    })
    const read = await l.attachment(id, attachment?.id as string)
    expect(new Uint8Array(read.content)).toEqual(bytes)
    writeFileSync(path.join(dataDir, 'ledger', 'attachments', id, attachment?.id as string), 'forged')
    await expect(l.attachment(id, attachment?.id as string)).rejects.toMatchObject({
      code: 'CORRUPT',
      message: expect.stringMatching(/changed after it was attached/),
    })
    await expect(l.attachment(id, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })
})

describe('the registry and write-ahead erasure work', () => {
  it('registers datasets and models with their lineage, once per content hash', async () => {
    const { ledger: l } = await fresh()
    const hash = 'a'.repeat(64)
    await l.register(
      {
        id: 'ds-1',
        kind: 'dataset',
        name: 'patients',
        version: '1',
        contentHash: hash,
        parentId: null,
        datasetId: null,
        method: null,
        requestId: null,
      },
      'engine',
    )
    const model = {
      id: 'm-2',
      kind: 'model' as const,
      name: 'logreg',
      version: '2',
      contentHash: 'b'.repeat(64),
      parentId: 'm-1',
      datasetId: 'ds-1',
      method: 'retrain',
      requestId: 'RTBF-2026-0001',
    }
    await l.register(model, 'engine')
    await l.register(model, 'engine') // the same again is a no-op
    expect([...l.state.registry.values()].map((e) => [e.id, e.parentId, e.datasetId])).toEqual([
      ['ds-1', null, null],
      ['m-2', 'm-1', 'ds-1'],
    ])
    await expect(l.register({ ...model, contentHash: 'c'.repeat(64) }, 'engine')).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    expect((await types(l)).filter((t) => t === 'registry.registered')).toHaveLength(2)
  })

  it('finds work that was started and never finished when the ledger opens again', async () => {
    const { ledger: l, dataDir } = await fresh()
    const [id] = (await l.create([requestInput()], 'o')) as [string]
    const done = await l.beginWork('unlearning', id, 'engine')
    await l.finishWork(done, 'completed', null, 'engine')
    await l.beginWork('unlearning', id, 'engine') // the process dies here
    await l.close()
    ledger = undefined
    const { ledger: again } = await openLedger({ dataDir })
    ledger = again
    expect([...again.state.work.values()]).toEqual([
      expect.objectContaining({ kind: 'unlearning', requestId: id }),
    ])
  })
})
