/**
 * The request ledger: the erasure-request workflow on top of the store. Every change is an
 * audit event appended through one queue (one writer, no lost update); personal data goes to
 * the personal store first, so an acknowledged request is never without it.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { z } from 'zod'
import { LetheError } from '../contract'
import {
  defaultBasis,
  type AuditEvent,
  type ListQuery,
  type NewRequest,
  type RegistryEntry,
  type RequestStatus,
  type RequestView,
  type SignedHead,
  type LedgerSettings,
} from '../contract/ledger'
import { sha256Hex } from '../lib/digest'
import { writeFileDurably } from '../lib/files'
import type { KeyProtector } from '../lib/key-protector'
import { DurableDocument, SerialQueue } from './durable'
import { checkExtension, daysBetween, deadlinesFor, deadlineStatus, median, type Calendar } from './deadlines'
import { hasClearKey, hmacOf, requesterHashOf, requesterHmacOf, sealClearKey, textHmacOf } from './keys'
import { LedgerLock } from './lock'
import {
  maskEmail,
  maskName,
  maskValue,
  PERSONAL_SHARD,
  personalMismatches,
  type PersonalRecord,
} from './personal'
import {
  allowedTransitions,
  isClosed,
  isTextRef,
  type ChainText,
  type EventPayloads,
  type EventType,
  type RequestRecord,
  type TextRef,
} from './state'
import { LedgerStore, moveAside, snapshotFolder, type NewEvent, type StoreOptions } from './store'

export interface LedgerOptions extends StoreOptions {
  /** Flush the projection this long after the last write (ms). */
  flushDelayMs?: number
  backupsKept?: number
}

const BACKUP_EVERY_MS = 24 * 3600 * 1000

/** Which models a certificate covers (default: the request's linked result) and whether it replaces one. */
export interface CertificateChoice {
  modelIds?: string[]
  supersede?: boolean
}

/** A certificate about to be issued: what it cites, its number, what it covers and replaces. */
export interface CertificatePlan {
  record: RequestRecord
  head: SignedHead
  certificateId: string
  modelIds: string[]
  supersedes: string | null
}

/** Why a request cannot be certified at all, or null. */
function certifyRefusal(record: RequestRecord): string | null {
  if (record.status !== 'completed')
    return `${record.id} is ${record.status}; only a completed erasure can be certified.`
  if (record.links.models.length === 0)
    return `${record.id} has no unlearned model linked: run the unlearning first.`
  return null
}

export class Ledger {
  private readonly queue = new SerialQueue()
  private flushTimer: NodeJS.Timeout | undefined
  private readonly byHash = new Map<string, Set<string>>()
  private readonly perYear = new Map<string, number>()

  private constructor(
    readonly dataDir: string,
    private store: LedgerStore,
    private readonly lock: LedgerLock | null,
    private readonly options: LedgerOptions,
  ) {
    this.index()
  }

  static paths(dataDir: string) {
    return {
      root: path.join(dataDir, 'ledger'),
      lock: path.join(dataDir, 'ledger.lock'),
      backups: path.join(dataDir, 'ledger-backups'),
      attachments: path.join(dataDir, 'ledger', 'attachments'),
    }
  }

  /**
   * Opens the ledger in `dataDir`: takes the writer's lock unless read-only, recovers, and, as
   * the writer, tidies what a crash or an older Lethe left and backs up daily.
   */
  static async open(dataDir: string, options: LedgerOptions = {}): Promise<Ledger> {
    const paths = Ledger.paths(dataDir)
    const lock = options.readOnly ? null : LedgerLock.acquire(paths.lock)
    try {
      if (!options.readOnly) await sealClearKeys(dataDir, options.keyProtector)
      const store = await LedgerStore.open(paths.root, options)
      const ledger = new Ledger(dataDir, store, lock, options)
      if (!options.readOnly) {
        await restrictPermissions(paths.root)
        await restrictPermissions(paths.backups)
        // Personal data written by an import a crash interrupted before its events: never acknowledged.
        await store.personal.removeUnknown(ledger.state.requests.size + 1, (id) =>
          ledger.state.requests.has(id),
        )
        await ledger.backupIfDue()
        // Damage in a sealed segment stops all signing as soon as it is found; this reads every segment.
        void store.checkSealedSegments().catch(() => undefined)
      }
      return ledger
    } catch (error) {
      lock?.release()
      throw error
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.flushTimer)
    await this.queue.run(() => this.store.flush())
    this.lock?.release()
  }

  get state() {
    return this.store.state
  }

  // ── clock and calendar ──────────────────────────────────────────────────────────────

  private now(): Date {
    return this.options.now?.() ?? new Date()
  }

  /** The local calendar date: legal periods run on the office's calendar, not UTC. */
  today(): string {
    const d = this.now()
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
  }

  private calendar(): Calendar {
    const s = this.state.settings
    return { holidays: new Set(s.holidays), otherDays: s.otherJurisdictionDays }
  }

  // ── writing ─────────────────────────────────────────────────────────────────────────

