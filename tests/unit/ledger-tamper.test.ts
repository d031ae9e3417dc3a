/**
 * What a local administrator without the passphrase can and cannot do to the ledger: each case
 * is an attack an outside adversarial test found, and the way it is now caught.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { exportLedger } from '../../electron/ledger/audit'
import { MAX_IMPORT_ROWS, parseRequestsCsv } from '../../electron/ledger/csv-import'
import { hashEvent, signHead } from '../../electron/ledger/chain'
import { Ledger } from '../../electron/ledger/ledger'
import { LedgerService } from '../../electron/ledger/service'
import { verifyLedger, verifyLedgerFiles } from '../../electron/ledger/verify'
import { keyFingerprint } from '../../electron/lib/digest'
import { passphraseProtector } from '../../electron/lib/key-protector'
import { readableByOthers, tempDir } from '../support/fixtures'
import { clock, openLedger, requestInput, testKeys } from '../support/ledger'

const folders: string[] = []
const open: Ledger[] = []
afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => undefined)
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true })
})

async function fresh(options: Parameters<typeof openLedger>[0] = {}) {
  const { ledger, dataDir } = await openLedger(options)
  open.push(ledger)
  folders.push(dataDir)
  return { ledger, dataDir, root: path.join(dataDir, 'ledger') }
}

const reopen = async (dataDir: string, options: Parameters<typeof Ledger.open>[1] = {}) => {
  const ledger = await Ledger.open(dataDir, {
    now: clock(),
    flushDelayMs: 5,
    keyProtector: testKeys,
    ...options,
  })
  open.push(ledger)
  return ledger
}

const closeAll = async () => {
  for (const l of open.splice(0)) await l.close()
}

const checkpointOf = (root: string) =>
  JSON.parse(readFileSync(path.join(root, 'state', 'checkpoint.json'), 'utf8')) as {
    appliedSeq: number
    files: Record<string, string>
  }

/** A request taken to in-progress: the step before an erasure can be certified. */
async function inProgress(ledger: Ledger) {
  const [id] = (await ledger.create([requestInput({ note: 'called on Monday' })], 'officer')) as [string]
  await ledger.transition({ id, to: 'identity-verified', method: 'passport seen' }, 'officer')
  await ledger.transition({ id, to: 'in-progress' }, 'officer')
  await ledger.link({ id, kind: 'models', target: 'm-0123456789ab' }, 'engineer')
  return id
}

describe('the projection beside the chain', () => {
  it('is not trusted when edited: a request the chain says is open is never certified', async () => {
    const { ledger, dataDir, root } = await fresh()
    const id = await inProgress(ledger)
    await closeAll()
    // The attacker marks the request completed in its projection shard.
    const shard = Object.keys(checkpointOf(root).files).find((f) => f.startsWith('requests-')) as string
    const file = path.join(root, 'state', shard)
    writeFileSync(file, readFileSync(file, 'utf8').replace('"status":"in-progress"', '"status":"completed"'))

    const report = await verifyLedgerFiles(root)
    expect(report.ok).toBe(false)
    expect(report.stateMismatches).toContain(`${shard} was changed after it was written`)

    const again = await reopen(dataDir)
    expect(again.state.requests.get(id)?.status).toBe('in-progress') // rebuilt from the events
    let made = false
    await expect(
      again.certify(id, 'officer', async () => {
        made = true
        return { manifestSha256: '0'.repeat(64), pdfSha256: '0'.repeat(64) }
      }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/in-progress/) })
    expect(made).toBe(false)
    // The rebuild is on the record, and the ledger verifies again.
    const types = (await again.storage.readEvents([...Array(again.state.seq).keys()].map((i) => i + 1))).map(
      (e) => e.type,
    )
    expect(types).toContain('ledger.repaired')
    expect((await verifyLedger(again)).ok).toBe(true)
  })

  it('is verified at the checkpoint’s seq, so a ledger read right after a crash verifies', async () => {
    const { ledger, root } = await fresh({ flushDelayMs: 60_000 })
    await inProgress(ledger)
    // Appended, never flushed: what a kill leaves. The checkpoint still names the older projection.
    expect(checkpointOf(root).appliedSeq).toBeLessThan(ledger.state.seq)
    const report = await verifyLedgerFiles(root)
    expect(report).toMatchObject({ ok: true, firstBad: null, stateMismatches: [] })
  })

  it('names the first missing entry when the last segment is removed', async () => {
    const { ledger, root } = await fresh({ segmentEvents: 4 })
    await inProgress(ledger)
    await inProgress(ledger)
    await closeAll()
    const events = path.join(root, 'events')
    const names = readdirSync(events).sort()
    const last = names.at(-1) as string
    const firstOfLast = Number(/events-(\d+)/.exec(last)?.[1])
    rmSync(path.join(events, last))
    const report = await verifyLedgerFiles(root)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(firstOfLast)
    expect(report.firstBad?.reason).toMatch(/signed checkpoint records seq \d+: entries \d+–\d+ are missing/)
  })
})

