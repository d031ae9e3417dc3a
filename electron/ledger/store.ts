/**
 * The ledger on disk, built on lowdb documents:
 *
 *   ledger/meta.json                   format, schema version, ledger id
 *   ledger/events/events-SEQ.json      append-only audit segments named by their first seq (the truth), each with its signed head
 *   ledger/state/requests-NNNN.json    the request projection, sharded, each with the last seq applied
 *   ledger/state/global.json           settings, registry, unfinished work
 *   ledger/state/checkpoint.json       every event up to this seq is in the projection files
 *   ledger/personal/personal-NNNN.json personal data (see personal.ts)
 *   ledger/keys/                       head-signing and HMAC keys
 *
 * An append rewrites only the current segment (fsynced) before it is acknowledged; the
 * projection is written behind it and rebuilt from the events after a crash. Sealed segments
 * never change, so a backup is a folder of hard links.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { link, mkdir, readdir, readFile, rename, stat, copyFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../contract'
import type { AuditEvent, RegistryEntry, SignedHead } from '../contract/ledger'
import { checkLink, GENESIS_HASH, hashEvent, headSignatureValid, signHead } from './chain'
import { DurableDocument, parseStored } from './durable'
import { keysFromMaterial, newKeyMaterial, readKeyMaterial, writeKeyMaterial, type LedgerKeys } from './keys'
import { PersonalStore } from './personal'
import {
  applyEvent,
  emptyState,
  GLOBAL_EVENTS,
  SCHEMA_VERSION,
  type EventPayloads,
  type EventType,
  type LedgerState,
  type RequestRecord,
  type WorkItem,
} from './state'

export const FORMAT = 'lethe-ledger'

export interface Meta {
  format: typeof FORMAT
  schemaVersion: number
  ledgerId: string
  createdAt: string
  /** Requests per projection shard: fixed when the ledger is created. */
  shardRequests: number
}

export interface Segment {
  firstSeq: number
  events: AuditEvent[]
  head: SignedHead | null
}
interface RequestShard {
  appliedSeq: number
  records: RequestRecord[]
}
interface GlobalDoc {
  appliedSeq: number
  ledgerId: string | null
  settings: LedgerState['settings']
  registry: RegistryEntry[]
  work: WorkItem[]
}

export interface StoreOptions {
  readOnly?: boolean
  /** Events per segment (smaller in tests). */
  segmentEvents?: number
  /** Requests per projection shard, for a new ledger (smaller in tests). */
  shardRequests?: number
  now?: () => Date
}

export interface NewEvent<T extends EventType = EventType> {
  type: T
  requestId: string | null
  payload: EventPayloads[T]
}

const pad = (n: number, width: number) => String(n).padStart(width, '0')
const SEGMENT_NAME = /^events-(\d{12})\.json$/
export const segmentName = (firstSeq: number): string => `events-${pad(firstSeq, 12)}.json`
const GLOBAL_OWNER = -1

export class LedgerStore {
  readonly state: LedgerState = emptyState()
  readonly personal: PersonalStore
  private segments: number[] = []
  private current: DurableDocument<Segment> | undefined
  private readonly shardDocs = new Map<number, DurableDocument<RequestShard>>()
  private globalDoc!: DurableDocument<GlobalDoc>
  private checkpoint!: DurableDocument<{ appliedSeq: number }>
  private readonly dirty = new Set<number>()
  private readonly sealedCache = new Map<string, Segment>()
  private keys!: LedgerKeys
  private meta!: Meta
  private readonly segmentEvents: number
  private shardRequests = 512

  private constructor(
    readonly root: string,
    private readonly options: StoreOptions,
  ) {
    this.personal = new PersonalStore(path.join(root, 'personal'))
    this.segmentEvents = options.segmentEvents ?? 512
  }

  get ledgerId(): string {
    return this.meta.ledgerId
  }
  get keyMaterial(): LedgerKeys {
    return this.keys
  }
  get head(): SignedHead | null {
    return this.current?.data.head ?? null
  }
  get segmentFiles(): string[] {
    return this.segments.map((n) => this.segmentPath(n))
  }

