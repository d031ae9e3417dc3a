/**
 * The ledger's secrets, created with the ledger: an Ed25519 key that signs the head, and an
 * HMAC key that turns identifiers into the salted hashes kept in the chain. Files are
 * readable by their owner only.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../contract'
import type { SubjectId } from '../contract/ledger'

export interface LedgerKeys {
  signing: KeyObject
  publicKeyPem: string
  hmacKey: Buffer
}

export interface KeyMaterial {
  signingKeyPem: string
  hmacKeyHex: string
}

const SIGNING = 'head-ed25519.pem'
const HMAC = 'subject-hmac.key'

export function keysFromMaterial(material: KeyMaterial): LedgerKeys {
  const signing = createPrivateKey(material.signingKeyPem)
  const publicKeyPem = createPublicKey(signing).export({ type: 'spki', format: 'pem' }).toString()
  return { signing, publicKeyPem, hmacKey: Buffer.from(material.hmacKeyHex, 'hex') }
}

export function newKeyMaterial(): KeyMaterial {
  const { privateKey } = generateKeyPairSync('ed25519')
  return {
    signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    hmacKeyHex: randomBytes(32).toString('hex'),
  }
}

export async function writeKeyMaterial(folder: string, material: KeyMaterial): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o700 })
  await writeFile(path.join(folder, SIGNING), material.signingKeyPem, { mode: 0o600, flush: true })
  await writeFile(path.join(folder, HMAC), material.hmacKeyHex, { mode: 0o600, flush: true })
}

export async function readKeyMaterial(folder: string): Promise<KeyMaterial> {
  try {
    return {
      signingKeyPem: await readFile(path.join(folder, SIGNING), 'utf8'),
      hmacKeyHex: (await readFile(path.join(folder, HMAC), 'utf8')).trim(),
    }
  } catch (error) {
    throw new LetheError(
      'CORRUPT',
      `The ledger's keys in ${folder} cannot be read: ${(error as Error).message}`,
      {
        file: folder,
      },
    )
  }
}

/** Identifiers are compared in a normal form: e-mail addresses case-insensitively. */
export function normalise(
  type: SubjectId['type'] | 'requester-email' | 'requester-name',
  value: string,
): string {
  const trimmed = value.trim().normalize('NFC')
  return type === 'email' || type === 'requester-email' || type === 'requester-name'
    ? trimmed.toLowerCase()
    : trimmed
}

/** The salted hash that stands for an identifier everywhere outside the personal store. */
export function hmacOf(keys: LedgerKeys, type: Parameters<typeof normalise>[0], value: string): string {
  return createHmac('sha256', keys.hmacKey)
    .update(`${type}:${normalise(type, value)}`)
    .digest('hex')
}
