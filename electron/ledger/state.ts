/**
 * The ledger's state as a projection of its audit events: `applyEvent` is the only code that
 * changes it, whether live, when recovering after a crash, or when verifying. State holds no
 * raw personal data: requesters and subjects appear only as HMACs, free text only as TextRefs
 * (except what events written before schema 2 carried in the clear).
 */
import type { z } from 'zod'
import { LetheError } from '../contract'
import type {
  AuditEvent,
  Channel,
  Jurisdiction,
  LedgerSettings,
  LegalBasis,
  ModelExport,
  RegistryEntry,
  RequestStatus,
  SubjectIdType,
} from '../contract/ledger'
import type { Deadlines } from './deadlines'

/**
 * 2: free text a person types (reasons, methods, exemptions, ground, assignee) is kept in the
 * personal store, and events carry only a TextRef to it. Events written before hold it in the
 * clear and still read as they are.
 */
export const SCHEMA_VERSION = 2

/** Free text as the chain holds it: its id in the personal store and its salted hash. */
export interface TextRef {
  textId: string
  hmac: string
}

/** A free-text field of an event: a TextRef, or the text itself in events written before schema 2. */
export type ChainText = string | TextRef

export const isTextRef = (value: unknown): value is TextRef =>
  typeof value === 'object' && value !== null && typeof (value as TextRef).textId === 'string'

export type RecordDecision = { kind: 'erase' } | { kind: 'reject'; exemption: ChainText; reason: ChainText }

export interface SubjectHash {
  type: z.infer<typeof SubjectIdType>
  hmac: string
}

export interface RequestRecord {
  /** Creation order, from 1; decides the storage shard. */
  n: number
  id: string
  status: RequestStatus
  heldFrom: RequestStatus | null
  holdReason: ChainText | null
  jurisdiction: Jurisdiction
  legalBasis: LegalBasis
  ground: ChainText | null
  channel: z.infer<typeof Channel>
  received: string
  requesterHash: string
  /** Salted hash of the requester's name and contacts exactly as given, so that an edit of any of them is detectable. */
  requesterHmac?: string
  subjectHashes: SubjectHash[]
  identity: { status: 'unverified' | 'verified' | 'failed'; method: ChainText | null; on: string | null }
  deadlines: Omit<Deadlines, 'rule'>
  acknowledgedOn: string | null
  extension: { reason: ChainText; noticeDate: string; dueDate: string } | null
  assignee: ChainText | null
  decision: RecordDecision | null
  notes: { id: string; at: string; actor: string; chars: number }[]
  /** Every free text the request's events refer to, current or replaced; absent in requests created before schema 2. */
  texts?: TextRef[]
  /** `nameHmac`: the salted hash of the file's name, where the attachment event carries it. */
  attachments: {
    id: string
    sha256: string
    bytes: number
    mediaType: string
    at: string
    nameHmac?: string
  }[]
  links: { models: string[]; runs: string[]; certificates: string[] }
  closedOn: string | null
  redactedOn: string | null
  createdAt: string
  updatedAt: string
  /** The seq of every audit event about this request, oldest first. */
  history: number[]
}

export interface WorkItem {
  id: string
  kind: string
  requestId: string | null
  startedAt: string
}

export interface LedgerState {
  ledgerId: string | null
  seq: number
  requests: Map<string, RequestRecord>
  settings: LedgerSettings
  registry: Map<string, RegistryEntry>
  /** Erasure work logged as started and not yet finished (write-ahead). */
  work: Map<string, WorkItem>
}

export const defaultSettings: LedgerSettings = { retentionDays: 30, holidays: [], otherJurisdictionDays: 30 }

export const emptyState = (): LedgerState => ({
  ledgerId: null,
  seq: 0,
  requests: new Map(),
  settings: { ...defaultSettings },
  registry: new Map(),
  work: new Map(),
})