  private write<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      const result = await task()
      this.scheduleFlush()
      return result
    })
  }

  private scheduleFlush(): void {
    clearTimeout(this.flushTimer)
    this.flushTimer = setTimeout(
      () => void this.queue.run(() => this.store.flush()),
      this.options.flushDelayMs ?? 250,
    )
    this.flushTimer.unref()
  }

  private append(actor: string, events: NewEvent[]): Promise<AuditEvent[]> {
    return this.store.append(actor, events)
  }

  private event<T extends EventType>(type: T, requestId: string | null, payload: EventPayloads[T]): NewEvent {
    return { type, requestId, payload } as NewEvent
  }

  private record(id: string): RequestRecord {
    const record = this.state.requests.get(id)
    if (!record) throw new LetheError('NOT_FOUND', `There is no request ${id}.`, { id })
    return record
  }

  /** Logs a refused action, then refuses it: blocked attempts belong in the audit trail too. */
  private async refuse(
    actor: string,
    record: RequestRecord,
    action: string,
    to: string | null,
    reason: string,
  ): Promise<never> {
    await this.append(actor, [
      this.event('request.refused', record.id, { action, from: record.status, to, reason }),
    ])
    throw new LetheError('CONFLICT', reason, {
      id: record.id,
      status: record.status,
      allowed: allowedTransitions(record),
    })
  }

  // ── requests ────────────────────────────────────────────────────────────────────────

  private index(): void {
    for (const record of this.state.requests.values()) this.indexRecord(record)
  }

  private indexRecord(record: RequestRecord): void {
    for (const hash of [record.requesterHash, ...record.subjectHashes.map((s) => s.hmac)]) {
      let ids = this.byHash.get(hash)
      if (!ids) this.byHash.set(hash, (ids = new Set()))
      ids.add(record.id)
    }
    const year = record.id.slice(5, 9)
    this.perYear.set(year, Math.max(this.perYear.get(year) ?? 0, Number(record.id.slice(10))))
  }

  /** Builds a new request's record and personal data without storing anything. */
  private draft(input: z.output<typeof NewRequest>, n: number, id: string, at: string) {
    const requester = {
      name: input.requester.name,
      email: input.requester.email ?? null,
      otherContact: input.requester.otherContact ?? null,
    }
    const { dueDate, acknowledgeBy, extensionNoticeBy, extendedDueDate } = deadlinesFor(
      input.jurisdiction,
      input.received,
      this.calendar(),
    )
    const deadlines = { dueDate, acknowledgeBy, extensionNoticeBy, extendedDueDate }
    const texts: Record<string, string> = {}
    const ground = input.ground === undefined ? null : this.keepText(texts, input.ground)
    const assignee = input.assignee === undefined ? null : this.keepText(texts, input.assignee)
    const record: RequestRecord = {
      n,
      id,
      status: 'received',
      heldFrom: null,
      holdReason: null,
      jurisdiction: input.jurisdiction,
      legalBasis: input.legalBasis ?? defaultBasis[input.jurisdiction],
      ground,
      channel: input.channel,
      received: input.received,
      requesterHash: requesterHashOf(this.store.keyMaterial, requester),
      requesterHmac: requesterHmacOf(this.store.keyMaterial, requester),
      subjectHashes: input.subjectIds.map((s) => ({
        type: s.type,
        hmac: hmacOf(this.store.keyMaterial, s.type, s.value),
      })),
      identity: { status: 'unverified', method: null, on: null },
      deadlines,
      acknowledgedOn: null,
      extension: null,
      assignee,
      decision: null,
      notes: [],
      texts: [ground, assignee].filter(isTextRef),
      attachments: [],
      links: { models: [], runs: [], certificates: [] },
      closedOn: null,
      redactedOn: null,
      createdAt: at,
      updatedAt: at,
      history: [],
    }
    const personal: PersonalRecord = {
      requester,
      subjectIds: input.subjectIds,
      notes: {},
      attachmentNames: {},
      texts,
    }
    return { record, personal }
  }

  /**
   * Creates requests (one, or a whole import) as one durable batch: their personal data with one
   * write per shard, then all their events in one append. A crash between the two leaves personal
   * records no event names, which the next open removes: all the rows, or none.
   */
  async create(inputs: z.output<typeof NewRequest>[], actor: string): Promise<string[]> {
    if (inputs.length > 0 && inputs.some((i) => i.received > this.today())) {
      throw new LetheError(
        'BAD_INPUT',
        `A request cannot be received in the future (today is ${this.today()}).`,
      )
    }
    return this.write(async () => {
      const at = this.now().toISOString()
      const events: NewEvent[] = []
      const drafts: RequestRecord[] = []
      let n = this.state.requests.size
      const years = new Map(this.perYear)
      const personalData: { n: number; id: string; record: PersonalRecord }[] = []
      for (const input of inputs) {
        const year = input.received.slice(0, 4)
        const count = (years.get(year) ?? 0) + 1
        years.set(year, count)
        const id = `RTBF-${year}-${String(count).padStart(4, '0')}`
        const { record, personal } = this.draft(input, ++n, id, at)
        const noteId = input.note ? randomUUID() : null
        if (noteId && input.note) personal.notes[noteId] = input.note
        personalData.push({ n: record.n, id, record: personal })
        events.push(this.event('request.created', id, { record }))
        if (noteId && input.note)
          events.push(this.event('request.noted', id, { noteId, chars: input.note.length }))
        drafts.push(record)
      }
      await this.store.personal.putMany(personalData)
      await this.append(actor, events)
      for (const record of drafts) this.indexRecord(this.record(record.id))
      return drafts.map((r) => r.id)
    })
  }

  async transition(
    input: {
      id: string
      to: RequestStatus
      reason?: string
      method?: string
      exemption?: string
      on?: string
    },
    actor: string,
  ): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      const allowed = allowedTransitions(record)
      if (!allowed.includes(input.to)) {
        const options = allowed.length ? allowed.join(', ') : 'none'
        return this.refuse(
          actor,
          record,
          'transition',
          input.to,
          `${record.id} cannot move from ${record.status} to ${input.to}; from ${record.status} it can move to: ${options}.`,
        )
      }
      const on = input.on ?? this.today()
      const required = (field: 'reason' | 'method' | 'exemption', why: string) => {
        if (!input[field])
          throw new LetheError('BAD_INPUT', `Moving ${record.id} to ${input.to} needs ${why}.`, { field })
      }
      const reopening = isClosed(record.status)
      const resuming = record.status === 'on-hold' && input.to === record.heldFrom
      if (input.to === 'identity-verified' && !resuming)
        required('method', 'the identity-verification method')
      if (input.to === 'rejected') {
        required('exemption', 'the exemption relied on (e.g. "GDPR Art. 17(3)(b)")')
        required('reason', 'the reason given to the requester')
      }
      if (input.to === 'on-hold') required('reason', 'the reason for the hold')
      if (reopening) required('reason', 'the reason for reopening')
      if (on < record.received)
        throw new LetheError('BAD_INPUT', `${on} is before the request was received (${record.received}).`)
      const { reason, method, exemption } = await this.keepTexts(record, 'transition', actor, {
        reason: input.reason,
        method: input.method,
        exemption: input.exemption,
      })
      await this.append(actor, [
        this.event('request.transitioned', record.id, {
          from: record.status,
          to: input.to,
          on,
          reason,
          method,
          exemption,
        }),
      ])
    })
  }

  async extend(input: { id: string; reason: string; noticeDate?: string }, actor: string): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      const noticeDate = input.noticeDate ?? this.today()
      if (isClosed(record.status)) {
        return this.refuse(
          actor,
          record,
          'extend',
          null,
          `${record.id} is ${record.status}; a closed request has no deadline to extend.`,
        )
      }
      const check = checkExtension(
        record.jurisdiction,
        record.received,
        noticeDate,
        record.extension !== null,
        this.calendar(),
      )
      if (!check.allowed)
        return this.refuse(actor, record, 'extend', null, check.reason ?? 'The extension is not allowed.')
      const dueDate = record.deadlines.extendedDueDate as string
      const { reason } = await this.keepTexts(record, 'extend', actor, { reason: input.reason })
      await this.append(actor, [this.event('request.extended', record.id, { reason, noticeDate, dueDate })])
    })
  }

  async acknowledge(input: { id: string; on?: string }, actor: string): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      const on = input.on ?? this.today()
      if (record.acknowledgedOn) {
        return this.refuse(
          actor,
          record,
          'acknowledge',
          null,
          `${record.id} was already acknowledged on ${record.acknowledgedOn}.`,
        )
      }
      if (on < record.received)
        throw new LetheError('BAD_INPUT', `${on} is before the request was received (${record.received}).`)
      await this.append(actor, [this.event('request.acknowledged', record.id, { on })])
    })
  }

  async update(
    input: {
      id: string
      assignee?: string | null
      channel?: RequestRecord['channel']
      legalBasis?: RequestRecord['legalBasis']
      ground?: string | null
    },
    actor: string,
  ): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      const changes: EventPayloads['request.updated']['changes'] = {}
      if (input.channel !== undefined && input.channel !== record.channel) changes.channel = input.channel
      if (input.legalBasis !== undefined && input.legalBasis !== record.legalBasis)
        changes.legalBasis = input.legalBasis
      const personal = await this.personalOf(record)
      const edited: { assignee?: string | null; ground?: string | null } = {}
      for (const field of ['assignee', 'ground'] as const) {
        const value = input[field]
        if (value !== undefined && value !== textOf(record[field], personal)) edited[field] = value
      }
      if (Object.keys(changes).length === 0 && Object.keys(edited).length === 0) return
      Object.assign(changes, await this.keepTexts(record, 'update', actor, edited))
      await this.append(actor, [this.event('request.updated', record.id, { changes })])
    })
  }

  async addNote(input: { id: string; text: string }, actor: string): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      const personal = await this.personalOrRefuse(record, 'note', actor)
      const noteId = randomUUID()
      await this.store.personal.put(record.n, record.id, {
        ...personal,
        notes: { ...personal.notes, [noteId]: input.text },
      })
      await this.append(actor, [this.event('request.noted', record.id, { noteId, chars: input.text.length })])
    })
  }

  /** Attach a file given by its path, or by its name and bytes (an upload from the browser). */
  async attach(
    input: { id: string; mediaType?: string } & ({ path: string } | { name: string; content: Uint8Array }),
    actor: string,
  ): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      const personal = await this.personalOrRefuse(record, 'attach', actor)
      let content: Uint8Array
      if ('content' in input) content = input.content
      else {
        try {
          content = await readFile(input.path)
        } catch (error) {
          throw new LetheError('BAD_INPUT', `Cannot read ${input.path}: ${(error as Error).message}`)
        }
      }
      const name = 'name' in input ? path.basename(input.name) : path.basename(input.path)
      const attachmentId = randomUUID()
      const folder = path.join(Ledger.paths(this.dataDir).attachments, record.id)
      await mkdir(folder, { recursive: true, mode: 0o700 })
      await writeFileDurably(path.join(folder, attachmentId), content)
      const sha256 = sha256Hex(content)
      const names = { ...personal.attachmentNames, [attachmentId]: name }
      await this.store.personal.put(record.n, record.id, { ...personal, attachmentNames: names })
      await this.append(actor, [
        this.event('request.attached', record.id, {
          attachmentId,
          sha256,
          bytes: content.length,
          mediaType: input.mediaType ?? guessMediaType(name),
          nameHmac: hmacOf(this.store.keyMaterial, 'attachment-name', name),
        }),
      ])
    })
  }

  /** An attachment's bytes, checked against the SHA-256 recorded when it was attached. */
  async attachment(id: string, attachmentId: string): Promise<{ content: Buffer; mediaType: string }> {
    const record = this.record(id)
    const meta = record.attachments.find((a) => a.id === attachmentId)
    if (!meta) throw new LetheError('NOT_FOUND', `${id} has no attachment ${attachmentId}.`)
    const file = path.join(Ledger.paths(this.dataDir).attachments, record.id, attachmentId)
    let content: Buffer
    try {
      content = await readFile(file)
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it is missing' : (error as Error).message
      throw new LetheError('CORRUPT', `The attachment ${attachmentId} of ${id} cannot be read: ${reason}.`, {
        file,
      })
    }
    if (sha256Hex(content) !== meta.sha256) {
      throw new LetheError(
        'CORRUPT',
        `The attachment ${attachmentId} of ${id} was changed after it was attached.`,
        {
          file,
        },
      )
    }
    return { content, mediaType: meta.mediaType }
  }

  async link(
    input: { id: string; kind: keyof RequestRecord['links']; target: string },
    actor: string,
  ): Promise<void> {
    await this.write(async () => {
      const record = this.record(input.id)
      if (record.links[input.kind].includes(input.target)) return
      await this.append(actor, [
        this.event('request.linked', record.id, { kind: input.kind, target: input.target }),
      ])
    })
  }

  /** Keeps a free text in `texts` (a personal record's, stored by the caller) and returns what the chain holds of it. */
  private keepText(texts: Record<string, string>, text: string): TextRef {
    const textId = randomUUID()
    texts[textId] = text
    return { textId, hmac: textHmacOf(this.store.keyMaterial, textId, text) }
  }

  /**
   * Stores the free texts a change gives in the request's personal record, durably and before
   * the event that refers to them, and returns what the event holds instead: a TextRef for each
   * text, null where none was given.
   */
  private async keepTexts<T extends Record<string, string | null | undefined>>(
    record: RequestRecord,
    action: string,
    actor: string,
    given: T,
  ): Promise<{ [K in keyof T]: T[K] extends string ? TextRef : TextRef | null }> {
    const entries = Object.entries(given)
    let texts: Record<string, string> | undefined
    const refs = Object.fromEntries(
      entries.map(([field, text]) => [field, text == null ? null : this.keepText((texts ??= {}), text)]),
    )
    if (texts) {
      const personal = await this.personalOrRefuse(record, action, actor)
      await this.store.personal.put(record.n, record.id, {
        ...personal,
        texts: { ...personal.texts, ...texts },
      })
    }
    return refs as { [K in keyof T]: T[K] extends string ? TextRef : TextRef | null }
  }

  /** Notes, attachments and free texts are personal data: once erased, none can be added. */
  private async personalOrRefuse(
    record: RequestRecord,
    action: string,
    actor: string,
  ): Promise<PersonalRecord> {
    const personal = await this.personalOf(record)
    if (personal) return personal
    const why = `${record.id}'s personal data was erased on ${record.redactedOn}; nothing can be added to it (${action}).`
    return this.refuse(actor, record, action, null, why)
  }

  /** A request's personal data, checked against the salted hashes the chain holds of it. */
  /**
   * A free-text field of a request (its ground, say) as the desk reads it, for what is built
   * outside the ledger from its records: null once erased.
   */
  async readText(record: RequestRecord, value: ChainText | null): Promise<string | null> {
    return textOf(value, isTextRef(value) ? await this.personalOf(record) : null)
  }

  private async personalOf(record: RequestRecord): Promise<PersonalRecord | null> {
    const personal = record.redactedOn ? null : await this.store.personal.get(record.n, record.id)
    const problems = personal ? personalMismatches(this.store.keyMaterial, record, personal) : []
    if (problems.length) {
      throw new LetheError(
        'CORRUPT',
        `${problems.join('; ')}: the personal data was edited outside Lethe. Restore it from a backup.`,
        { id: record.id },
      )
    }
    return personal
  }

  /**
   * Which of these raw identifiers (a dataset's subject column) belong to the request: each
   * is hashed with the ledger's key under every identifier type the request names, and
   * compared with the request's hashes. No raw identifier is stored or needed.
   */
  matchSubjects(id: string, candidates: readonly string[]): number[] {
    const record = this.record(id)
    const wanted = new Set(record.subjectHashes.map((s) => `${s.type}:${s.hmac}`))
    const types = [...new Set(record.subjectHashes.map((s) => s.type))]
    const keys = this.store.keyMaterial
    const matches: number[] = []
    candidates.forEach((value, index) => {
      if (types.some((type) => wanted.has(`${type}:${hmacOf(keys, type, value)}`))) matches.push(index)
    })
    return matches
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────

  async view(id: string, reveal = false, actor = 'system'): Promise<RequestView> {
    const record = this.record(id)
    if (reveal) {
      await this.write(() =>
        this.append(actor, [
          this.event('request.revealed', id, {
            fields: ['requester', 'subjectIds', 'notes', 'attachmentNames'],
          }),
        ]),
      )
    }
    return this.toView(record, await this.personalOf(record), reveal)
  }

  /** The audit events with these sequence numbers, as the desk reads them (see withTexts). */
  async events(seqs: readonly number[]): Promise<AuditEvent[]> {
    return this.withTexts(await this.store.readEvents(seqs))
  }

  /**
   * Events with each free text they refer to by TextRef joined back from the personal store
   * (null once erased), as events written before schema 2 carried it. The hash covers the stored
   * form: verification reads the files (verify.ts), never these.
   */
  async withTexts(events: readonly AuditEvent[]): Promise<AuditEvent[]> {
    const personal = new Map<string, PersonalRecord | null>()
    const joined: AuditEvent[] = []
    for (const event of events) {
      const fields = TEXT_FIELDS[event.type]
      const record = event.requestId ? this.state.requests.get(event.requestId) : undefined
      if (!fields || !record) {
        joined.push(event)
        continue
      }
      if (!personal.has(record.id)) personal.set(record.id, await this.personalOf(record))
      const payload = structuredClone(event.payload)
      for (const field of fields) {
        const parent = field
          .slice(0, -1)
          .reduce<Record<string, unknown> | undefined>(
            (at, key) => at?.[key] as Record<string, unknown> | undefined,
            payload,
          )
        const key = field.at(-1) as string
        if (parent && isTextRef(parent[key]))
          parent[key] = textOf(parent[key], personal.get(record.id) ?? null)
      }
      joined.push({ ...event, payload })
    }
    return joined
  }

  private toView(record: RequestRecord, personal: PersonalRecord | null, reveal: boolean): RequestView {
    const dueDate = record.extension?.dueDate ?? record.deadlines.dueDate
    const status = deadlineStatus(dueDate, this.today(), !isClosed(record.status))
    const show = <T>(value: T | null | undefined, mask: (v: T) => string): string | null =>
      value === null || value === undefined ? null : reveal ? String(value) : mask(value)
    const duplicates = new Set<string>()
    for (const hash of [record.requesterHash, ...record.subjectHashes.map((s) => s.hmac)]) {
      for (const other of this.byHash.get(hash) ?? []) if (other !== record.id) duplicates.add(other)
    }
    return {
      id: record.id,
      status: record.status,
      allowedTransitions: allowedTransitions(record),
      jurisdiction: record.jurisdiction,
      legalBasis: record.legalBasis,
      ground: textOf(record.ground, personal),
      channel: record.channel,
      received: record.received,
      requester: personal
        ? {
            name: show(personal.requester.name, maskName) ?? '',
            email: show(personal.requester.email, maskEmail),
            otherContact: show(personal.requester.otherContact, maskValue),
          }
        : null,
      subjectIds: record.subjectHashes.map((s, i) => ({
        type: s.type,
        value: show(personal?.subjectIds[i]?.value, maskValue),
      })),
      revealed: reveal && personal !== null,
      identity: { ...record.identity, method: textOf(record.identity.method, personal) },
      deadline: {
        dueDate,
        acknowledgeBy: record.deadlines.acknowledgeBy,
        acknowledgedOn: record.acknowledgedOn,
        extensionNoticeBy: record.extension ? null : record.deadlines.extensionNoticeBy,
        extension: record.extension && {
          ...record.extension,
          reason: textOf(record.extension.reason, personal),
        },
        rule: deadlinesFor(record.jurisdiction, record.received, this.calendar()).rule,
        ...status,
      },
      assignee: textOf(record.assignee, personal),
      decision:
        record.decision?.kind === 'reject'
          ? {
              kind: 'reject',
              exemption: textOf(record.decision.exemption, personal),
              reason: textOf(record.decision.reason, personal),
            }
          : record.decision,
      holdReason: textOf(record.holdReason, personal),
      notes: record.notes.map((n) => ({
        id: n.id,
        at: n.at,
        actor: n.actor,
        text: reveal ? (personal?.notes[n.id] ?? null) : null,
      })),
      attachments: record.attachments.map((a) => ({
        ...a,
        name: reveal ? (personal?.attachmentNames[a.id] ?? null) : null,
      })),
      links: record.links,
      possibleDuplicates: [...duplicates].sort(),
      closedOn: record.closedOn,
      redactedOn: record.redactedOn,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    }
  }

  async list(query: z.output<typeof ListQuery>): Promise<{ total: number; items: RequestView[] }> {
    const today = this.today()
    const dueOf = (r: RequestRecord) => r.extension?.dueDate ?? r.deadlines.dueDate
    const filtered = [...this.state.requests.values()].filter((r) => {
      if (query.status && !query.status.includes(r.status)) return false
      if (query.jurisdiction && !query.jurisdiction.includes(r.jurisdiction)) return false
      const open = !isClosed(r.status)
      const daysLeft = daysBetween(today, dueOf(r))
      if (query.overdue !== undefined && query.overdue !== (open && daysLeft < 0)) return false
      if (query.dueWithinDays !== undefined && !(open && daysLeft <= query.dueWithinDays)) return false
      return true
    })
    let selected = filtered
    if (query.search) {
      const matches = this.searcher(query.search)
      selected = []
      // One at a time: the personal shards load once and are then shared.
      for (const r of filtered) if (await matches(r)) selected.push(r)
    }
    const key: Record<typeof query.sort, (r: RequestRecord) => string | number> = {
      received: (r) => r.received,
      due: dueOf,
      id: (r) => r.n,
      status: (r) => r.status,
      updated: (r) => r.updatedAt,
    }
    const sign = query.order === 'asc' ? 1 : -1
    const by = key[query.sort]
    selected.sort((a, b) => {
      const x = by(a)
      const y = by(b)
      return (x < y ? -1 : x > y ? 1 : a.n - b.n) * sign
    })
    const page = selected.slice(query.offset, query.offset + query.limit)
    const items = await Promise.all(page.map(async (r) => this.toView(r, await this.personalOf(r), false)))
    return { total: selected.length, items }
  }

  /**
   * Search by id or assignee text, or by an exact identifier through its HMAC (no plain text is
   * stored). The assignee is read from the personal store unchecked: it is only compared here,
   * and shown only through personalOf, which checks it.
   */
  private searcher(term: string): (r: RequestRecord) => Promise<boolean> {
    const lower = term.toLowerCase()
    const keys = this.store.keyMaterial
    const hashes = new Set<string>([
      hmacOf(keys, 'requester-email', term),
      ...(['customer-id', 'email', 'phone', 'account', 'device-id', 'other'] as const).map((t) =>
        hmacOf(keys, t, term),
      ),
    ])
    const assigneeOf = async (r: RequestRecord) =>
      isTextRef(r.assignee)
        ? textOf(r.assignee, r.redactedOn ? null : await this.store.personal.get(r.n, r.id))
        : r.assignee
    return async (r) =>
      r.id.toLowerCase().includes(lower) ||
      hashes.has(r.requesterHash) ||
      r.subjectHashes.some((s) => hashes.has(s.hmac)) ||
      ((await assigneeOf(r))?.toLowerCase().includes(lower) ?? false)
  }

  summary() {
    const today = this.today()
    const month = today.slice(0, 7)
    const byStatus = Object.fromEntries(
      (['received', 'identity-verified', 'in-progress', 'on-hold', 'completed', 'rejected'] as const).map(
        (s) => [s, 0],
      ),
    ) as Record<RequestStatus, number>
    let open = 0
    let dueWithin7Days = 0
    let overdue = 0
    let closedThisMonth = 0
    const durations: number[] = []
    for (const r of this.state.requests.values()) {
      byStatus[r.status] += 1
      if (r.closedOn) {
        durations.push(daysBetween(r.received, r.closedOn))
        if (r.closedOn.startsWith(month)) closedThisMonth += 1
        continue
      }
      open += 1
      const left = daysBetween(today, r.extension?.dueDate ?? r.deadlines.dueDate)
      if (left < 0) overdue += 1
      else if (left <= 7) dueWithin7Days += 1
    }
    return {
      open,
      byStatus,
      dueWithin7Days,
      overdue,
      closedThisMonth,
      medianDaysToClose: median(durations),
      today,
    }
  }

  head(): SignedHead {
    const head = this.store.head
    if (!head) throw new LetheError('INTERNAL', 'The ledger has no head yet.')
    return head
  }

  // ── certificates ─────────────────────────────────────────────────────────────────

  /**
   * What issuing a certificate for request `id` would cover and replace, and its number; nothing
   * is written, so a preview and a refused second issuance leave the ledger as it was. `modelIds`
   * default to the request's linked result (its newest linked model); a request that already has
   * a certificate gets another only with `supersede`.
   */
  certificatePlan(id: string, { modelIds, supersede }: CertificateChoice): CertificatePlan {
    const record = this.record(id)
    const refusal = certifyRefusal(record)
    if (refusal) throw new LetheError('CONFLICT', refusal, { id: record.id, status: record.status })
    const covered = modelIds?.length ? [...new Set(modelIds)] : [record.links.models.at(-1) as string]
    const unlinked = covered.filter((m) => !record.links.models.includes(m))
    if (unlinked.length > 0)
      throw new LetheError(
        'BAD_INPUT',
        `${unlinked.join(', ')} ${unlinked.length === 1 ? 'is' : 'are'} not linked to ${record.id}; it links ${record.links.models.join(', ')}.`,
        { id: record.id, unlinked, linked: record.links.models },
      )
    const earlier = record.links.certificates.at(-1) ?? null
    if (earlier && !supersede)
      throw new LetheError(
        'CONFLICT',
        `${record.id} already has certificate ${earlier}; issue again with supersede to replace it (both stay in the ledger).`,
        { id: record.id, certificateId: earlier },
      )
    const year = this.today().slice(0, 4)
    const issued = [...this.state.requests.values()]
      .flatMap((r) => r.links.certificates)
      .filter((c) => c.startsWith(`CERT-${year}-`))
    return {
      record,
      head: this.head(),
      certificateId: `CERT-${year}-${String(issued.length + 1).padStart(4, '0')}`,
      modelIds: covered,
      supersedes: earlier,
    }
  }

  /**
   * Issues a certificate for a completed erasure: `make` renders and stores the PDF (given the
   * plan: the request, the ledger head it must cite, the new certificate id, the models covered
   * and the certificate replaced), then the issuance is appended. An erasure that is not complete
   * is refused and the refusal logged; a bad choice of models or a second certificate without
   * `supersede` is refused with nothing written.
   */
  async certify(
    id: string,
    actor: string,
    make: (plan: CertificatePlan) => Promise<{ manifestSha256: string; pdfSha256: string }>,
    choice: CertificateChoice = {},
  ): Promise<string> {
    return this.write(async () => {
      await this.store.signingKey()
      // A certificate cites the head: the whole history under it must be as it was sealed.
      const damage = await this.store.checkSealedSegments()
      if (damage) throw damage
      const record = this.record(id)
      const refusal = certifyRefusal(record)
      if (refusal) return this.refuse(actor, record, 'certify', null, refusal)
      const plan = this.certificatePlan(id, choice)
      const { manifestSha256, pdfSha256 } = await make(plan)
      await this.append(actor, [
        this.event('certificate.issued', record.id, {
          certificateId: plan.certificateId,
          manifestSha256,
          pdfSha256,
          modelId: plan.modelIds[0] as string,
          modelIds: plan.modelIds,
          supersedes: plan.supersedes,
        }),
      ])
      return plan.certificateId
    })
  }

  /** The issuance entry of a certificate, if the chain has one. */
  async issuanceOf(certificateId: string): Promise<AuditEvent | null> {
    for (const record of this.state.requests.values()) {
      if (!record.links.certificates.includes(certificateId)) continue
      const events = await this.store.readEvents(record.history)
      return (
        events.find((e) => e.type === 'certificate.issued' && e.payload.certificateId === certificateId) ??
        null
      )
    }
    return null
  }

  // ── retention and erasure work ────────────────────────────────────────────────────────

  /** Write-ahead: "started" is on disk before the work begins. */
  async beginWork(kind: string, requestId: string | null, actor: string): Promise<string> {
    return this.write(async () => {
      const workId = randomUUID()
      await this.append(actor, [this.event('work.started', requestId, { workId, kind })])
      return workId
    })
  }

  async finishWork(
    workId: string,
    outcome: 'completed' | 'failed' | 'abandoned',
    detail: string | null,
    actor: string,
  ): Promise<void> {
    await this.write(async () => {
      const item = this.state.work.get(workId)
      if (!item) throw new LetheError('NOT_FOUND', `No unfinished work ${workId}.`)
      await this.append(actor, [this.event('work.finished', item.requestId, { workId, outcome, detail })])
    })
  }

  /**
   * Erases the personal data of requests closed longer ago than the retention period: here, in
   * every backup, and in every ledger folder a restore or an import moved aside, so that no
   * restore can bring it back.
   */
  async applyRetention(actor = 'system'): Promise<string[]> {
    const today = this.today()
    const days = this.state.settings.retentionDays
    const due = [...this.state.requests.values()].filter(
      (r) => r.closedOn && !r.redactedOn && daysBetween(r.closedOn, today) >= days,
    )
    const redacted: string[] = []
    for (const record of due) {
      const workId = await this.beginWork('redaction', record.id, actor)
      await this.write(async () => {
        const personal = await this.store.personal.get(record.n, record.id)
        await this.store.personal.put(record.n, record.id, null)
        await rm(path.join(Ledger.paths(this.dataDir).attachments, record.id), {
          recursive: true,
          force: true,
        })
        for (const copy of await ledgerCopies(this.dataDir)) await eraseFromCopy(copy, record)
        const personalFields = personal
          ? 1 +
            personal.subjectIds.length +
            (personal.requester.email ? 1 : 0) +
            Object.keys(personal.texts).length
          : 0
        await this.append(actor, [
          this.event('request.redacted', record.id, {
            on: today,
            personalFields,
            notes: Object.keys(personal?.notes ?? {}).length,
            attachments: Object.keys(personal?.attachmentNames ?? {}).length,
          }),
          this.event('work.finished', record.id, { workId, outcome: 'completed', detail: null }),
        ])
      })
      redacted.push(record.id)
    }
    return redacted
  }

  async settings(changes: Partial<LedgerSettings>, actor: string): Promise<LedgerSettings> {
    const next = { ...this.state.settings, ...changes }
    if (JSON.stringify(next) !== JSON.stringify(this.state.settings)) {
      await this.write(() => this.append(actor, [this.event('settings.changed', null, { settings: next })]))
    }
    return this.state.settings
  }

  async register(
    entry: Omit<RegistryEntry, 'registeredAt' | 'deletedAt' | 'deletionRequestId'>,
    actor: string,
  ): Promise<RegistryEntry> {
    return this.write(async () => {
      const existing = this.state.registry.get(entry.id)
      if (existing) {
        if (existing.contentHash === entry.contentHash) return existing
        throw new LetheError('CONFLICT', `${entry.id} is already registered with another content hash.`)
      }
      const full = {
        ...entry,
        registeredAt: this.now().toISOString(),
        deletedAt: null,
        deletionRequestId: null,
      }
      await this.append(actor, [this.event('registry.registered', null, { entry: full })])
      return full
    })
  }

  /**
   * Records that a version's stored data was shredded (for a request, if one is named); its
   * registry entry keeps the hash and gains when. Deleting twice is refused.
   */
  async recordDeletion(
    input:
      | { kind: 'model'; id: string; reason: string; requestId: string | null }
      | { kind: 'dataset'; id: string; reason: string; requestId: string | null; replacedBy: string },
    actor: string,
  ): Promise<void> {
    await this.write(async () => {
      const deletedAt = this.state.registry.get(input.id)?.deletedAt
      if (deletedAt) throw new LetheError('CONFLICT', `${input.id} was already deleted on ${deletedAt}.`)
      // A reason is typed by a person, so the chain holds only its HMAC. Given for a request, it is
      // kept in that request's personal record; without one, only the version's tombstone has it.
      const reason: TextRef = input.requestId
        ? (await this.keepTexts(this.record(input.requestId), 'delete', actor, { reason: input.reason }))
            .reason
        : this.keepText({}, input.reason)
      const event =
        input.kind === 'model'
          ? this.event('model.deleted', input.requestId, { modelId: input.id, reason })
          : this.event('dataset.deleted', input.requestId, {
              datasetId: input.id,
              reason,
              replacedBy: input.replacedBy,
            })
      await this.append(actor, [event])
    })
  }

  /** Records that a version still trained on the request's rows is kept on purpose, and why. */
  async recordRetention(input: { modelId: string; requestId: string; reason: string }, actor: string) {
    await this.write(async () => {
      const record = this.record(input.requestId)
      const { reason } = await this.keepTexts(record, 'retain', actor, { reason: input.reason })
      await this.append(actor, [this.event('model.retained', input.requestId, { ...input, reason })])
    })
  }

  /**
   * Records that a version was written out as files, so a certificate can name what was deployed.
   * The caller gives file names only: a folder can name a person.
   */
  async recordExport(input: EventPayloads['model.exported'], actor: string): Promise<void> {
    const named = input.files.find((f) => f.fileName !== path.basename(f.fileName))
    if (named)
      throw new LetheError(
        'INTERNAL',
        `An export is recorded with file names only, not the path "${named.fileName}".`,
      )
    await this.write(() => this.append(actor, [this.event('model.exported', null, input)]))
  }

  /** The deletions and retentions of model versions recorded for a request, oldest first. */
  async modelDecisions(
    requestId: string,
  ): Promise<{ kind: 'deleted' | 'retained'; modelId: string; reason: string | null; at: string }[]> {
    const record = this.record(requestId)
    const events = await this.store.readEvents(record.history)
    const decisions = []
    for (const e of events) {
      if (e.type !== 'model.deleted' && e.type !== 'model.retained') continue
      decisions.push({
        kind: e.type === 'model.deleted' ? ('deleted' as const) : ('retained' as const),
        modelId: String(e.payload.modelId),
        // Null once the request's personal data was erased.
        reason: await this.readText(record, e.payload.reason as ChainText),
        at: e.at,
      })
    }
    return decisions
  }

  // ── backups ───────────────────────────────────────────────────────────────────────────

  async backupIfDue(): Promise<void> {
    const newest = (await backupIds(this.dataDir))[0]
    if (!newest || this.now().getTime() - Date.parse(backupTime(newest)) > BACKUP_EVERY_MS)
      await this.backup()
  }

  /** A consistent snapshot taken between writes; keeps the newest few. */
  async backup(): Promise<string> {
    return this.queue.run(async () => {
      await this.store.flush()
      const paths = Ledger.paths(this.dataDir)
      const id = this.now().toISOString().replace(/[:.]/g, '-')
      await snapshotFolder(paths.root, path.join(paths.backups, id))
      const kept = this.options.backupsKept ?? 7
      for (const old of (await backupIds(this.dataDir)).slice(kept)) {
        await rm(path.join(paths.backups, old), { recursive: true, force: true })
      }
      return id
    })
  }

  /** The store, for verification and export, which read its files directly. */
  get storage(): LedgerStore {
    return this.store
  }

  /** Runs a task between writes, with the projection flushed (for verify, export). */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      await this.store.flush()
      return task()
    })
  }
}

