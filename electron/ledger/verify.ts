/**
 * Verifying a ledger as an auditor would, from its files alone: every hash from the genesis
 * entry, every signed head and the one key they share, the signed checkpoint and the projection
 * it vouches for, the personal data against the salted hashes in the chain, and the chain against
 * what was pinned outside it (the organisation's identity, issued certificates, the auditor's own
 * notes).
 */
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { AuditEvent, SignedHead } from '../contract/ledger'
import { canonicalJson } from '../lib/canonical-json'
import { keyFingerprint, sha256Hex } from '../lib/digest'
import { checkLink, GENESIS_HASH, headSignatureValid } from './chain'
import { parseStored } from './durable'
import type { Ledger } from './ledger'
import { readLedgerKeys } from './keys'
import { personalMismatches, PersonalStore } from './personal'
import { applyEvent, emptyState, type LedgerState, type RequestRecord } from './state'
import {
  CHECKPOINT,
  checkpointSignatureValid,
  type GlobalDoc,
  type Meta,
  type RequestShard,
  type SignedCheckpoint,
} from './store'

const YIELD_EVERY = 2000
const pause = () => new Promise((resolve) => setImmediate(resolve))

/** Something held outside the ledger that its chain must agree with. */
export interface LedgerPin {
  /** Where the pin comes from, in words: "CERT-2026-0001", "the organisation's identity", … */
  source: string
  /** The fingerprint of the key every head must be signed with. */
  keyFingerprint?: string
  /** An entry the chain must hold, with this hash. */
  head?: { seq: number; hash: string }
  /** Why the pin itself cannot be trusted (its signature does not verify): a failure. */
  invalid?: string
}

export interface PinCheck {
  source: string
  expected: string
  pass: boolean
  detail: string
}

export interface VerifyResult {
  ok: boolean
  events: number
  head: SignedHead | null
  /** The fingerprint of the key the chain is signed with. */
  keyFingerprint: string | null
  firstBad: { seq: number | null; file: string | null; reason: string } | null
  /** Files beside the chain (projection, checkpoint, personal data) that disagree with it. */
  stateMismatches: string[]
  pins: PinCheck[]
}

/** Verifies an open ledger between writes, with its projection flushed first. */
export function verifyLedger(ledger: Ledger, pins: LedgerPin[] = []): Promise<VerifyResult> {
  return ledger.exclusive(() => verifyLedgerFiles(ledger.storage.root, pins))
}

type Event = z.infer<typeof AuditEvent>

/**
 * Reads only files, so it also works on a ledger too damaged to open. Yields to the event loop
 * as it goes, so a large ledger does not freeze the app.
 */
