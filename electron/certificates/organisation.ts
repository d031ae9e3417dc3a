/**
 * The organisation's identity: an Ed25519 key that signs certificate manifests, and an RSA
 * identity (X.509) for the PDF signature, which common PDF tools check. Private keys are
 * never stored in the clear: a protector seals them (Electron's safeStorage in the app, a
 * passphrase in the CLI and tests).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../contract'
import { writeFileDurably } from '../lib/files'
import { parseStored } from '../ledger/durable'
import { createSigningIdentity, fingerprint, type SigningIdentity } from './signing-identity'

/** Seals private keys at rest and opens them again. */
export interface KeyProtector {
  /** What the stored form says about how it was sealed, for a clear error when it cannot be opened. */
  kind: 'passphrase' | 'safe-storage'
  seal(privateKeyPem: string): Promise<string>
  open(sealed: string): Promise<string>
}

/**
 * Passphrase protection as encrypted PKCS#8 (PBES2 with AES-256-CBC), which openssl reads too: `openssl pkey -in key.pem -passin pass:…`.
 */
export function passphraseProtector(passphrase: string): KeyProtector {
  if (passphrase.length < 8)
    throw new LetheError('BAD_INPUT', 'The key passphrase must have at least 8 characters.')
  return {
    kind: 'passphrase',
    seal: async (pem) =>
      createPrivateKey(pem)
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
        .toString(),
    open: async (sealed) => {
      try {
        return createPrivateKey({ key: sealed, passphrase })
          .export({ type: 'pkcs8', format: 'pem' })
          .toString()
      } catch {
        throw new LetheError(
          'BAD_INPUT',
          'The key passphrase is wrong: the organisation keys cannot be opened.',
        )
      }
    },
  }
}

interface StoredIdentity {
  format: 'lethe-organisation'
  name: string
  createdAt: string
  protection: KeyProtector['kind']
  manifestKey: { publicKeyPem: string; sealedPrivateKey: string }
  pdfSigning: { certificatePem: string; sealedPrivateKey: string }
}

export interface OrganisationIdentity {
  name: string
  createdAt: string
  manifestPublicKeyPem: string
  /** Signs bytes with the organisation's Ed25519 key (detached, raw 64-byte signature). */
  signManifest(bytes: Uint8Array): Buffer
  pdfSigning: SigningIdentity
}

export interface PublicIdentity {
  name: string
  manifestPublicKeyPem: string
  manifestKeyFingerprint: string
  certificatePem: string
  certificateFingerprint: string
}

const FILE = 'organisation.json'

export const organisationFile = (folder: string) => path.join(folder, FILE)

/** SHA-256 of the DER public key, hex with colons: what an auditor compares on the phone. */
export function keyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? ''
}

export async function createOrganisation(
  folder: string,
  name: string,
  protector: KeyProtector,
  now = new Date(),
): Promise<OrganisationIdentity> {
  const file = organisationFile(folder)
  if (existsSync(file))
    throw new LetheError(
      'CONFLICT',
      `The organisation keys already exist in ${folder}; they are never replaced silently.`,
    )
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const pdf = createSigningIdentity(name, now)
  const stored: StoredIdentity = {
    format: 'lethe-organisation',
    name,
    createdAt: now.toISOString(),
    protection: protector.kind,
    manifestKey: {
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      sealedPrivateKey: await protector.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    },
    pdfSigning: {
      certificatePem: pdf.certificatePem,
      sealedPrivateKey: await protector.seal(pdf.privateKeyPem),
    },
  }
  await mkdir(folder, { recursive: true, mode: 0o700 })
  await writeFileDurably(file, Buffer.from(JSON.stringify(stored, null, 2)))
  return open(stored, protector)
}

export async function loadOrganisation(
  folder: string,
  protector: KeyProtector,
): Promise<OrganisationIdentity> {
  const file = organisationFile(folder)
  if (!existsSync(file))
    throw new LetheError('NOT_FOUND', 'The organisation has no keys yet: create them first.')
  const stored = parseStored<StoredIdentity>(file, await readFile(file, 'utf8'))
  if (stored.format !== 'lethe-organisation')
    throw new LetheError('CORRUPT', `${file} is not a Lethe organisation identity.`, { file })
  if (stored.protection !== protector.kind) {
    throw new LetheError(
      'BAD_INPUT',
      `The organisation keys were sealed with ${stored.protection}, not ${protector.kind}.`,
    )
  }
  return open(stored, protector)
}

/** Replaces the PDF-signing identity with the organisation's own (from its PKCS#12). */
export async function replacePdfSigning(
  folder: string,
  identity: SigningIdentity,
  protector: KeyProtector,
): Promise<void> {
  const file = organisationFile(folder)
  const stored = parseStored<StoredIdentity>(file, await readFile(file, 'utf8'))
  const next: StoredIdentity = {
    ...stored,
    pdfSigning: {
      certificatePem: identity.certificatePem,
      sealedPrivateKey: await protector.seal(identity.privateKeyPem),
    },
  }
  await writeFileDurably(file, Buffer.from(JSON.stringify(next, null, 2)))
}

export async function publicIdentity(folder: string): Promise<PublicIdentity> {
  const file = organisationFile(folder)
  if (!existsSync(file))
    throw new LetheError('NOT_FOUND', 'The organisation has no keys yet: create them first.')
  const stored = parseStored<StoredIdentity>(file, await readFile(file, 'utf8'))
  return {
    name: stored.name,
    manifestPublicKeyPem: stored.manifestKey.publicKeyPem,
    manifestKeyFingerprint: keyFingerprint(stored.manifestKey.publicKeyPem),
    certificatePem: stored.pdfSigning.certificatePem,
    certificateFingerprint: fingerprint(stored.pdfSigning.certificatePem),
  }
}

async function open(stored: StoredIdentity, protector: KeyProtector): Promise<OrganisationIdentity> {
  const manifestKey: KeyObject = createPrivateKey(await protector.open(stored.manifestKey.sealedPrivateKey))
  return {
    name: stored.name,
    createdAt: stored.createdAt,
    manifestPublicKeyPem: stored.manifestKey.publicKeyPem,
    signManifest: (bytes) => sign(null, bytes, manifestKey),
    pdfSigning: {
      certificatePem: stored.pdfSigning.certificatePem,
      privateKeyPem: await protector.open(stored.pdfSigning.sealedPrivateKey),
    },
  }
}

/** Checks a detached Ed25519 signature over bytes (the manifest) with a public key. */
export function manifestSignatureValid(
  bytes: Uint8Array,
  signature: Uint8Array,
  publicKeyPem: string,
): boolean {
  try {
    return verify(null, bytes, publicKeyPem, signature)
  } catch {
    return false
  }
}