/** Where each kind of event holds free text (a path into its payload). */
const TEXT_FIELDS: Partial<Record<string, readonly (readonly string[])[]>> = {
  'request.created': [
    ['record', 'ground'],
    ['record', 'assignee'],
  ],
  'request.transitioned': [['reason'], ['method'], ['exemption']],
  'request.extended': [['reason']],
  'request.updated': [
    ['changes', 'assignee'],
    ['changes', 'ground'],
  ],
  'model.deleted': [['reason']],
  'model.retained': [['reason']],
  'dataset.deleted': [['reason']],
}

/** A free text as the desk reads it: from the personal store where the chain holds a TextRef, null once erased. */
function textOf(value: ChainText | null, personal: PersonalRecord | null): string | null {
  if (value === null) return null
  return isTextRef(value) ? (personal?.texts[value.textId] ?? null) : value
}

export async function listBackups(
  dataDir: string,
): Promise<{ id: string; at: string; events: number; bytes: number }[]> {
  const folder = Ledger.paths(dataDir).backups
  const result = []
  for (const id of await backupIds(dataDir)) {
    const events = path.join(folder, id, 'events')
    const files = (await readdir(events)).sort()
    let seq = 0
    let bytes = 0
    for (const f of files) bytes += (await stat(path.join(events, f))).size
    const last = files.at(-1)
    if (last) {
      try {
        seq =
          (JSON.parse(await readFile(path.join(events, last), 'utf8')) as { head: SignedHead | null }).head
            ?.seq ?? 0
      } catch {
        seq = 0
      }
    }
    result.push({ id, at: backupTime(id), events: seq, bytes })
  }
  return result
}