export async function verifyLedgerFiles(root: string, pins: LedgerPin[] = []): Promise<VerifyResult> {
  const eventsDir = path.join(root, 'events')
  const names = existsSync(eventsDir)
    ? (await readdir(eventsDir)).filter((f) => /^events-\d{12}\.json$/.test(f)).sort()
    : []
  const checkpoint = await readCheckpoint(root)
  const projection = checkpoint.value ? await readProjection(root, checkpoint.value) : null
  const cited = new Map(pins.flatMap((p) => (p.head ? [[p.head.seq, '']] : [])))

  const replay = emptyState()
  let head: SignedHead | null = null
  let prev: Event | undefined
  let createdKey: string | null = null
  let count = 0
  const mismatches: string[] = [...checkpoint.problems, ...(projection?.problems ?? [])]
  const result = (firstBad: VerifyResult['firstBad']): VerifyResult => {
    const pinChecks = checkPins(pins, createdKey, cited, prev?.seq ?? 0)
    const failedPin = pinChecks.find((p) => !p.pass)
    const bad = firstBad ?? (failedPin ? pinFault(pins, failedPin, cited, prev?.seq ?? 0) : null)
    return {
      ok: bad === null && mismatches.length === 0 && !failedPin,
      events: count,
      head,
      keyFingerprint: createdKey ? keyFingerprint(createdKey) : null,
      firstBad: bad,
      stateMismatches: mismatches,
      pins: pinChecks,
    }
  }
  const bad = (seq: number | null, file: string | null, reason: string) => result({ seq, file, reason })

  for (const name of names) {
    const file = path.join(eventsDir, name)
    let bytes: Buffer
    let segment: { events: unknown; head: unknown }
    try {
      bytes = await readFile(file)
      segment = parseStored(file, bytes.toString('utf8'))
    } catch (error) {
      return bad(prev ? prev.seq + 1 : 1, file, (error as Error).message)
    }
    const parsed = z.array(AuditEvent).safeParse(segment.events)
    if (!parsed.success) {
      return bad(prev ? prev.seq + 1 : 1, file, 'the segment does not hold well-formed audit events')
    }
    for (const event of parsed.data) {
      const fault = checkLink(event, prev ? prev.seq + 1 : 1, prev ? prev.hash : GENESIS_HASH)
      if (fault) return bad(fault.seq, file, fault.reason)
      if (event.seq === 1) createdKey = (event.payload as { publicKey?: string }).publicKey ?? null
      try {
        applyEvent(replay, event)
      } catch (error) {
        return bad(event.seq, file, (error as Error).message)
      }
      if (cited.has(event.seq)) cited.set(event.seq, event.hash)
      prev = event
      count += 1
      if (projection && event.seq === checkpoint.value?.appliedSeq) {
        mismatches.push(...compareProjection(projection, replay))
      }
      if (count % YIELD_EVERY === 0) await pause()
    }
    // Every segment ends at a head signed with the key the ledger was created with.
    const signed = SignedHead.nullable().safeParse(segment.head)
    head = signed.success ? signed.data : null
    const last = parsed.data.at(-1)
    if (!head || !last)
      return bad(last ? last.seq : prev ? prev.seq + 1 : 1, file, 'the segment has no signed head')
    if (last.seq !== head.seq || last.hash !== head.hash) {
      const reason =
        last.seq < head.seq
          ? `the segment ends at seq ${last.seq} but its signed head is at seq ${head.seq}: entries were removed from its end`
          : `the segment goes on past its signed head (seq ${head.seq}): entries were added without signing`
      return bad(Math.min(last.seq, head.seq) + 1, file, reason)
    }
    if (!headSignatureValid(head)) return bad(head.seq, file, 'the signature on its head does not verify')
    if (head.publicKey !== createdKey) {
      return bad(head.seq, file, 'its head is signed by another key than the one the ledger was created with')
    }
    const sealed = checkpoint.value?.segments[name]
    if (sealed !== undefined && sealed !== sha256Hex(bytes)) {
      mismatches.push(`${name} differs from the bytes recorded when it was sealed`)
    }
  }
  if (!prev || !head) return bad(1, null, 'the ledger has no audit events')

  const c = checkpoint.value
  if (c) {
    if (!createdKey || !checkpointSignatureValid(c, createdKey)) {
      mismatches.push('the signature on the projection’s checkpoint does not verify with the ledger’s key')
    }
    if (c.appliedSeq > prev.seq) {
      return bad(
        prev.seq + 1,
        names.at(-1) ? path.join(eventsDir, names.at(-1) as string) : null,
        `the log ends at seq ${prev.seq} but the signed checkpoint records seq ${c.appliedSeq}: entries ${prev.seq + 1}–${c.appliedSeq} are missing (the last segment was removed or rolled back)`,
      )
    }
    for (const name of Object.keys(c.segments)) {
      if (!names.includes(name)) mismatches.push(`${name}, sealed and recorded in the checkpoint, is missing`)
    }
  }
  mismatches.push(...(await checkMeta(root, c, replay)), ...(await checkPersonal(root, replay)))
  return result(null)
}

async function readCheckpoint(root: string): Promise<{ value: SignedCheckpoint | null; problems: string[] }> {
  const file = path.join(root, 'state', CHECKPOINT)
  if (!existsSync(file)) return { value: null, problems: ['the projection has no checkpoint'] }
  try {
    const value = parseStored<SignedCheckpoint>(file, await readFile(file, 'utf8'))
    if (typeof value.signature !== 'string') {
      return {
        value: null,
        problems: [
          'the projection’s checkpoint is not signed (an older Lethe wrote it; opening the ledger rebuilds it)',
        ],
      }
    }
    return { value, problems: [] }
  } catch (error) {
    return { value: null, problems: [(error as Error).message] }
  }
}

interface StoredProjection {
  requests: Map<string, RequestRecord>
  global: GlobalDoc | null
  problems: string[]
}

/** The projection files the checkpoint names, each checked against its recorded hash. */
async function readProjection(root: string, checkpoint: SignedCheckpoint): Promise<StoredProjection> {
  const stored: StoredProjection = { requests: new Map(), global: null, problems: [] }
  for (const [name, hash] of Object.entries(checkpoint.files)) {
    const file = path.join(root, 'state', name)
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch {
      stored.problems.push(`${name}, which the checkpoint names, is missing`)
      continue
    }
    if (sha256Hex(bytes) !== hash) stored.problems.push(`${name} was changed after it was written`)
    try {
      if (name.startsWith('global.')) stored.global = parseStored<GlobalDoc>(file, bytes.toString('utf8'))
      else
        for (const r of parseStored<RequestShard>(file, bytes.toString('utf8')).records)
          stored.requests.set(r.id, r)
    } catch (error) {
      stored.problems.push((error as Error).message)
    }
  }
  return stored
}

