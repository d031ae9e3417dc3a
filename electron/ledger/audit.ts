/**
 * Reading the ledger as an auditor would: verify the whole chain and the projection, list
 * and export events and requests, and move a whole ledger between machines.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { LetheError } from '../contract'
import { AuditEvent, SignedHead, type RequestView } from '../contract/ledger'
import { canonicalJson } from '../lib/canonical-json'
import { toCsv } from '../lib/csv'
import { checkLink, GENESIS_HASH, headSignatureValid, signHead } from './chain'
import { DurableJsonFile, parseStored } from './durable'
import { keysFromMaterial, readKeyMaterial, writeKeyMaterial } from './keys'
import { Ledger } from './ledger'
import { LedgerLock } from './lock'
import { PersonalStore, type PersonalRecord } from './personal'
import { applyEvent, emptyState, SCHEMA_VERSION, type LedgerState, type RequestRecord } from './state'
import { FORMAT, moveAside, segmentName, type Meta } from './store'

const YIELD_EVERY = 2000
const pause = () => new Promise((resolve) => setImmediate(resolve))

export interface VerifyResult {
  ok: boolean
  events: number
  head: SignedHead | null
  firstBad: { seq: number | null; file: string | null; reason: string } | null
  stateMismatches: string[]
}

/** Verifies an open ledger between writes, with its projection flushed first. */
export function verifyLedger(ledger: Ledger): Promise<VerifyResult> {
  return ledger.exclusive(() => verifyLedgerFiles(ledger.storage.root))
}

/**
 * Recomputes every hash from the genesis entry, checks the signed head in the last segment
 * and its key, then replays the events and compares the result with the stored projection.
 * Reads only files, so it also works on a ledger too damaged to open. Yields to the event
 * loop as it goes, so a large ledger does not freeze the app.
 */
export async function verifyLedgerFiles(root: string): Promise<VerifyResult> {
  const eventsDir = path.join(root, 'events')
  const files = existsSync(eventsDir)
    ? (await readdir(eventsDir))
        .filter((f) => /^events-\d{12}\.json$/.test(f))
        .sort()
        .map((f) => path.join(eventsDir, f))
    : []
  const replay = emptyState()
  let head: SignedHead | null = null
  let prev: z.infer<typeof AuditEvent> | undefined
  let createdKey: string | null = null
  let count = 0
  const bad = (seq: number | null, file: string | null, reason: string): VerifyResult => ({
    ok: false,
    events: count,
    head,
    firstBad: { seq, file, reason },
    stateMismatches: [],
  })
  for (const file of files) {
    let segment: { events: unknown; head: unknown }
    try {
      segment = parseStored(file, await readFile(file, 'utf8'))
    } catch (error) {
      return bad(prev ? prev.seq + 1 : 1, file, (error as Error).message)
    }
    const parsed = z.array(AuditEvent).safeParse(segment.events)
    if (!parsed.success)
      return bad(prev ? prev.seq + 1 : 1, file, 'the segment does not hold well-formed audit events')
    const segmentHead = SignedHead.nullable().safeParse(segment.head)
    head = segmentHead.success ? segmentHead.data : null
    for (const event of parsed.data) {
      const fault = checkLink(event, prev ? prev.seq + 1 : 1, prev ? prev.hash : GENESIS_HASH)
      if (fault) return bad(fault.seq, file, fault.reason)
      if (event.seq === 1) createdKey = (event.payload as { publicKey?: string }).publicKey ?? null
      try {
        applyEvent(replay, event)
      } catch (error) {
        return bad(event.seq, file, (error as Error).message)
      }
      prev = event
      count += 1
      if (count % YIELD_EVERY === 0) await pause()
    }
  }
  if (!head || !prev) return bad(prev ? prev.seq : 1, files.at(-1) ?? null, 'the ledger has no signed head')
  if (prev.seq !== head.seq || prev.hash !== head.hash) {
    const reason =
      prev.seq < head.seq
        ? `the chain ends at seq ${prev.seq} but the signed head is at seq ${head.seq}: entries were removed from the end`
        : `the chain goes on past the signed head (seq ${head.seq}): entries were added without signing`
    return bad(Math.min(prev.seq, head.seq) + 1, files.at(-1) ?? null, reason)
  }
  if (!headSignatureValid(head)) return bad(head.seq, null, 'the signature on the head does not verify')
  if (createdKey !== head.publicKey) {
    return bad(head.seq, null, 'the head is signed by another key than the one the ledger was created with')
  }
  const stateMismatches = await compareProjection(root, replay)
  return { ok: stateMismatches.length === 0, events: count, head, firstBad: null, stateMismatches }
}