const BACKUP_ID = /^(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/

/** When a backup was taken, from its folder's name. */
const backupTime = (id: string) => id.replace(BACKUP_ID, '$1:$2:$3.$4Z')

/** The folders backup() made, newest first: named by their time (which sorts as it reads), holding events. */
async function backupIds(dataDir: string): Promise<string[]> {
  const folder = Ledger.paths(dataDir).backups
  if (!existsSync(folder)) return []
  return (await readdir(folder))
    .filter((id) => BACKUP_ID.test(id) && existsSync(path.join(folder, id, 'events')))
    .sort()
    .reverse()
}

/**
 * Replaces the ledger folder with a backup; the current folder is moved aside, never deleted.
 * Only a backup the ledger listed is taken: never a path, nor a folder it did not make.
 */
export async function restoreBackup(
  dataDir: string,
  backupId: string,
  now = new Date(),
): Promise<{ restored: string; movedAside: string }> {
  const paths = Ledger.paths(dataDir)
  const ids = await backupIds(dataDir)
  if (!ids.includes(backupId)) {
    const known = ids.length ? `the backups are ${ids.join(', ')}` : 'there are none'
    throw new LetheError('NOT_FOUND', `There is no backup "${backupId}"; ${known}.`, {
      backups: await listBackups(dataDir),
    })
  }
  const source = path.join(paths.backups, backupId)
  const lock = LedgerLock.acquire(paths.lock)
  try {
    const aside = path.join(dataDir, `ledger-replaced-${now.toISOString().replace(/[:.]/g, '-')}`)
    if (existsSync(paths.root)) await moveAside(paths.root, aside)
    await snapshotFolder(source, paths.root)
    return { restored: backupId, movedAside: aside }
  } finally {
    lock.release()
  }
}

/** Folders that hold a whole ledger besides the live one: backups, and ledgers moved aside. */
async function ledgerCopies(dataDir: string): Promise<string[]> {
  const backups = Ledger.paths(dataDir).backups
  const copies = (await backupIds(dataDir)).map((id) => path.join(backups, id))
  for (const name of await readdir(dataDir)) {
    if (name.startsWith('ledger-replaced-')) copies.push(path.join(dataDir, name))
  }
  return copies
}

/**
 * Erases a request's personal data from a copy of the ledger. The copy's files are hard links
 * to files the live ledger has since replaced; rewriting one gives the copy its own file and
 * leaves everything else shared.
 */
async function eraseFromCopy(copy: string, record: RequestRecord): Promise<void> {
  const shard = path.join(
    copy,
    'personal',
    `personal-${String(Math.floor((record.n - 1) / PERSONAL_SHARD)).padStart(4, '0')}.json`,
  )
  if (existsSync(shard)) {
    const doc = await new DurableDocument<{ records: Record<string, PersonalRecord> }>(shard, {
      records: {},
    }).load()
    if (record.id in doc.data.records) {
      const { [record.id]: erased, ...rest } = doc.data.records
      void erased
      await doc.commit({ records: rest })
    }
  }
  await rm(path.join(copy, 'attachments', record.id), { recursive: true, force: true })
}

/** Owner-only rights on everything under `folder`, which an older Lethe may have written readable by all. */
async function restrictPermissions(folder: string): Promise<void> {
  if (process.platform === 'win32' || !existsSync(folder)) return
  await chmod(folder, 0o700)
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const target = path.join(folder, entry.name)
    if (entry.isDirectory()) await restrictPermissions(target)
    else if (entry.isFile() && ((await stat(target)).mode & 0o077) !== 0) await chmod(target, 0o600)
  }
}

/** Seals head keys still in the clear, in the ledger and its backups (written by an older Lethe). */
async function sealClearKeys(dataDir: string, protector: (() => Promise<KeyProtector>) | undefined) {
  const paths = Ledger.paths(dataDir)
  const folders = [paths.root, ...(await ledgerCopies(dataDir))].map((f) => path.join(f, 'keys'))
  const clear = folders.filter(hasClearKey)
  if (clear.length === 0) return
  if (!protector)
    throw new LetheError('INTERNAL', 'The ledger’s head key must be sealed, and no key protector was given.')
  const sealing = await protector()
  for (const folder of clear) await sealClearKey(folder, sealing)
}

function guessMediaType(file: string): string {
  const ext = path.extname(file).toLowerCase()
  const types: Record<string, string> = {
    '.pdf': 'application/pdf',
    '.png': 'image/png',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.txt': 'text/plain',
    '.eml': 'message/rfc822',
    '.csv': 'text/csv',
    '.json': 'application/json',
  }
  return types[ext] ?? 'application/octet-stream'
}