describe('the head key', () => {
  it('is sealed with the key protector; without the passphrase the ledger reads but signs nothing', async () => {
    const { ledger, dataDir, root } = await fresh()
    const id = await inProgress(ledger)
    await closeAll()
    const keys = readdirSync(path.join(root, 'keys'))
    for (const name of keys)
      expect(readFileSync(path.join(root, 'keys', name), 'utf8')).not.toContain('BEGIN PRIVATE KEY')
    expect(readFileSync(path.join(root, 'keys', 'head-ed25519.sealed.json'), 'utf8')).toContain(
      'ENCRYPTED PRIVATE KEY',
    )

    const locked = await reopen(dataDir, {
      keyProtector: async () => {
        throw new Error('Set LETHE_KEY_PASSPHRASE to the passphrase that protects the keys.')
      },
    })
    expect((await locked.view(id)).status).toBe('in-progress')
    await expect(locked.addNote({ id, text: 'x' }, 'officer')).rejects.toThrow(/LETHE_KEY_PASSPHRASE/)
    await closeAll()
    const wrong = await reopen(dataDir, {
      keyProtector: async () => passphraseProtector('not the passphrase'),
    })
    await expect(wrong.addNote({ id, text: 'x' }, 'officer')).rejects.toMatchObject({ code: 'BAD_INPUT' })
  })

  it('left in the clear by an older Lethe is sealed on open, in the ledger and in its backups', async () => {
    const { ledger, dataDir, root } = await fresh()
    await inProgress(ledger)
    const signing = await ledger.storage.signingKey()
    await ledger.backup()
    await closeAll()
    // As an older Lethe left it: the key in the clear, in the ledger and in the backup.
    const backups = path.join(dataDir, 'ledger-backups')
    const copies = [root, ...readdirSync(backups).map((b) => path.join(backups, b))]
    for (const copy of copies) {
      rmSync(path.join(copy, 'keys', 'head-ed25519.sealed.json'))
      rmSync(path.join(copy, 'keys', 'head-ed25519.pub.pem'))
      writeFileSync(
        path.join(copy, 'keys', 'head-ed25519.pem'),
        signing.export({ type: 'pkcs8', format: 'pem' }),
      )
    }
    const again = await reopen(dataDir)
    for (const copy of copies) {
      expect(existsSync(path.join(copy, 'keys', 'head-ed25519.pem'))).toBe(false)
      expect(existsSync(path.join(copy, 'keys', 'head-ed25519.sealed.json'))).toBe(true)
    }
    await again.create([requestInput()], 'officer')
    expect((await verifyLedger(again)).ok).toBe(true)
  })

  it('pins the chain: a history re-signed with a new key, or rolled back, fails against the pins', async () => {
    const { ledger, root } = await fresh({ segmentEvents: 4 })
    await inProgress(ledger)
    const pinnedKey = keyFingerprint(ledger.storage.keyMaterial.publicKeyPem)
    const early = ledger.head()
    const snapshot = path.join(tempDir('lethe-rollback-'), 'ledger')
    folders.push(path.dirname(snapshot))
    await ledger.storage.flush()
    cpSync(root, snapshot, { recursive: true })
    await inProgress(ledger)
    const cited = { seq: ledger.head().seq, hash: ledger.head().hash } // as a certificate cites it
    await closeAll()

    // A rollback of the whole ledger folder to the older copy verifies on its own…
    rmSync(root, { recursive: true })
    cpSync(snapshot, root, { recursive: true })
    expect((await verifyLedgerFiles(root)).ok).toBe(true)
    // …and fails against the entry a certificate cites, naming the first missing entry.
    const rolledBack = await verifyLedgerFiles(root, [{ source: 'CERT-2026-0001', head: cited }])
    expect(rolledBack.ok).toBe(false)
    expect(rolledBack.firstBad).toMatchObject({
      seq: early.seq + 1,
      reason: expect.stringMatching(/rolled back/),
    })

    // Every entry re-hashed and every head re-signed with a key of the attacker's own.
    const attacker = generateKeyPairSync('ed25519')
    const attackerPem = attacker.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    let prevHash = '0'.repeat(64)
    for (const name of readdirSync(path.join(root, 'events')).sort()) {
      const file = path.join(root, 'events', name)
      const segment = JSON.parse(readFileSync(file, 'utf8')) as {
        events: Parameters<typeof hashEvent>[0][]
        head: Parameters<typeof signHead>[0]
      }
      for (const event of segment.events) {
        if (event.seq === 1) (event.payload as { publicKey: string }).publicKey = attackerPem
        event.prevHash = prevHash
        prevHash = (event as unknown as { hash: string }).hash = hashEvent(event)
      }
      const last = segment.events.at(-1) as Parameters<typeof hashEvent>[0] & { hash: string }
      segment.head = signHead(
        { ...segment.head, seq: last.seq, hash: last.hash },
        attacker.privateKey,
        attackerPem,
      )
      writeFileSync(file, JSON.stringify(segment))
    }
    const resigned = await verifyLedgerFiles(root, [
      { source: 'The key given to the verifier', keyFingerprint: pinnedKey },
    ])
    expect(resigned.firstBad?.reason).not.toMatch(/hash|prevHash|signature/) // internally consistent…
    expect(resigned.ok).toBe(false) // …but not signed with the pinned key
    expect(resigned.keyFingerprint).toBe(keyFingerprint(attackerPem))
    expect(resigned.pins).toEqual([
      expect.objectContaining({
        pass: false,
        detail: `the heads are signed with ${keyFingerprint(attackerPem)}`,
      }),
    ])
  })
})