/** The stored projection (on disk, not in memory) must equal the replay of the events. */
async function compareProjection(root: string, replay: LedgerState): Promise<string[]> {
  const folder = path.join(root, 'state')
  const replayed = replay.requests
  const stored = new Map<string, RequestRecord>()
  const mismatches: string[] = []
  try {
    const global = parseStored<{ settings: unknown; registry: unknown[]; work: unknown[] }>(
      path.join(folder, 'global.json'),
      await readFile(path.join(folder, 'global.json'), 'utf8'),
    )
    const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b)
    if (!same(global.settings, replay.settings))
      mismatches.push('the stored settings differ from the audit events')
    if (!same(global.registry, [...replay.registry.values()]))
      mismatches.push('the stored registry differs from the audit events')
    if (!same(global.work, [...replay.work.values()]))
      mismatches.push('the stored list of unfinished work differs from the audit events')
  } catch (error) {
    mismatches.push((error as Error).message)
  }
  for (const name of existsSync(folder) ? await readdir(folder) : []) {
    if (!/^requests-\d+\.json$/.test(name)) continue
    const file = path.join(folder, name)
    try {
      for (const r of parseStored<{ records: RequestRecord[] }>(file, await readFile(file, 'utf8')).records)
        stored.set(r.id, r)
    } catch (error) {
      mismatches.push((error as Error).message)
    }
  }
  for (const [id, record] of replayed) {
    const kept = stored.get(id)
    if (!kept) mismatches.push(`${id} is in the audit log but missing from the stored state`)
    else if (canonicalJson(kept) !== canonicalJson(record))
      mismatches.push(`${id}'s stored state differs from its audit events`)
  }
  for (const id of stored.keys())
    if (!replayed.has(id)) mismatches.push(`${id} is in the stored state but not in the audit log`)
  return mismatches
}

export async function allEvents(ledger: Ledger): Promise<z.infer<typeof AuditEvent>[]> {
  const events: z.infer<typeof AuditEvent>[] = []
  for await (const { segment } of ledger.storage.readSegments()) events.push(...segment.events)
  return events
}

const EVENT_COLUMNS = ['seq', 'at', 'actor', 'type', 'request_id', 'payload', 'prev_hash', 'hash']

export function eventsToCsv(events: z.infer<typeof AuditEvent>[]): string {
  return toCsv(
    EVENT_COLUMNS,
    events.map((e) => [
      e.seq,
      e.at,
      e.actor,
      e.type,
      e.requestId,
      canonicalJson(e.payload),
      e.prevHash,
      e.hash,
    ]),
  )
}

/** One row per request with the columns a regulator asks for (CCPA Regs §7101), personal data masked. */
export function requestsToCsv(views: RequestView[]): string {
  const header = [
    'id',
    'received',
    'jurisdiction',
    'legal_basis',
    'channel',
    'status',
    'identity',
    'acknowledged_on',
    'due_date',
    'extended',
    'extension_reason',
    'closed_on',
    'days_to_close',
    'on_time',
    'decision',
    'exemption',
    'assignee',
    'requester',
    'redacted_on',
  ]
  return toCsv(
    header,
    views.map((v) => {
      const closed = v.closedOn
      const days = closed ? Math.round((Date.parse(closed) - Date.parse(v.received)) / 86_400_000) : null
      return [
        v.id,
        v.received,
        v.jurisdiction,
        v.legalBasis,
        v.channel,
        v.status,
        v.identity.status,
        v.deadline.acknowledgedOn,
        v.deadline.dueDate,
        v.deadline.extension ? 'yes' : 'no',
        v.deadline.extension?.reason,
        closed,
        days,
        closed ? (closed <= v.deadline.dueDate ? 'yes' : 'no') : null,
        v.decision?.kind,
        v.decision?.kind === 'reject' ? v.decision.exemption : null,
        v.assignee,
        v.requester?.name,
        v.redactedOn,
      ]
    }),
  )
}

// ── whole-ledger export and import ──────────────────────────────────────────────────────

const LedgerExport = z.object({
  format: z.literal('lethe-ledger-export'),
  schemaVersion: z.number().int(),
  exportedAt: z.string(),
  meta: z.object({
    format: z.literal(FORMAT),
    schemaVersion: z.number(),
    ledgerId: z.string(),
    createdAt: z.string(),
    shardRequests: z.number().int().min(1),
  }),
  keys: z.object({ signingKeyPem: z.string(), hmacKeyHex: z.string().regex(/^[0-9a-f]{64}$/) }),
  head: SignedHead,
  events: z.array(AuditEvent).min(1),
  personal: z.record(z.string(), z.unknown()),
  attachments: z.array(z.object({ requestId: z.string(), id: z.string(), base64: z.string() })),
})
type LedgerExport = z.infer<typeof LedgerExport>

/**
 * The whole ledger in one file: events, personal data, attachments and the ledger's keys.
 * It is as sensitive as the data folder itself.
 */