/** The stored projection must equal the replay of the events up to the checkpoint's seq. */
function compareProjection(stored: StoredProjection, replay: LedgerState): string[] {
  const mismatches: string[] = []
  const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b)
  if (stored.global) {
    if (!same(stored.global.settings, replay.settings))
      mismatches.push('the stored settings differ from the audit events')
    if (!same(stored.global.registry, [...replay.registry.values()]))
      mismatches.push('the stored registry differs from the audit events')
    if (!same(stored.global.work, [...replay.work.values()]))
      mismatches.push('the stored list of unfinished work differs from the audit events')
  }
  for (const [id, record] of replay.requests) {
    const kept = stored.requests.get(id)
    if (!kept) mismatches.push(`${id} is in the audit log but missing from the stored state`)
    else if (!same(kept, record)) mismatches.push(`${id}'s stored state differs from its audit events`)
  }
  for (const id of stored.requests.keys())
    if (!replay.requests.has(id)) mismatches.push(`${id} is in the stored state but not in the audit log`)
  return mismatches
}

/** meta.json names the ledger the chain was created for, in the bytes the checkpoint recorded. */
async function checkMeta(
  root: string,
  checkpoint: SignedCheckpoint | null,
  replay: LedgerState,
): Promise<string[]> {
  const file = path.join(root, 'meta.json')
  try {
    const bytes = await readFile(file)
    const meta = parseStored<Meta>(file, bytes.toString('utf8'))
    if (meta.ledgerId !== replay.ledgerId) return ['meta.json names another ledger than the audit log']
    if (checkpoint && checkpoint.meta !== sha256Hex(bytes))
      return ['meta.json was changed after the ledger recorded it']
    return []
  } catch (error) {
    return [(error as Error).message]
  }
}

/** Personal data must match the salted hashes in the chain, and be gone where the chain says it was erased. */
async function checkPersonal(root: string, replay: LedgerState): Promise<string[]> {
  const folder = path.join(root, 'personal')
  if (!existsSync(folder)) return []
  const mismatches: string[] = []
  try {
    const keys = await readLedgerKeys(path.join(root, 'keys'))
    for await (const { id, record } of new PersonalStore(folder).all()) {
      const request = replay.requests.get(id)
      if (!request) mismatches.push(`personal data is stored for ${id}, which is not in the audit log`)
      else if (request.redactedOn)
        mismatches.push(
          `${id}'s personal data is still stored, though the log says it was erased on ${request.redactedOn}`,
        )
      else mismatches.push(...personalMismatches(keys, request, record))
    }
  } catch (error) {
    mismatches.push((error as Error).message)
  }
  return mismatches
}

function checkPins(
  pins: LedgerPin[],
  createdKey: string | null,
  cited: Map<number, string>,
  end: number,
): PinCheck[] {
  const actual = createdKey ? keyFingerprint(createdKey) : 'none'
  return pins.flatMap((pin): PinCheck[] => {
    if (pin.invalid) return [{ source: pin.source, expected: '—', pass: false, detail: pin.invalid }]
    const checks: PinCheck[] = []
    if (pin.keyFingerprint) {
      const pass = pin.keyFingerprint === actual
      checks.push({
        source: pin.source,
        expected: `key ${pin.keyFingerprint}`,
        pass,
        detail: pass ? 'every head is signed with this key' : `the heads are signed with ${actual}`,
      })
    }
    if (pin.head) {
      const found = cited.get(pin.head.seq)
      const pass = found === pin.head.hash
      checks.push({
        source: pin.source,
        expected: `entry ${pin.head.seq} ${pin.head.hash.slice(0, 16)}…`,
        pass,
        detail: pass
          ? 'the chain holds this entry'
          : pin.head.seq > end
            ? `the chain ends at ${end}: it was rolled back or truncated`
            : `entry ${pin.head.seq} has another hash: the history was rewritten`,
      })
    }
    return checks
  })
}

/** A failed pin as the first bad entry, so the report names where the chain stops agreeing. */
function pinFault(
  pins: LedgerPin[],
  failed: PinCheck,
  cited: Map<number, string>,
  end: number,
): NonNullable<VerifyResult['firstBad']> {
  const pin = pins.find((p) => p.source === failed.source)
  const seq = pin?.head && cited.get(pin.head.seq) !== pin.head.hash ? Math.min(pin.head.seq, end + 1) : 1
  return {
    seq,
    file: null,
    reason: `${failed.source} pins ${failed.expected}, but ${failed.detail}`,
  }
}
