/**
 * The ledger's secrets, created with the ledger: an Ed25519 key that signs the head (and the
 * projection's checkpoint), sealed at rest by the same key protector as the organisation's
 * keys, and an HMAC key that turns identifiers into the salted hashes kept in the chain. The
 * head key's public half lies beside it in the clear; files are readable by their owner only.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../contract'
import type { SubjectId } from '../contract/ledger'
import { writeFileDurably } from '../lib/files'
import type { KeyProtector } from '../lib/key-protector'

/** What every open ledger needs: the key that checks heads, and the one that salts identifiers. */
export interface LedgerKeys {
  publicKeyPem: string
  hmacKey: Buffer
}

/** The secrets in the clear, as a whole-ledger export carries them. */
export interface KeyMaterial {
  signingKeyPem: string
  hmacKeyHex: string
}

const SEALED = 'head-ed25519.sealed.json'
const PUBLIC = 'head-ed25519.pub.pem'
const HMAC = 'subject-hmac.key'
/** Before the head key was sealed, it lay here in the clear. */
const LEGACY = 'head-ed25519.pem'

interface SealedKey {
  protection: KeyProtector['kind']
  sealed: string
}

export function newKeyMaterial(): KeyMaterial {
  const { privateKey } = generateKeyPairSync('ed25519')
  return {
    signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    hmacKeyHex: randomBytes(32).toString('hex'),
  }
}

const publicOf = (signingKeyPem: string): string =>
  createPublicKey(createPrivateKey(signingKeyPem)).export({ type: 'spki', format: 'pem' }).toString()

/** Stores the secrets: the head key sealed, its public half and the HMAC key beside it. */
export async function writeKeyMaterial(
  folder: string,
  material: KeyMaterial,
  protector: KeyProtector,
): Promise<LedgerKeys> {
  await mkdir(folder, { recursive: true, mode: 0o700 })
  const sealed: SealedKey = {
    protection: protector.kind,
    sealed: await protector.seal(material.signingKeyPem),
  }
  const publicKeyPem = publicOf(material.signingKeyPem)
  await writeFileDurably(path.join(folder, SEALED), Buffer.from(JSON.stringify(sealed)))
  await writeFileDurably(path.join(folder, PUBLIC), Buffer.from(publicKeyPem))
  await writeFileDurably(path.join(folder, HMAC), Buffer.from(material.hmacKeyHex))
  return { publicKeyPem, hmacKey: Buffer.from(material.hmacKeyHex, 'hex') }
}

function unreadable(folder: string, error: unknown): LetheError {
  return new LetheError(
    'CORRUPT',
    `The ledger's keys in ${folder} cannot be read: ${(error as Error).message}`,
    { file: folder },
  )
}

/** The public parts, which reading and verifying need; no protector is involved. */
export async function readLedgerKeys(folder: string): Promise<LedgerKeys> {
  try {
    const hmacKeyHex = (await readFile(path.join(folder, HMAC), 'utf8')).trim()
    const publicKeyPem = existsSync(path.join(folder, PUBLIC))
      ? await readFile(path.join(folder, PUBLIC), 'utf8')
      : publicOf(await readFile(path.join(folder, LEGACY), 'utf8'))
    return { publicKeyPem, hmacKey: Buffer.from(hmacKeyHex, 'hex') }
  } catch (error) {
    throw unreadable(folder, error)
  }
}

/** Whether the head key still lies in the clear here (an older Lethe wrote it so). */
export const hasClearKey = (folder: string): boolean => existsSync(path.join(folder, LEGACY))

/**
 * Seals a head key still in the clear (a ledger, or a backup of one, from before keys were
 * sealed) and removes the clear copy. Returns whether there was one.
 */
export async function sealClearKey(folder: string, protector: KeyProtector): Promise<boolean> {
  const clear = path.join(folder, LEGACY)
  if (!hasClearKey(folder)) return false
  try {
    const signingKeyPem = await readFile(clear, 'utf8')
    const hmacKeyHex = (await readFile(path.join(folder, HMAC), 'utf8')).trim()
    await writeKeyMaterial(folder, { signingKeyPem, hmacKeyHex }, protector)
  } catch (error) {
    if (error instanceof LetheError) throw error
    throw unreadable(folder, error)
  }
  await rm(clear, { force: true })
  return true
}

/**
 * Opens the sealed head key. It must be the key whose public half the ledger shows: a keys
 * folder swapped for another is refused, never used.
 */
export async function openSigningKey(
  folder: string,
  protector: KeyProtector,
  publicKeyPem: string,
): Promise<KeyObject> {
  let stored: SealedKey
  try {
    stored = JSON.parse(await readFile(path.join(folder, SEALED), 'utf8')) as SealedKey
  } catch (error) {
    throw unreadable(folder, error)
  }
  if (stored.protection !== protector.kind) {
    throw new LetheError(
      'BAD_INPUT',
      `The ledger's signing key was sealed with ${stored.protection}, not ${protector.kind}: open Lethe where it was sealed, or with the same passphrase.`,
    )
  }
  const pem = await protector.open(stored.sealed)
  if (publicOf(pem) !== publicKeyPem) {
    throw new LetheError(
      'CORRUPT',
      `The sealed signing key in ${folder} is not the key this ledger is signed with: the keys were replaced. Nothing was signed.`,
      { file: folder },
    )
  }
  return createPrivateKey(pem)
}

/** The secrets in the clear, for a whole-ledger export. */
export async function readKeyMaterial(folder: string, signing: KeyObject): Promise<KeyMaterial> {
  return {
    signingKeyPem: signing.export({ type: 'pkcs8', format: 'pem' }).toString(),
    hmacKeyHex: (await readLedgerKeys(folder)).hmacKey.toString('hex'),
  }
}

/** Identifiers are compared in a normal form: e-mail addresses case-insensitively. */
export function normalise(
  type: SubjectId['type'] | 'requester-email' | 'requester-name' | 'requester' | 'attachment-name',
  value: string,
): string {
  const trimmed = value.trim().normalize('NFC')
  return type === 'email' || type === 'requester-email' || type === 'requester-name'
    ? trimmed.toLowerCase()
    : trimmed
}

/** The requester's salted hash: by e-mail when given, else by name and other contact. */
export function requesterHashOf(
  keys: LedgerKeys,
  requester: { name: string; email: string | null; otherContact: string | null },
): string {
  return requester.email
    ? hmacOf(keys, 'requester-email', requester.email)
    : hmacOf(keys, 'requester-name', `${requester.name}|${requester.otherContact ?? ''}`)
}

/** The salted hash of the requester's name and contacts exactly as stored. */
export function requesterHmacOf(
  keys: LedgerKeys,
  requester: { name: string; email: string | null; otherContact: string | null },
): string {
  return hmacOf(keys, 'requester', JSON.stringify([requester.name, requester.email, requester.otherContact]))
}

/** The salted hash that stands for an identifier everywhere outside the personal store. */
export function hmacOf(keys: LedgerKeys, type: Parameters<typeof normalise>[0], value: string): string {
  return createHmac('sha256', keys.hmacKey)
    .update(`${type}:${normalise(type, value)}`)
    .digest('hex')
}

/**
 * The salted hash of a free text exactly as typed, bound to its id so that equal texts (the same
 * reason given twice) do not look equal in the chain.
 */
export function textHmacOf(keys: LedgerKeys, textId: string, text: string): string {
  return createHmac('sha256', keys.hmacKey).update(`text:${textId}:${text}`).digest('hex')
}