/** Every kind of audit event, with the payload it carries. */
export interface EventPayloads {
  'ledger.created': { ledgerId: string; schemaVersion: number; publicKey: string }
  /** The stored projection did not match its signed checkpoint when the ledger opened, and was rebuilt. */
  'ledger.repaired': { reason: string }
  'request.created': { record: RequestRecord }
  'request.transitioned': {
    from: RequestStatus
    to: RequestStatus
    on: string
    reason: ChainText | null
    method: ChainText | null
    exemption: ChainText | null
  }
  'request.refused': { action: string; from: RequestStatus; to: string | null; reason: string }
  'request.extended': { reason: ChainText; noticeDate: string; dueDate: string }
  'request.acknowledged': { on: string }
  'request.updated': {
    changes: Partial<Pick<RequestRecord, 'assignee' | 'channel' | 'legalBasis' | 'ground'>>
  }
  'request.noted': { noteId: string; chars: number }
  /** `nameHmac`: the salted hash of the file's name (kept in the personal store), so an edit of it is detectable. */
  'request.attached': {
    attachmentId: string
    sha256: string
    bytes: number
    mediaType: string
    nameHmac?: string
  }
  'request.linked': { kind: keyof RequestRecord['links']; target: string }
  'request.revealed': { fields: string[] }
  'request.redacted': { on: string; personalFields: number; notes: number; attachments: number }
  'registry.registered': { entry: RegistryEntry }
  /** The version's stored data was shredded (the event's request, if any, is the one it was deleted for). */
  'model.deleted': { modelId: string; reason: ChainText }
  'dataset.deleted': { datasetId: string; reason: ChainText; replacedBy: string }
  /** A version still trained on the request's rows is kept on purpose (a legal hold, say). */
  'model.retained': { modelId: string; requestId: string; reason: ChainText }
  /** A version was written out as files (to deploy it): each file's name (never its folder), SHA-256 and size. */
  'model.exported': { modelId: string; format: string; files: ModelExport['files'] }
  'work.started': { workId: string; kind: string }
  'work.finished': { workId: string; outcome: 'completed' | 'failed' | 'abandoned'; detail: string | null }
  'settings.changed': { settings: LedgerSettings }
  /** A certificate of removal was issued for the request; the hashes tie the PDF to this entry. */
  'certificate.issued': {
    certificateId: string
    manifestSha256: string
    pdfSha256: string
    /** The first model covered; `modelIds` lists them all and `supersedes` the certificate replaced (newer entries). */
    modelId: string
    modelIds?: string[]
    supersedes?: string | null
  }
}
export type EventType = keyof EventPayloads

/** Allowed moves; from on-hold, only back to where the request was held, or to rejected. */
const TRANSITIONS: Record<RequestStatus, readonly RequestStatus[]> = {
  received: ['identity-verified', 'rejected', 'on-hold'],
  'identity-verified': ['in-progress', 'rejected', 'on-hold'],
  'in-progress': ['completed', 'rejected', 'on-hold'],
  'on-hold': ['rejected'],
  // Reopening: a completed erasure goes back to work; a rejection starts over.
  completed: ['in-progress'],
  rejected: ['received'],
}

export function allowedTransitions(record: Pick<RequestRecord, 'status' | 'heldFrom'>): RequestStatus[] {
  const allowed = [...TRANSITIONS[record.status]]
  if (record.status === 'on-hold' && record.heldFrom) allowed.unshift(record.heldFrom)
  return allowed
}

export const isClosed = (status: RequestStatus): boolean => status === 'completed' || status === 'rejected'

function requestOf(state: LedgerState, event: AuditEvent): RequestRecord {
  const record = event.requestId ? state.requests.get(event.requestId) : undefined
  if (!record) {
    throw new LetheError(
      'CORRUPT',
      `Audit event ${event.seq} (${event.type}) names unknown request ${event.requestId}.`,
    )
  }
  return record
}

/** Lists the free texts an event refers to on its request, so that each is checked against the personal store. */
function referTo(record: RequestRecord, ...values: unknown[]): void {
  for (const value of values) if (isTextRef(value)) (record.texts ??= []).push(value)
}

const sameFiles = (a: ModelExport['files'], b: ModelExport['files']) =>
  a.length === b.length && a.every((f, i) => f.sha256 === b[i]?.sha256 && f.fileName === b[i]?.fileName)

/** Events that change the ledger-wide part of the state (settings, registry, work). */
export const GLOBAL_EVENTS: ReadonlySet<string> = new Set<EventType>([
  'ledger.created',
  'registry.registered',
  'model.deleted',
  'model.exported',
  'dataset.deleted',
  'work.started',
  'work.finished',
  'settings.changed',
])

/**
 * Applies one event to the state, in place. Idempotent, because recovery may replay an
 * event that part of the stored projection already holds: a request that has seen this
 * seq (its history says so) is left alone.
 */