describe('the data folder’s copies and rights', () => {
  it('keeps keys, personal data and exports readable by their owner only', async () => {
    const { ledger, dataDir } = await fresh()
    const id = await inProgress(ledger)
    const scan = path.join(dataDir, 'scan.txt')
    writeFileSync(scan, 'passport')
    await ledger.attach({ id, path: scan }, 'officer')
    await ledger.backup()
    const exported = path.join(dataDir, 'export.json')
    const result = await exportLedger(ledger, exported)
    expect(result.warning).toMatch(/signing and HMAC keys and all personal data/)
    await closeAll()
    rmSync(scan)
    expect(readableByOthers(dataDir)).toEqual([])
  })

  it('erases personal data from backups too, so that a restore cannot bring it back', async () => {
    const { ledger, dataDir } = await fresh()
    const [id] = (await ledger.create(
      [requestInput({ received: '2026-01-02', note: 'Jane called' })],
      'o',
    )) as [string]
    const scan = path.join(dataDir, 'scan.txt')
    writeFileSync(scan, 'passport')
    await ledger.attach({ id, path: scan }, 'o')
    await ledger.transition(
      { id, to: 'rejected', exemption: 'Art. 12(5)', reason: 'unfounded', on: '2026-02-01' },
      'o',
    )
    const backupId = await ledger.backup()
    const backup = path.join(dataDir, 'ledger-backups', backupId)
    expect(readFileSync(path.join(backup, 'personal', 'personal-0000.json'), 'utf8')).toContain('Jane')

    expect(await ledger.applyRetention()).toEqual([id])
    expect(readFileSync(path.join(backup, 'personal', 'personal-0000.json'), 'utf8')).not.toContain(id)
    expect(existsSync(path.join(backup, 'attachments', id))).toBe(false)
    await closeAll()

    const service = new LedgerService(dataDir, { now: clock(), flushDelayMs: 5, keyProtector: testKeys })
    await service.handlers()['ledger.restore']({ backupId }, { transport: 'cli' })
    await service.close()
    const restored = await reopen(dataDir)
    const view = await restored.view(id, true)
    expect(view.requester).toBeNull()
    expect(JSON.stringify(view)).not.toContain('Jane')
  })

  it.each(['.', '..', '../ledger', 'ledger-backups', ''])(
    'restores only a backup it listed, not %j',
    async (backupId) => {
      const { ledger, dataDir, root } = await fresh()
      await inProgress(ledger)
      await ledger.backup()
      await closeAll()
      const before = readdirSync(dataDir).sort()
      const head = readFileSync(path.join(root, 'meta.json'), 'utf8')
      const service = new LedgerService(dataDir, { now: clock(), keyProtector: testKeys })
      await expect(
        service.handlers()['ledger.restore']({ backupId }, { transport: 'cli' }),
      ).rejects.toMatchObject({
        code: expect.stringMatching(/NOT_FOUND|BAD_INPUT/),
      })
      await service.close()
      expect(readdirSync(dataDir).sort()).toEqual(before)
      expect(readFileSync(path.join(root, 'meta.json'), 'utf8')).toBe(head)
    },
  )
})