  /** Opens (or, unless read-only, creates) the ledger in `root`, recovering the projection. */
  static async open(root: string, options: StoreOptions = {}): Promise<LedgerStore> {
    const store = new LedgerStore(root, options)
    await store.load()
    return store
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString()
  }

  private segmentPath(firstSeq: number): string {
    return path.join(this.root, 'events', segmentName(firstSeq))
  }

  private async load(): Promise<void> {
    const metaDoc = await new DurableDocument<Meta | null>(path.join(this.root, 'meta.json'), null).load()
    if (!metaDoc.data) {
      if (this.options.readOnly) throw new LetheError('NOT_FOUND', `There is no ledger in ${this.root} yet.`)
      return this.create(metaDoc)
    }
    this.meta = metaDoc.data
    this.shardRequests = this.meta.shardRequests
    if (this.meta.format !== FORMAT) {
      throw new LetheError('CORRUPT', `${metaDoc.file} is not a Lethe ledger.`, { file: metaDoc.file })
    }
    if (this.meta.schemaVersion > SCHEMA_VERSION) {
      throw new LetheError(
        'CONFLICT',
        `This ledger was written by a newer Lethe (schema ${this.meta.schemaVersion}; this one reads up to ${SCHEMA_VERSION}). Update Lethe to open it.`,
      )
    }
    this.keys = keysFromMaterial(await readKeyMaterial(path.join(this.root, 'keys')))
    await this.loadProjection()
    await this.recover()
  }

  private async create(metaDoc: DurableDocument<Meta | null>): Promise<void> {
    const material = newKeyMaterial()
    await writeKeyMaterial(path.join(this.root, 'keys'), material)
    this.keys = keysFromMaterial(material)
    this.shardRequests = this.options.shardRequests ?? this.shardRequests
    this.meta = {
      format: FORMAT,
      schemaVersion: SCHEMA_VERSION,
      ledgerId: randomUUID(),
      createdAt: this.now(),
      shardRequests: this.shardRequests,
    }
    await this.loadProjection()
    await this.append('system', [
      {
        type: 'ledger.created',
        requestId: null,
        payload: {
          ledgerId: this.meta.ledgerId,
          schemaVersion: SCHEMA_VERSION,
          publicKey: this.keys.publicKeyPem,
        },
      },
    ])
    await this.flush()
    // meta.json last: a crash before this point leaves a folder that is simply created again.
    await metaDoc.commit(this.meta)
  }

  private async loadProjection(): Promise<void> {
    const stateDir = path.join(this.root, 'state')
    this.globalDoc = await new DurableDocument<GlobalDoc>(path.join(stateDir, 'global.json'), {
      appliedSeq: 0,
      ledgerId: null,
      settings: this.state.settings,
      registry: [],
      work: [],
    }).load()
    this.checkpoint = await new DurableDocument(path.join(stateDir, 'checkpoint.json'), {
      appliedSeq: 0,
    }).load()
    const g = this.globalDoc.data
    this.state.ledgerId = g.ledgerId
    this.state.settings = g.settings
    for (const entry of g.registry) this.state.registry.set(entry.id, entry)
    for (const item of g.work) this.state.work.set(item.id, item)

    const names = existsSync(stateDir)
      ? (await readdir(stateDir)).filter((f) => /^requests-\d+\.json$/.test(f))
      : []
    for (const name of names.sort()) {
      const index = Number(name.slice(9, -5))
      const doc = await new DurableDocument<RequestShard>(path.join(stateDir, name), {
        appliedSeq: 0,
        records: [],
      }).load()
      this.shardDocs.set(index, doc)
      for (const record of doc.data.records) this.state.requests.set(record.id, record)
    }
  }

  private shardOf(n: number): number {
    return Math.floor((n - 1) / this.shardRequests)
  }

  /** Which projection files an event changes: the ledger-wide one, its request's shard, or both. */
  private ownersOf(event: AuditEvent): number[] {
    const owners = GLOBAL_EVENTS.has(event.type) ? [GLOBAL_OWNER] : []
    if (event.type === 'request.created') {
      owners.push(this.shardOf((event.payload as unknown as EventPayloads['request.created']).record.n))
    } else if (event.requestId) {
      const record = this.state.requests.get(event.requestId)
      if (record) owners.push(this.shardOf(record.n))
    }
    return owners
  }

