/**
 * Reading the ledger out: list and export events and requests, and move a whole ledger between
 * machines. (Verification is in verify.ts.)
 */
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { LetheError } from '../contract'
import { AuditEvent, SignedHead, type RequestView } from '../contract/ledger'
import { canonicalJson } from '../lib/canonical-json'
import { toCsv } from '../lib/csv'
import { writeFileDurably } from '../lib/files'
import type { KeyProtector } from '../lib/key-protector'
import { checkLink, GENESIS_HASH, headSignatureValid, signHead } from './chain'
import { DurableJsonFile, parseStored } from './durable'
import { readKeyMaterial, writeKeyMaterial } from './keys'
import { Ledger } from './ledger'
import { LedgerLock } from './lock'
import { PersonalStore, type PersonalRecord } from './personal'
import { applyEvent, emptyState, SCHEMA_VERSION } from './state'
import { FORMAT, moveAside, segmentName, type Meta } from './store'

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

/** What an export holds, said wherever one is written. */
export const EXPORT_WARNING =
  'The file holds the ledger’s signing and HMAC keys and all personal data, in the clear: it is as sensitive as the data folder. Keep it where only you can read it, and delete it once moved.'

/**
 * The whole ledger in one file: events, personal data, attachments and the ledger's keys, in
 * the clear (the importing installation seals the head key with its own protector). Written
 * readable by its owner only.
 */
export async function exportLedger(ledger: Ledger, file: string) {
  const signing = await ledger.storage.signingKey()
  return ledger.exclusive(async () => {
    const keys = await readKeyMaterial(path.join(ledger.storage.root, 'keys'), signing)
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
    return { path: file, events: events.length, warning: EXPORT_WARNING }
  })
}

/**
 * Loads an export into a data folder whose ledger holds nothing yet. Everything is checked
 * first (format, every hash, the head's signature and key, a full replay); the empty ledger
 * that is replaced is moved aside, not deleted.
 */
export async function importLedger(
  dataDir: string,
  file: string,
  protector: KeyProtector,
  segmentEvents = 512,
) {
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
  let signing
  try {
    signing = createPrivateKey(document.keys.signingKeyPem)
  } catch {
    throw new LetheError('BAD_INPUT', `${file}'s signing key is not a private key.`)
  }
  const publicKeyPem = createPublicKey(signing).export({ type: 'spki', format: 'pem' }).toString()
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
  const sameKey = head.publicKey === publicKeyPem
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
    await writeKeyMaterial(path.join(root, 'keys'), document.keys, protector)
    for (let i = 0; i * segmentEvents < document.events.length; i++) {
      const events = document.events.slice(i * segmentEvents, (i + 1) * segmentEvents)
      const end = events.at(-1) as LedgerExport['events'][number]
      const segmentHead =
        end.seq === head.seq
          ? head
          : signHead(
              { ledgerId: document.meta.ledgerId, seq: end.seq, hash: end.hash, at: end.at },
              signing,
              publicKeyPem,
            )
      const first = (events[0] as LedgerExport['events'][number]).seq
      await new DurableJsonFile(path.join(root, 'events', segmentName(first))).write({
        firstSeq: first,
        events,
        head: segmentHead,
      })
    }
    await new PersonalStore(path.join(root, 'personal')).putMany(
      Object.entries(document.personal).flatMap(([id, record]) => {
        const r = replay.requests.get(id)
        return r ? [{ n: r.n, id, record: record as PersonalRecord }] : []
      }),
    )
    for (const a of document.attachments) {
      const folder = path.join(root, 'attachments', a.requestId)
      await mkdir(folder, { recursive: true, mode: 0o700 })
      await writeFileDurably(path.join(folder, a.id), Buffer.from(a.base64, 'base64'))
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
