/**
 * The audit log's hash chain: each entry's hash covers the canonical JSON (RFC 8785) of
 * everything in it and the previous entry's hash, and the head is signed with Ed25519, so
 * an edit, deletion, reordering, insertion or truncation is detectable.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto'
import type { AuditEvent, SignedHead } from '../contract/ledger'
import { canonicalJson } from '../lib/canonical-json'

export const GENESIS_HASH = '0'.repeat(64)

export type UnsignedEvent = Omit<AuditEvent, 'hash'>

export function hashEvent(event: UnsignedEvent): string {
  const { seq, at, actor, type, requestId, payload, prevHash } = event
  return createHash('sha256')
    .update(canonicalJson({ seq, at, actor, type, requestId, payload, prevHash }))
    .digest('hex')
}

/** What is signed: the ledger, the position and the hash of its last entry, and when. */
const headBytes = (head: Pick<SignedHead, 'ledgerId' | 'seq' | 'hash' | 'at'>): Buffer =>
  Buffer.from(canonicalJson({ ledgerId: head.ledgerId, seq: head.seq, hash: head.hash, at: head.at }))

export function signHead(
  head: Pick<SignedHead, 'ledgerId' | 'seq' | 'hash' | 'at'>,
  privateKey: KeyObject,
  publicKeyPem: string,
): SignedHead {
  const signature = sign(null, headBytes(head), privateKey).toString('base64')
  return { ...head, algorithm: 'Ed25519', signature, publicKey: publicKeyPem }
}

export function headSignatureValid(head: SignedHead): boolean {
  try {
    return verify(null, headBytes(head), head.publicKey, Buffer.from(head.signature, 'base64'))
  } catch {
    return false
  }
}

export interface ChainFault {
  seq: number | null
  reason: string
}

/**
 * Checks one entry against its predecessor; returns why it is bad, or null. `expectedSeq`
 * and `prevHash` come from the entry before it (1 and the genesis hash for the first).
 */
export function checkLink(event: AuditEvent, expectedSeq: number, prevHash: string): ChainFault | null {
  if (event.seq !== expectedSeq) {
    const what = event.seq < expectedSeq ? 'repeated or out of order' : 'missing entries before it'
    return { seq: expectedSeq, reason: `expected seq ${expectedSeq} but found ${event.seq} (${what})` }
  }
  if (event.prevHash !== prevHash) {
    return {
      seq: event.seq,
      reason: `its prevHash does not match the hash of seq ${event.seq - 1} (an entry was inserted, removed or replaced)`,
    }
  }
  if (hashEvent(event) !== event.hash) {
    return { seq: event.seq, reason: 'its content does not match its hash (the entry was edited)' }
  }
  return null
}