  private appliedSeqOf(owner: number): number {
    if (owner === GLOBAL_OWNER) return this.globalDoc.data.appliedSeq
    return this.shardDocs.get(owner)?.data.appliedSeq ?? 0
  }

  /** Replays the events the projection files have not seen, checking the tail of the chain. */
  private async recover(): Promise<void> {
    const eventsDir = path.join(this.root, 'events')
    const names = existsSync(eventsDir) ? (await readdir(eventsDir)).filter((f) => SEGMENT_NAME.test(f)) : []
    this.segments = names.map((f) => Number(SEGMENT_NAME.exec(f)?.[1])).sort((a, b) => a - b)
    const lastIndex = this.segments.at(-1)
    if (lastIndex === undefined) {
      throw new LetheError(
        'CORRUPT',
        `The ledger in ${this.root} has no audit events: its events folder is missing.`,
        {
          file: eventsDir,
        },
      )
    }
    this.current = await new DurableDocument<Segment>(this.segmentPath(lastIndex), {
      firstSeq: lastIndex,
      events: [],
      head: null,
    }).load()
    const head = this.current.data.head
    const last = this.current.data.events.at(-1)
    if (!head || !last || head.seq !== last.seq || head.hash !== last.hash || !headSignatureValid(head)) {
      throw new LetheError(
        'CORRUPT',
        `${this.current.file} does not end at its signed head: it was truncated or edited.`,
        {
          file: this.current.file,
        },
      )
    }
    const from = this.checkpoint.data.appliedSeq
    if (from > last.seq) {
      throw new LetheError(
        'CORRUPT',
        `The audit log ends at seq ${last.seq} but the ledger had recorded seq ${from}: events are missing.`,
        {
          file: this.current.file,
        },
      )
    }
    // Load segments backwards until the first event after the checkpoint is covered.
    const tail: Segment[] = [this.current.data]
    for (let i = this.segments.length - 2; i >= 0 && (tail[0]?.events[0]?.seq ?? 0) > from + 1; i--) {
      const file = this.segmentPath(this.segments[i] as number)
      tail.unshift(await this.readSegment(file))
    }
    // The loaded tail must hold together link by link; replay what the projection lacks.
    let prev: AuditEvent | undefined
    for (const event of tail.flatMap((segment) => segment.events)) {
      const fault = checkLink(event, prev ? prev.seq + 1 : event.seq, prev ? prev.hash : event.prevHash)
      if (fault) {
        throw new LetheError('CORRUPT', `The audit log is damaged at seq ${fault.seq}: ${fault.reason}.`, {
          seq: fault.seq,
        })
      }
      prev = event
      const missing = this.ownersOf(event).filter((owner) => event.seq > this.appliedSeqOf(owner))
      if (event.seq > from && missing.length > 0) {
        applyEvent(this.state, event)
        for (const owner of missing) this.dirty.add(owner)
      }
    }
    this.state.seq = last.seq
    if (!this.options.readOnly && this.dirty.size > 0) await this.flush()
  }

  /**
   * Appends events as one durable write; returns them once they are on disk. Callers
   * serialise appends (the ledger service's queue): this method does not.
   */
  async append(actor: string, items: NewEvent[]): Promise<AuditEvent[]> {
    if (this.options.readOnly) throw new LetheError('LOCKED', 'This ledger is open read-only.')
    const at = this.now()
    const previous = this.current?.data.events.at(-1)
    let seq = this.state.seq
    let prevHash = previous?.hash ?? GENESIS_HASH
    const events = items.map((item) => {
      const unsigned = {
        seq: ++seq,
        at,
        actor,
        type: item.type,
        requestId: item.requestId,
        payload: item.payload as unknown as Record<string, unknown>,
        prevHash,
      }
      const event: AuditEvent = { ...unsigned, hash: hashEvent(unsigned) }
      prevHash = event.hash
      return event
    })
    const last = events.at(-1)
    if (!last) return []
    const head = signHead(
      { ledgerId: this.meta.ledgerId, seq: last.seq, hash: last.hash, at },
      this.keys.signing,
      this.keys.publicKeyPem,
    )

    let target = this.current
    if (!target || target.data.events.length >= this.segmentEvents) {
      const first = events[0]?.seq as number
      target = await new DurableDocument<Segment>(this.segmentPath(first), {
        firstSeq: first,
        events: [],
        head: null,
      }).load()
      await target.commit({ firstSeq: first, events, head })
      this.segments.push(first)
      this.current = target
    } else {
      await target.commit({ ...target.data, events: [...target.data.events, ...events], head })
    }
    // Only now, with the events on disk, does the projection move.
    for (const event of events) {
      applyEvent(this.state, event)
      for (const owner of this.ownersOf(event)) this.dirty.add(owner)
    }
    return events
  }

