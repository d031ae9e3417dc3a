/**
 * The personal-data store: requesters' names and contacts, raw subject identifiers, note
 * texts, attachment names and every other free text typed about a request, kept apart from
 * the chain so they can be erased when the retention period ends. Sharded by request and
 * loaded on demand.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { SubjectId } from '../contract/ledger'
import { DurableDocument, parseStored } from './durable'
import { hmacOf, requesterHashOf, requesterHmacOf, textHmacOf, type LedgerKeys } from './keys'
import type { RequestRecord } from './state'

export interface PersonalRecord {
  requester: { name: string; email: string | null; otherContact: string | null }
  subjectIds: SubjectId[]
  notes: Record<string, string>
  attachmentNames: Record<string, string>
  /** Free texts the chain refers to by TextRef (reasons, methods, exemptions, ground, assignee), by id. */
  texts: Record<string, string>
}

/** A record as stored: one written before schema 2 has no texts. */
type StoredRecord = Omit<PersonalRecord, 'texts'> & Partial<Pick<PersonalRecord, 'texts'>>

const withTexts = (record: StoredRecord): PersonalRecord => ({ ...record, texts: record.texts ?? {} })

interface Shard {
  records: Record<string, StoredRecord>
}

export const PERSONAL_SHARD = 512

export class PersonalStore {
  private readonly shards = new Map<number, DurableDocument<Shard>>()

  constructor(private readonly folder: string) {}

  private async shard(n: number): Promise<DurableDocument<Shard>> {
    const index = shardIndex(n)
    let doc = this.shards.get(index)
    if (!doc) {
      const file = path.join(this.folder, `personal-${String(index).padStart(4, '0')}.json`)
      doc = await new DurableDocument<Shard>(file, { records: {} }).load()
      this.shards.set(index, doc)
    }
    return doc
  }

  async get(n: number, id: string): Promise<PersonalRecord | null> {
    const record = (await this.shard(n)).data.records[id]
    return record ? withTexts(record) : null
  }

  /** Writes the record durably (or erases it with null) before returning. */
  async put(n: number, id: string, record: PersonalRecord | null): Promise<void> {
    await this.putMany([{ n, id, record }])
  }

  /** Writes many records (or erasures) with one durable write per shard they fall in. */
  async putMany(entries: readonly { n: number; id: string; record: PersonalRecord | null }[]): Promise<void> {
    const byShard = new Map<number, (typeof entries)[number][]>()
    for (const entry of entries) {
      const index = shardIndex(entry.n)
      byShard.set(index, [...(byShard.get(index) ?? []), entry])
    }
    for (const [index, changes] of byShard) {
      const doc = await this.shard(index * PERSONAL_SHARD + 1)
      const records = new Map(Object.entries(doc.data.records))
      for (const { id, record } of changes) {
        if (record) records.set(id, record)
        else records.delete(id)
      }
      await doc.commit({ records: Object.fromEntries(records) })
    }
  }

  /** Every stored record with its shard file, read from disk (for verification and clean-up). */
  async *all(): AsyncGenerator<{ file: string; id: string; record: PersonalRecord }> {
    const names = existsSync(this.folder)
      ? (await readdir(this.folder)).filter((f) => SHARD_FILE.test(f)).sort()
      : []
    for (const name of names) {
      const file = path.join(this.folder, name)
      const shard = parseStored<Shard>(file, await readFile(file, 'utf8'))
      for (const [id, record] of Object.entries(shard.records)) yield { file, id, record: withTexts(record) }
    }
  }

  /**
   * Removes records of requests the chain does not know, from the shard of creation number
   * `from` on: what a write interrupted between the personal data and its events leaves behind.
   */
  async removeUnknown(from: number, known: (id: string) => boolean): Promise<void> {
    const names = existsSync(this.folder)
      ? (await readdir(this.folder)).filter((f) => SHARD_FILE.test(f))
      : []
    for (const name of names) {
      const index = Number(SHARD_FILE.exec(name)?.[1])
      if (index < shardIndex(from)) continue
      const doc = await this.shard(index * PERSONAL_SHARD + 1)
      const kept = Object.entries(doc.data.records).filter(([id]) => known(id))
      if (kept.length < Object.keys(doc.data.records).length)
        await doc.commit({ records: Object.fromEntries(kept) })
    }
  }
}

const shardIndex = (n: number) => Math.floor((n - 1) / PERSONAL_SHARD)
const SHARD_FILE = /^personal-(\d{4})\.json$/

/** "Jane Doe" → "J*** D**": enough to recognise a request on screen, not to identify a person. */
export function maskName(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .map((part) => part[0] + '*'.repeat(Math.min(3, Math.max(1, part.length - 1))))
    .join(' ')
}

export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@')
  const dot = domain.lastIndexOf('.')
  const host = dot > 0 ? domain.slice(0, dot) : domain
  const tld = dot > 0 ? domain.slice(dot) : ''
  return `${local.slice(0, 1)}***@${host.slice(0, 1)}***${tld}`
}

export function maskValue(value: string): string {
  return value.length <= 4 ? '***' : `${value.slice(0, 2)}***${value.slice(-1)}`
}

/**
 * Where a personal record disagrees with what the chain recorded of it (salted hashes, note
 * lengths): an edit outside Lethe. Texts the chain does not refer to (left by a write a crash
 * interrupted) are never shown, and are not counted.
 */
export function personalMismatches(
  keys: LedgerKeys,
  request: RequestRecord,
  personal: PersonalRecord,
): string[] {
  const id = request.id
  const problems: string[] = []
  if (
    requesterHashOf(keys, personal.requester) !== request.requesterHash ||
    (request.requesterHmac !== undefined &&
      requesterHmacOf(keys, personal.requester) !== request.requesterHmac)
  )
    problems.push(`${id}'s requester differs from the one the ledger recorded`)
  const subjects = request.subjectHashes
  if (
    personal.subjectIds.length !== subjects.length ||
    personal.subjectIds.some(
      (s, i) => s.type !== subjects[i]?.type || hmacOf(keys, s.type, s.value) !== subjects[i]?.hmac,
    )
  )
    problems.push(`${id}'s subject identifiers differ from the ones the ledger recorded`)
  for (const note of request.notes) {
    const text = personal.notes[note.id]
    if (text === undefined || text.length !== note.chars) problems.push(`${id}'s note ${note.id} was changed`)
  }
  for (const attachment of request.attachments) {
    const name = personal.attachmentNames[attachment.id]
    if (
      attachment.nameHmac &&
      (name === undefined || hmacOf(keys, 'attachment-name', name) !== attachment.nameHmac)
    )
      problems.push(`${id}'s attachment name ${attachment.id} was changed`)
  }
  for (const ref of request.texts ?? []) {
    const text = personal.texts[ref.textId]
    if (text === undefined || textHmacOf(keys, ref.textId, text) !== ref.hmac)
      problems.push(`${id}'s text ${ref.textId} was changed`)
  }
  return problems
}
