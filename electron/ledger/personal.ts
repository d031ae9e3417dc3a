/**
 * The personal-data store: requesters' names and contacts, raw subject identifiers, note
 * texts and attachment names, kept apart from the chain so they can be erased when the
 * retention period ends. Sharded by request and loaded on demand.
 */
import path from 'node:path'
import type { SubjectId } from '../contract/ledger'
import { DurableDocument } from './durable'

export interface PersonalRecord {
  requester: { name: string; email: string | null; otherContact: string | null }
  subjectIds: SubjectId[]
  notes: Record<string, string>
  attachmentNames: Record<string, string>
}

interface Shard {
  records: Record<string, PersonalRecord>
}

export const PERSONAL_SHARD = 512

export class PersonalStore {
  private readonly shards = new Map<number, DurableDocument<Shard>>()

  constructor(private readonly folder: string) {}

  private async shard(n: number): Promise<DurableDocument<Shard>> {
    const index = Math.floor((n - 1) / PERSONAL_SHARD)
    let doc = this.shards.get(index)
    if (!doc) {
      const file = path.join(this.folder, `personal-${String(index).padStart(4, '0')}.json`)
      doc = await new DurableDocument<Shard>(file, { records: {} }).load()
      this.shards.set(index, doc)
    }
    return doc
  }

  async get(n: number, id: string): Promise<PersonalRecord | null> {
    return (await this.shard(n)).data.records[id] ?? null
  }

  /** Writes the record durably (or erases it with null) before returning. */
  async put(n: number, id: string, record: PersonalRecord | null): Promise<void> {
    const doc = await this.shard(n)
    const others = Object.entries(doc.data.records).filter(([key]) => key !== id)
    await doc.commit({ records: Object.fromEntries(record ? [...others, [id, record]] : others) })
  }
}

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