  /** Writes the projection files that changed, then the checkpoint that vouches for them. */
  async flush(): Promise<void> {
    if (this.options.readOnly || this.dirty.size === 0) return
    const seq = this.state.seq
    const owners = [...this.dirty]
    this.dirty.clear()
    const byShard = new Map<number, RequestRecord[]>()
    for (const owner of owners) if (owner !== GLOBAL_OWNER) byShard.set(owner, [])
    for (const record of this.state.requests.values()) byShard.get(this.shardOf(record.n))?.push(record)
    for (const [index, records] of byShard) {
      let doc = this.shardDocs.get(index)
      if (!doc) {
        const file = path.join(this.root, 'state', `requests-${pad(index, 4)}.json`)
        doc = await new DurableDocument<RequestShard>(file, { appliedSeq: 0, records: [] }).load()
        this.shardDocs.set(index, doc)
      }
      records.sort((a, b) => a.n - b.n)
      await doc.commit({ appliedSeq: seq, records: structuredClone(records) })
    }
    if (owners.includes(GLOBAL_OWNER)) {
      await this.globalDoc.commit({
        appliedSeq: seq,
        ledgerId: this.state.ledgerId,
        settings: this.state.settings,
        registry: [...this.state.registry.values()],
        work: [...this.state.work.values()],
      })
    }
    await this.checkpoint.commit({ appliedSeq: seq })
  }

  /** Every segment in order, read from disk (for verification and export). */
  async *readSegments(): AsyncGenerator<{ file: string; segment: Segment }> {
    for (const file of this.segmentFiles) yield { file, segment: await this.readSegment(file) }
  }

  private async readSegment(file: string): Promise<Segment> {
    if (file === this.current?.file) return this.current.data
    let segment = this.sealedCache.get(file)
    if (!segment) {
      segment = parseStored<Segment>(file, await readFile(file, 'utf8'))
      // Sealed segments never change: keep the last few parsed.
      if (this.sealedCache.size >= 8) this.sealedCache.delete(this.sealedCache.keys().next().value as string)
      this.sealedCache.set(file, segment)
    }
    return segment
  }

  /** The events with these sequence numbers, from whichever segments hold them. */
  async readEvents(seqs: readonly number[]): Promise<AuditEvent[]> {
    const out: AuditEvent[] = []
    for (const seq of seqs) {
      let lo = 0
      let hi = this.segments.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if ((this.segments[mid] as number) <= seq) lo = mid
        else hi = mid - 1
      }
      const first = this.segments[lo] as number
      const event = (await this.readSegment(this.segmentPath(first))).events[seq - first]
      if (event?.seq === seq) out.push(event)
    }
    return out
  }
}

/** Snapshot of a ledger folder as hard links (files are replaced by rename, never rewritten in place). */
export async function snapshotFolder(from: string, to: string): Promise<number> {
  let bytes = 0
  await mkdir(to, { recursive: true })
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name)
    const target = path.join(to, entry.name)
    if (entry.isDirectory()) {
      bytes += await snapshotFolder(source, target)
    } else if (entry.isFile() && !entry.name.endsWith('.tmp')) {
      try {
        await link(source, target)
      } catch {
        await copyFile(source, target) // another device, or a file system without hard links
      }
      bytes += (await stat(source)).size
    }
  }
  return bytes
}

export async function moveAside(folder: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true })
  await rename(folder, to)
}