describe('imports and interrupted writes', () => {
  it('creates a whole import in one append, and removes what an interrupted one left', async () => {
    const { ledger, dataDir, root } = await fresh()
    const before = ledger.state.seq
    const ids = await ledger.create(
      Array.from({ length: 600 }, (_, i) =>
        requestInput({ subjectIds: [{ type: 'customer-id', value: `C-${i}` }] }),
      ),
      'importer',
    )
    expect(ids).toHaveLength(600)
    expect(ledger.state.seq).toBe(before + 600) // one event each, all in one durable append
    const batch = await ledger.storage.readEvents([before + 1, before + 600])
    expect(batch.map((e) => e.at)).toEqual([batch[0]?.at, batch[0]?.at])

    // A kill between the personal data and the events: records the chain never names.
    await ledger.storage.personal.putMany(
      [601, 602].map((n) => ({
        n,
        id: `RTBF-2026-${String(n).padStart(4, '0')}`,
        record: {
          requester: { name: 'Ghost', email: null, otherContact: null },
          subjectIds: [],
          notes: {},
          attachmentNames: {},
          texts: {},
        },
      })),
    )
    await closeAll()
    const report = await verifyLedgerFiles(root)
    expect(report.stateMismatches).toContain(
      'personal data is stored for RTBF-2026-0601, which is not in the audit log',
    )
    await reopen(dataDir)
    expect(readFileSync(path.join(root, 'personal', 'personal-0001.json'), 'utf8')).not.toContain('Ghost')
    expect((await verifyLedgerFiles(root)).ok).toBe(true)
  })

  it('refuses an import larger than one batch can safely hold, before writing anything', () => {
    const rows = Array.from(
      { length: MAX_IMPORT_ROWS + 1 },
      (_, i) => `P ${i},customer-id:C-${i},gdpr,2026-03-01`,
    )
    expect(() =>
      parseRequestsCsv(['name,subject_ids,jurisdiction,received', ...rows].join('\n'), '2026-03-10'),
    ).toThrow(
      expect.objectContaining({
        code: 'TOO_LARGE',
        message: expect.stringMatching(/at most 50000.*Split it/),
      }),
    )
  })

  it('removes temporary files dead writers left, and keeps a live writer’s', async () => {
    const { dataDir, root } = await fresh()
    await closeAll()
    const dead = path.join(root, 'events', 'events-000000000001.json.2147483646.tmp')
    const live = path.join(root, 'events', `events-000000000001.json.${process.pid}.tmp`)
    writeFileSync(dead, 'half')
    writeFileSync(live, 'half')
    await reopen(dataDir)
    expect(existsSync(dead)).toBe(false)
    expect(existsSync(live)).toBe(true)
  })
})

describe('damage the running app must see', () => {
  it('stops signing once a sealed segment is found changed', async () => {
    const { ledger, root } = await fresh({ segmentEvents: 4 })
    await inProgress(ledger)
    await inProgress(ledger)
    await ledger.storage.flush()
    const first = path.join(root, 'events', readdirSync(path.join(root, 'events')).sort()[0] as string)
    writeFileSync(first, readFileSync(first, 'utf8').replace('"actor":"officer"', '"actor":"someone"'))
    const damage = await ledger.storage.checkSealedSegments()
    expect(damage).toMatchObject({
      code: 'CORRUPT',
      message: expect.stringMatching(/was changed after it was sealed/),
    })
    await expect(ledger.create([requestInput()], 'officer')).rejects.toMatchObject({ code: 'CORRUPT' })
    expect(ledger.storage.damage).toBe(damage) // what ledger.status reports
  })

  it('finds an edit of meta.json or of personal data', async () => {
    const { ledger, dataDir, root } = await fresh()
    const id = await inProgress(ledger)
    await closeAll()
    const personal = path.join(root, 'personal', 'personal-0000.json')
    const original = readFileSync(personal, 'utf8')
    writeFileSync(personal, original.replace('Jane Doe', 'John Roe'))
    expect((await verifyLedgerFiles(root)).stateMismatches).toContain(
      `${id}'s requester differs from the one the ledger recorded`,
    )
    const reader = await reopen(dataDir, { readOnly: true })
    await expect(reader.view(id)).rejects.toMatchObject({ code: 'CORRUPT' })
    writeFileSync(personal, original)

    const meta = path.join(root, 'meta.json')
    writeFileSync(
      meta,
      readFileSync(meta, 'utf8').replace(/"createdAt":"[^"]+"/, '"createdAt":"2020-01-01T00:00:00.000Z"'),
    )
    expect((await verifyLedgerFiles(root)).stateMismatches).toContain(
      'meta.json was changed after the ledger recorded it',
    )
    await expect(reopen(dataDir)).rejects.toMatchObject({
      code: 'CORRUPT',
      message: expect.stringMatching(/meta\.json/),
    })
  })
})

// Kept so a reader sees the digest the tests use for file contents.
export const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