export async function exportLedger(ledger: Ledger, file: string) {
  return ledger.exclusive(async () => {
    const keys = await readKeyMaterial(path.join(ledger.storage.root, 'keys'))
    const events = await allEvents(ledger)
    const personal: Record<string, PersonalRecord> = {}
    const attachments: LedgerExport['attachments'] = []
    const attachmentsDir = Ledger.paths(ledger.dataDir).attachments
    for (const record of ledger.state.requests.values()) {
      const p = record.redactedOn ? null : await ledger.storage.personal.get(record.n, record.id)
      if (p) personal[record.id] = p
      for (const a of record.redactedOn ? [] : record.attachments) {
        const content = await readFile(path.join(attachmentsDir, record.id, a.id))
        attachments.push({ requestId: record.id, id: a.id, base64: content.toString('base64') })
      }
    }
    const meta = parseStored<Meta>(
      'meta.json',
      await readFile(path.join(ledger.storage.root, 'meta.json'), 'utf8'),
    )
    const document: LedgerExport = {
      format: 'lethe-ledger-export',
      schemaVersion: SCHEMA_VERSION,
      exportedAt: new Date().toISOString(),
      meta,
      keys,
      head: ledger.head(),
      events,
      personal,
      attachments,
    }
    await new DurableJsonFile<LedgerExport>(file).write(document)
    return { path: file, events: events.length }
  })
}

/**
 * Loads an export into a data folder whose ledger holds nothing yet. Everything is checked
 * first (format, every hash, the head's signature and key, a full replay); the empty ledger
 * that is replaced is moved aside, not deleted.
 */
export async function importLedger(dataDir: string, file: string, segmentEvents = 512) {
  let document: LedgerExport
  try {
    document = LedgerExport.parse(parseStored(file, await readFile(file, 'utf8')))
  } catch (error) {
    if (error instanceof LetheError) throw new LetheError('BAD_INPUT', error.message, error.details)
    const issue = error instanceof z.ZodError ? error.issues[0] : undefined
    const where = issue ? ` (at ${issue.path.join('.') || 'the top level'}: ${issue.message})` : ''
    throw new LetheError('BAD_INPUT', `${file} is not a Lethe ledger export${where}.`)
  }
  if (document.schemaVersion > SCHEMA_VERSION) {
    throw new LetheError('CONFLICT', `${file} comes from a newer Lethe (schema ${document.schemaVersion}).`)
  }
  const keys = keysFromMaterial(document.keys)
  const replay = emptyState()
  let prev: LedgerExport['events'][number] | undefined
  for (const event of document.events) {
    const fault = checkLink(event, prev ? prev.seq + 1 : 1, prev ? prev.hash : GENESIS_HASH)
    if (fault) throw new LetheError('BAD_INPUT', `${file} is damaged at seq ${fault.seq}: ${fault.reason}.`)
    applyEvent(replay, event)
    prev = event
  }
  const { head } = document
  const last = document.events.at(-1)
  const sameKey = head.publicKey === keys.publicKeyPem
  if (!last || last.seq !== head.seq || last.hash !== head.hash || !headSignatureValid(head) || !sameKey) {
    throw new LetheError('BAD_INPUT', `${file}'s signed head does not match its last event or its key.`)
  }

  const paths = Ledger.paths(dataDir)
  const lock = LedgerLock.acquire(paths.lock)
  try {
    const existing = await readExistingEvents(paths.root)
    if (existing > 1) {
      throw new LetheError(
        'CONFLICT',
        `The ledger in ${dataDir} already holds ${existing} events; import only into an empty ledger.`,
      )
    }
    if (existsSync(paths.root)) await moveAside(paths.root, `${paths.root}-replaced-${Date.now()}`)
    const root = paths.root
    await writeKeyMaterial(path.join(root, 'keys'), document.keys)
    for (let i = 0; i * segmentEvents < document.events.length; i++) {
      const events = document.events.slice(i * segmentEvents, (i + 1) * segmentEvents)
      const end = events.at(-1) as LedgerExport['events'][number]
      const segmentHead =
        end.seq === head.seq
          ? head
          : signHead(
              { ledgerId: document.meta.ledgerId, seq: end.seq, hash: end.hash, at: end.at },
              keys.signing,
              keys.publicKeyPem,
            )
      const first = (events[0] as LedgerExport['events'][number]).seq
      await new DurableJsonFile(path.join(root, 'events', segmentName(first))).write({
        firstSeq: first,
        events,
        head: segmentHead,
      })
    }
    const personal = new PersonalStore(path.join(root, 'personal'))
    for (const [id, record] of Object.entries(document.personal)) {
      const r = replay.requests.get(id)
      if (r) await personal.put(r.n, id, record as PersonalRecord)
    }
    for (const a of document.attachments) {
      const folder = path.join(root, 'attachments', a.requestId)
      await mkdir(folder, { recursive: true })
      await writeFile(path.join(folder, a.id), Buffer.from(a.base64, 'base64'), { flush: true })
    }
    // meta.json last: until it exists the folder is not a ledger.
    await new DurableJsonFile<Meta>(path.join(root, 'meta.json')).write({
      ...document.meta,
      schemaVersion: SCHEMA_VERSION,
    })
    return { events: document.events.length, requests: replay.requests.size }
  } finally {
    lock.release()
  }
}

async function readExistingEvents(root: string): Promise<number> {
  const folder = path.join(root, 'events')
  if (!existsSync(path.join(root, 'meta.json')) || !existsSync(folder)) return 0
  const last = (await readdir(folder))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .at(-1)
  if (!last) return 0
  return (
    parseStored<{ head: SignedHead | null }>(last, await readFile(path.join(folder, last), 'utf8')).head
      ?.seq ?? 0
  )
}
