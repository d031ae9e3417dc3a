/**
 * The ledger on disk:
 *
 *   ledger/meta.json                      format, schema version, ledger id, shard size
 *   ledger/events/events-SEQ.json         append-only audit segments (lowdb documents) named by their first
 *                                         seq: the truth, each ending with its signed head
 *   ledger/state/requests-NNNN.SEQ.json   the request projection in shards, as of event SEQ
 *   ledger/state/global.SEQ.json          settings, registry, unfinished work
 *   ledger/state/checkpoint.json          which projection files hold every event up to a seq, with their
 *                                         SHA-256 and those of meta.json and the sealed segments, signed
 *                                         with the head key
 *   ledger/personal/personal-NNNN.json    personal data (see personal.ts)
 *   ledger/keys/                          the head key (sealed), its public half, the HMAC key
 *
 * An append rewrites only the current segment (fsynced) before it is acknowledged. The projection
 * is written behind it, each time to new files, and only the signed checkpoint that names them
 * makes them current, so a crash between the two leaves the previous projection whole. A
 * projection that does not match its checkpoint is never trusted: it is rebuilt from the events,
 * and the rebuild is logged. Sealed segments never change, so a backup is a folder of hard links.
 */
import { randomUUID, sign, verify, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, link, mkdir, readdir, readFile, rename, stat, copyFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../contract'
import type { AuditEvent, RegistryEntry, SignedHead } from '../contract/ledger'
import { canonicalJson } from '../lib/canonical-json'
import { sha256Hex } from '../lib/digest'
import { removeStaleTempFiles, writeFileDurably } from '../lib/files'
import type { KeyProtector } from '../lib/key-protector'
import { checkLink, GENESIS_HASH, hashEvent, headSignatureValid, signHead } from './chain'
import { DurableDocument, parseStored } from './durable'
import { newKeyMaterial, openSigningKey, readLedgerKeys, writeKeyMaterial, type LedgerKeys } from './keys'
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

export interface RequestShard {
  records: RequestRecord[]
}

export interface GlobalDoc {
  ledgerId: string | null
  settings: LedgerState['settings']
  registry: RegistryEntry[]
  work: WorkItem[]
}

/** What the head key vouches for about the files beside the chain. */
export interface Checkpoint {
  ledgerId: string
  /** Every event up to this seq is in the projection files below. */
  appliedSeq: number
  /** Projection files (in state/) by name, with the SHA-256 of their bytes. */
  files: Record<string, string>
  /** SHA-256 of meta.json. */
  meta: string
  /** Sealed segments (in events/) by name, with the SHA-256 of their bytes. */
  segments: Record<string, string>
}

export interface SignedCheckpoint extends Checkpoint {
  signature: string
}

export interface StoreOptions {
  readOnly?: boolean
  /** Events per segment (smaller in tests); one append of more events makes one larger segment. */
  segmentEvents?: number
  /** Requests per projection shard, for a new ledger (smaller in tests). */
  shardRequests?: number
  now?: () => Date
  /** Seals and opens the head key: needed to write, not to read. */
  keyProtector?: () => Promise<KeyProtector>
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
const ownerFile = (owner: number, seq: number) =>
  `${owner === GLOBAL_OWNER ? 'global' : `requests-${pad(owner, 4)}`}.${pad(seq, 12)}.json`
const OWNER_OF_FILE = /^(?:global|requests-(\d{4}))\.\d{12}\.json$/
export const CHECKPOINT = 'checkpoint.json'

const checkpointBytes = (c: Checkpoint) =>
  Buffer.from(
    canonicalJson({
      ledgerId: c.ledgerId,
      appliedSeq: c.appliedSeq,
      files: c.files,
      meta: c.meta,
      segments: c.segments,
    }),
  )

export function checkpointSignatureValid(checkpoint: SignedCheckpoint, publicKeyPem: string): boolean {
  try {
    return verify(
      null,
      checkpointBytes(checkpoint),
      publicKeyPem,
      Buffer.from(checkpoint.signature, 'base64'),
    )
  } catch {
    return false
  }
}

export class LedgerStore {
  readonly state: LedgerState = emptyState()
  readonly personal: PersonalStore
  private segments: number[] = []
  private current: DurableDocument<Segment> | undefined
  private readonly sealedCache = new Map<string, Segment>()
  /** SHA-256 of every sealed segment, as the checkpoint records them. */
  private readonly sealed = new Map<string, string>()
  /** The projection file of each owner (a request shard, or the ledger-wide part) and its SHA-256. */
  private readonly files = new Map<number, { name: string; sha256: string }>()
  private readonly dirty = new Set<number>()
  private checkpointDirty = false
  /** The files map is what the checkpoint on disk names (loaded, or written since). */
  private projectionOnDisk = false
  private keys!: LedgerKeys
  private meta!: Meta
  private metaHash = ''
  private signing: Promise<KeyObject> | undefined
  private readonly segmentEvents: number
  private shardRequests = 512
  /** Why the projection was rebuilt from the events at open; logged with the next append. */
  private repair: string | null = null
  /** Damage found in a sealed segment while running: nothing is signed over it. */
  private sealedDamage: LetheError | null = null

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
  /** Damage found in a sealed segment while running, which stops all signing. */
  get damage(): LetheError | null {
    return this.sealedDamage
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

  private statePath(name: string): string {
    return path.join(this.root, 'state', name)
  }

  /**
   * The head key, opened through the key protector on first use: reading never needs it. Work
   * that must end in a signed entry opens it first, so it fails before it starts.
   */
  signingKey(): Promise<KeyObject> {
    const protector = this.options.keyProtector
    if (!protector) {
      return Promise.reject(
        new LetheError('INTERNAL', 'This ledger was opened without a key protector: it cannot sign.'),
      )
    }
    this.signing ??= protector()
      .then((p) => openSigningKey(path.join(this.root, 'keys'), p, this.keys.publicKeyPem))
      .catch((error: unknown) => {
        this.signing = undefined // a passphrase given later may still open it
        throw error
      })
    return this.signing
  }

  private async load(): Promise<void> {
    const metaFile = path.join(this.root, 'meta.json')
    const metaBytes = await readFile(metaFile).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null
      throw error
    })
    if (!metaBytes) {
      if (this.options.readOnly) throw new LetheError('NOT_FOUND', `There is no ledger in ${this.root} yet.`)
      return this.create(metaFile)
    }
    this.meta = parseStored<Meta>(metaFile, metaBytes.toString('utf8'))
    this.metaHash = sha256Hex(metaBytes)
    this.shardRequests = this.meta.shardRequests
    if (this.meta.format !== FORMAT) {
      throw new LetheError('CORRUPT', `${metaFile} is not a Lethe ledger.`, { file: metaFile })
    }
    if (this.meta.schemaVersion > SCHEMA_VERSION) {
      throw new LetheError(
        'CONFLICT',
        `This ledger was written by a newer Lethe (schema ${this.meta.schemaVersion}; this one reads up to ${SCHEMA_VERSION}). Update Lethe to open it.`,
      )
    }
    this.keys = await readLedgerKeys(path.join(this.root, 'keys'))
    await this.recover()
    if (!this.options.readOnly) {
      // Leftovers of writes a crash interrupted: temporary files, projection files no checkpoint names.
      await removeStaleTempFiles(this.root)
      await this.removeUnnamedProjectionFiles()
    }
  }

  private async create(metaFile: string): Promise<void> {
    const protector = this.options.keyProtector
    if (!protector) throw new LetheError('INTERNAL', 'A new ledger needs a key protector for its head key.')
    const material = newKeyMaterial()
    this.keys = await writeKeyMaterial(path.join(this.root, 'keys'), material, await protector())
    this.shardRequests = this.options.shardRequests ?? this.shardRequests
    this.meta = {
      format: FORMAT,
      schemaVersion: SCHEMA_VERSION,
      ledgerId: randomUUID(),
      createdAt: this.now(),
      shardRequests: this.shardRequests,
    }
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
    // meta.json once the first event is on disk: a crash before it leaves a folder that is
    // simply created again; one after it, a ledger without a checkpoint, rebuilt at open.
    const bytes = Buffer.from(JSON.stringify(this.meta))
    await writeFileDurably(metaFile, bytes)
    this.metaHash = sha256Hex(bytes)
    await this.flush()
  }

  /**
   * Loads the projection the signed checkpoint names, checking every file's hash. Returns why it
   * cannot be trusted (then nothing is loaded), or null.
   */
  private async loadProjection(): Promise<string | null> {
    const file = this.statePath(CHECKPOINT)
    if (!existsSync(file)) {
      // Never written (a ledger just imported, or created up to a crash): built from the events, nothing distrusted.
      const stateDir = path.join(this.root, 'state')
      const written = existsSync(stateDir) && (await readdir(stateDir)).some((f) => f.endsWith('.json'))
      return written ? 'it has no signed checkpoint' : null
    }
    let checkpoint: SignedCheckpoint
    try {
      checkpoint = parseStored<SignedCheckpoint>(file, await readFile(file, 'utf8'))
    } catch (error) {
      return (error as Error).message
    }
    if (typeof checkpoint.signature !== 'string')
      return 'its checkpoint is not signed (an older Lethe wrote it)'
    if (!checkpointSignatureValid(checkpoint, this.keys.publicKeyPem)) {
      return 'the signature on its checkpoint does not verify with the ledger’s key'
    }
    if (checkpoint.ledgerId !== this.meta.ledgerId || checkpoint.meta !== this.metaHash) {
      throw new LetheError(
        'CORRUPT',
        `${path.join(this.root, 'meta.json')} was changed after the ledger recorded it.`,
        { file: path.join(this.root, 'meta.json') },
      )
    }
    for (const [name, hash] of Object.entries(checkpoint.files)) {
      const owner = this.ownerOfFile(name)
      let bytes: Buffer
      try {
        bytes = await readFile(this.statePath(name))
      } catch {
        return `${name}, which its checkpoint names, is missing`
      }
      if (owner === null || sha256Hex(bytes) !== hash) return `${name} was changed after it was written`
      this.files.set(owner, { name, sha256: hash })
      if (owner === GLOBAL_OWNER) {
        const g = parseStored<GlobalDoc>(name, bytes.toString('utf8'))
        this.state.ledgerId = g.ledgerId
        this.state.settings = g.settings
        for (const entry of g.registry) this.state.registry.set(entry.id, entry)
        for (const item of g.work) this.state.work.set(item.id, item)
      } else {
        for (const record of parseStored<RequestShard>(name, bytes.toString('utf8')).records) {
          if (this.shardOf(record.n) !== owner)
            return `${name} holds ${record.id}, which belongs in another shard`
          this.state.requests.set(record.id, record)
        }
      }
    }
    for (const [name, hash] of Object.entries(checkpoint.segments)) this.sealed.set(name, hash)
    this.state.seq = checkpoint.appliedSeq
    this.projectionOnDisk = true
    return null
  }

  private ownerOfFile(name: string): number | null {
    const match = OWNER_OF_FILE.exec(name)
    if (!match) return null
    return match[1] === undefined ? GLOBAL_OWNER : Number(match[1])
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

  /**
   * Replays the events the projection has not seen, checking each link; a projection that cannot
   * be trusted is dropped and the whole chain replayed from its first entry.
   */
  private async recover(): Promise<void> {
    const eventsDir = path.join(this.root, 'events')
    const names = existsSync(eventsDir) ? (await readdir(eventsDir)).filter((f) => SEGMENT_NAME.test(f)) : []
    this.segments = names.map((f) => Number(SEGMENT_NAME.exec(f)?.[1])).sort((a, b) => a - b)
    const lastIndex = this.segments.at(-1)
    if (lastIndex === undefined) {
      throw new LetheError(
        'CORRUPT',
        `The ledger in ${this.root} has no audit events: its events folder is missing.`,
        { file: eventsDir },
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
        { file: this.current.file },
      )
    }
    if (head.publicKey !== this.keys.publicKeyPem || head.ledgerId !== this.meta.ledgerId) {
      throw new LetheError(
        'CORRUPT',
        `${this.current.file} is signed by another key or for another ledger than the one in ${this.root}.`,
        { file: this.current.file },
      )
    }
    const distrust = await this.loadProjection()
    if (distrust) {
      this.repair = `The stored projection was not trusted (${distrust}); it was rebuilt from the audit events.`
      this.resetProjection()
    }
    const from = this.state.seq
    if (from > last.seq) {
      throw new LetheError(
        'CORRUPT',
        `The audit log ends at seq ${last.seq} but the ledger had recorded seq ${from}: entries ${last.seq + 1}–${from} are missing (the last segment was removed or rolled back).`,
        { file: this.current.file, seq: last.seq + 1 },
      )
    }
    // Load segments backwards until the first event after the checkpoint is covered.
    const tail: { name: string; segment: Segment }[] = [
      { name: path.basename(this.current.file), segment: this.current.data },
    ]
    for (let i = this.segments.length - 2; i >= 0 && (tail[0]?.segment.events[0]?.seq ?? 0) > from + 1; i--) {
      const name = segmentName(this.segments[i] as number)
      const { segment, sha } = await this.readSegmentBytes(this.segmentPath(this.segments[i] as number))
      if (!this.sealed.has(name)) {
        this.sealed.set(name, sha)
        this.checkpointDirty = true
      }
      tail.unshift({ name, segment })
    }
    // The loaded tail must hold together link by link (from the genesis entry, when rebuilding).
    let prev: AuditEvent | undefined
    for (const event of tail.flatMap(({ segment }) => segment.events)) {
      const fault = prev
        ? checkLink(event, prev.seq + 1, prev.hash)
        : from === 0
          ? checkLink(event, 1, GENESIS_HASH)
          : checkLink(event, event.seq, event.prevHash)
      if (fault) {
        throw new LetheError('CORRUPT', `The audit log is damaged at seq ${fault.seq}: ${fault.reason}.`, {
          seq: fault.seq,
        })
      }
      prev = event
      if (event.seq > from) {
        applyEvent(this.state, event)
        for (const owner of this.ownersOf(event)) this.dirty.add(owner)
      }
    }
    this.state.seq = last.seq
    if (!this.options.readOnly) await this.flush()
  }

  private resetProjection(): void {
    const fresh = emptyState()
    this.state.ledgerId = fresh.ledgerId
    this.state.seq = 0
    this.state.requests.clear()
    this.state.settings = fresh.settings
    this.state.registry.clear()
    this.state.work.clear()
    this.files.clear()
    this.sealed.clear()
    this.projectionOnDisk = false
  }

  /**
   * Appends events as one durable write; returns them once they are on disk. Callers serialise
   * appends (the ledger service's queue): this method does not. A projection rebuilt at open is
   * logged first.
   */
  async append(actor: string, items: NewEvent[]): Promise<AuditEvent[]> {
    if (this.options.readOnly) throw new LetheError('LOCKED', 'This ledger is open read-only.')
    if (this.sealedDamage) throw this.sealedDamage
    const signingKey = await this.signingKey()
    const at = this.now()
    const previous = this.current?.data.events.at(-1)
    let seq = this.state.seq
    let prevHash = previous?.hash ?? GENESIS_HASH
    const all: NewEvent[] = this.repair
      ? [{ type: 'ledger.repaired', requestId: null, payload: { reason: this.repair } }, ...items]
      : items
    const events = all.map((item) => {
      const unsigned = {
        seq: ++seq,
        at,
        actor: item.type === 'ledger.repaired' ? 'system' : actor,
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
      signingKey,
      this.keys.publicKeyPem,
    )

    let target = this.current
    if (!target || target.data.events.length >= this.segmentEvents) {
      if (target) {
        // The segment is sealed: from now on its bytes never change, and the checkpoint says what they are.
        const bytes = target.committedSha256 ?? sha256Hex(Buffer.from(JSON.stringify(target.data)))
        this.sealed.set(path.basename(target.file), bytes)
        this.checkpointDirty = true
      }
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
    this.repair = null
    // Only now, with the events on disk, does the projection move.
    for (const event of events) {
      applyEvent(this.state, event)
      for (const owner of this.ownersOf(event)) this.dirty.add(owner)
    }
    return items.length === all.length ? events : events.slice(1)
  }

  /**
   * Writes the projection files that changed to new files, then the signed checkpoint that makes
   * them current, then removes the files they replace.
   */
  async flush(): Promise<void> {
    if (this.options.readOnly || (this.dirty.size === 0 && !this.checkpointDirty)) return
    let signingKey: KeyObject
    try {
      signingKey = await this.signingKey()
    } catch {
      // The key has never opened, so nothing was appended: the events hold all there is, and
      // what recovery rebuilt stays in memory until a passphrase is given.
      return
    }
    const seq = this.state.seq
    const owners = [...this.dirty]
    this.dirty.clear()
    this.checkpointDirty = false
    const byShard = new Map<number, RequestRecord[]>()
    for (const owner of owners) if (owner !== GLOBAL_OWNER) byShard.set(owner, [])
    for (const record of this.state.requests.values()) byShard.get(this.shardOf(record.n))?.push(record)
    const replaced: string[] = []
    const write = async (owner: number, doc: RequestShard | GlobalDoc) => {
      const name = ownerFile(owner, seq)
      const bytes = Buffer.from(JSON.stringify(doc))
      await mkdir(path.join(this.root, 'state'), { recursive: true, mode: 0o700 })
      await writeFileDurably(this.statePath(name), bytes)
      const old = this.files.get(owner)
      if (old && old.name !== name) replaced.push(old.name)
      this.files.set(owner, { name, sha256: sha256Hex(bytes) })
    }
    for (const [index, records] of byShard) {
      records.sort((a, b) => a.n - b.n)
      await write(index, { records })
    }
    if (owners.includes(GLOBAL_OWNER)) {
      await write(GLOBAL_OWNER, {
        ledgerId: this.state.ledgerId,
        settings: this.state.settings,
        registry: [...this.state.registry.values()],
        work: [...this.state.work.values()],
      })
    }
    const checkpoint: Checkpoint = {
      ledgerId: this.meta.ledgerId,
      appliedSeq: seq,
      files: Object.fromEntries([...this.files.values()].map((f) => [f.name, f.sha256])),
      meta: this.metaHash,
      segments: Object.fromEntries(this.sealed),
    }
    const signed: SignedCheckpoint = {
      ...checkpoint,
      signature: sign(null, checkpointBytes(checkpoint), signingKey).toString('base64'),
    }
    await writeFileDurably(this.statePath(CHECKPOINT), Buffer.from(JSON.stringify(signed)))
    this.projectionOnDisk = true
    for (const name of replaced) await rm(this.statePath(name), { force: true })
  }

  /** Removes projection files no checkpoint names: leftovers of a flush a crash interrupted. */
  private async removeUnnamedProjectionFiles(): Promise<void> {
    const folder = path.join(this.root, 'state')
    if (this.options.readOnly || !this.projectionOnDisk || !existsSync(folder)) return
    const named = new Set([...this.files.values()].map((f) => f.name))
    for (const name of await readdir(folder)) {
      if (name !== CHECKPOINT && !named.has(name)) await rm(path.join(folder, name), { force: true })
    }
  }

  /**
   * Checks every sealed segment against the hash the checkpoint recorded when it was sealed.
   * Damage found stops all signing: a head must never be signed over a history that changed.
   */
  async checkSealedSegments(): Promise<LetheError | null> {
    for (const [name, hash] of this.sealed) {
      const file = path.join(this.root, 'events', name)
      const bytes = await readFile(file).catch(() => null)
      if (bytes && sha256Hex(bytes) === hash) continue
      const first = Number(SEGMENT_NAME.exec(name)?.[1])
      this.sealedDamage = new LetheError(
        'CORRUPT',
        `${file} ${bytes ? 'was changed' : 'was removed'} after it was sealed: entries from seq ${first} on can no longer be trusted. Nothing more is signed until the ledger is restored from a backup.`,
        { file, seq: first },
      )
      return this.sealedDamage
    }
    return null
  }

  /** Every segment in order, read from disk (for verification and export). */
  async *readSegments(): AsyncGenerator<{ file: string; segment: Segment }> {
    for (const file of this.segmentFiles) yield { file, segment: await this.readSegment(file) }
  }

  private async readSegmentBytes(file: string): Promise<{ segment: Segment; sha: string }> {
    const bytes = await readFile(file)
    return { segment: parseStored<Segment>(file, bytes.toString('utf8')), sha: sha256Hex(bytes) }
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
      if (first > seq) continue
      const event = (await this.readSegment(this.segmentPath(first))).events[seq - first]
      if (event?.seq === seq) out.push(event)
    }
    return out
  }
}

/**
 * Snapshot of a ledger folder as hard links (files are replaced by rename, never rewritten in
 * place), readable by its owner only.
 */
export async function snapshotFolder(from: string, to: string): Promise<number> {
  let bytes = 0
  await mkdir(to, { recursive: true, mode: 0o700 })
  await chmod(to, 0o700)
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
        await chmod(target, 0o600)
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