export function applyEvent(state: LedgerState, event: AuditEvent): void {
  const type = event.type as EventType
  const existing = event.requestId ? state.requests.get(event.requestId) : undefined
  const seen = existing !== undefined && (existing.history.at(-1) ?? 0) >= event.seq
  if (seen && !GLOBAL_EVENTS.has(type)) {
    state.seq = Math.max(state.seq, event.seq)
    return
  }
  switch (type) {
    case 'ledger.created': {
      const p = event.payload as unknown as EventPayloads['ledger.created']
      state.ledgerId = p.ledgerId
      break
    }
    case 'request.created': {
      const p = event.payload as unknown as EventPayloads['request.created']
      state.requests.set(p.record.id, structuredClone(p.record))
      break
    }
    case 'request.transitioned': {
      const p = event.payload as unknown as EventPayloads['request.transitioned']
      const r = requestOf(state, event)
      if (p.to === 'on-hold') {
        r.heldFrom = p.from
        r.holdReason = p.reason
      } else {
        r.heldFrom = null
        r.holdReason = null
      }
      if (p.to === 'identity-verified' && p.method)
        r.identity = { status: 'verified', method: p.method, on: p.on }
      if (p.to === 'in-progress' && p.from !== 'on-hold') r.decision = { kind: 'erase' }
      if (p.to === 'rejected') {
        r.decision = { kind: 'reject', exemption: p.exemption ?? '', reason: p.reason ?? '' }
      }
      if (p.to === 'received' && p.from === 'rejected') r.decision = null
      r.closedOn = isClosed(p.to) ? p.on : null
      r.status = p.to
      referTo(r, p.reason, p.method, p.exemption)
      break
    }
    case 'request.extended': {
      const p = event.payload as unknown as EventPayloads['request.extended']
      const r = requestOf(state, event)
      r.extension = { reason: p.reason, noticeDate: p.noticeDate, dueDate: p.dueDate }
      referTo(r, p.reason)
      break
    }
    case 'request.acknowledged': {
      const p = event.payload as unknown as EventPayloads['request.acknowledged']
      requestOf(state, event).acknowledgedOn = p.on
      break
    }
    case 'request.updated': {
      const p = event.payload as unknown as EventPayloads['request.updated']
      const r = requestOf(state, event)
      Object.assign(r, p.changes)
      referTo(r, p.changes.assignee, p.changes.ground)
      break
    }
    case 'request.noted': {
      const p = event.payload as unknown as EventPayloads['request.noted']
      requestOf(state, event).notes.push({ id: p.noteId, at: event.at, actor: event.actor, chars: p.chars })
      break
    }
    case 'request.attached': {
      const p = event.payload as unknown as EventPayloads['request.attached']
      const { attachmentId: id, sha256, bytes, mediaType, nameHmac } = p
      requestOf(state, event).attachments.push({
        id,
        sha256,
        bytes,
        mediaType,
        at: event.at,
        ...(nameHmac && { nameHmac }),
      })
      break
    }
    case 'request.linked': {
      const p = event.payload as unknown as EventPayloads['request.linked']
      const links = requestOf(state, event).links[p.kind]
      if (!links.includes(p.target)) links.push(p.target)
      break
    }
    case 'request.redacted': {
      const p = event.payload as unknown as EventPayloads['request.redacted']
      requestOf(state, event).redactedOn = p.on
      break
    }
    case 'registry.registered': {
      const p = event.payload as unknown as EventPayloads['registry.registered']
      state.registry.set(p.entry.id, p.entry)
      break
    }
    case 'model.deleted':
    case 'dataset.deleted': {
      const p = event.payload as unknown as { modelId?: string; datasetId?: string; reason: ChainText }
      if (event.requestId && !seen) referTo(requestOf(state, event), p.reason)
      const entry = state.registry.get((p.modelId ?? p.datasetId) as string)
      // A copy: the entry object may be the registration event's own payload. A version never
      // registered (its registration failed) has no entry to mark; the event stays.
      if (entry)
        state.registry.set(entry.id, { ...entry, deletedAt: event.at, deletionRequestId: event.requestId })
      break
    }
    case 'model.exported': {
      const p = event.payload as unknown as EventPayloads['model.exported']
      const entry = state.registry.get(p.modelId)
      // Global events are applied again on recovery: an export already listed is not added twice.
      if (!entry || entry.exports?.some((e) => e.at === event.at && sameFiles(e.files, p.files))) break
      const record: ModelExport = { format: p.format, at: event.at, files: p.files }
      state.registry.set(entry.id, { ...entry, exports: [...(entry.exports ?? []), record] })
      break
    }
    case 'work.started': {
      const p = event.payload as unknown as EventPayloads['work.started']
      state.work.set(p.workId, {
        id: p.workId,
        kind: p.kind,
        requestId: event.requestId,
        startedAt: event.at,
      })
      break
    }
    case 'work.finished': {
      const p = event.payload as unknown as EventPayloads['work.finished']
      state.work.delete(p.workId)
      break
    }
    case 'settings.changed': {
      const p = event.payload as unknown as EventPayloads['settings.changed']
      state.settings = { ...p.settings }
      break
    }
    case 'certificate.issued': {
      const p = event.payload as unknown as EventPayloads['certificate.issued']
      const links = requestOf(state, event).links.certificates
      if (!links.includes(p.certificateId)) links.push(p.certificateId)
      break
    }
    case 'model.retained': {
      const p = event.payload as unknown as EventPayloads['model.retained']
      referTo(requestOf(state, event), p.reason)
      break
    }
    case 'ledger.repaired':
    case 'request.refused':
    case 'request.revealed':
      break // recorded for the audit trail; the state does not change
    default:
      throw new LetheError('CORRUPT', `Audit event ${event.seq} has an unknown type "${event.type}".`)
  }
  const record = event.requestId ? state.requests.get(event.requestId) : undefined
  if (record && !seen) {
    record.updatedAt = event.at
    record.history.push(event.seq)
  }
  state.seq = Math.max(state.seq, event.seq)
}
