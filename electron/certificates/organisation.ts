/**
 * The organisation's identity: an Ed25519 key that signs certificate manifests, and an RSA
 * identity (X.509) for the PDF signature, which common PDF tools check. Private keys are
 * never stored in the clear: a protector seals them (Electron's safeStorage in the app, a
 * passphrase in the CLI and tests).
 */
import { createPrivateKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../contract'
import { canonicalJson } from '../lib/canonical-json'
import { writeFileDurably } from '../lib/files'
import { keyFingerprint } from '../lib/digest'
import type { KeyProtector } from '../lib/key-protector'
import { parseStored } from '../ledger/durable'
import { createSigningIdentity, fingerprint, type SigningIdentity } from './signing-identity'

/** The ledger whose heads this organisation's certificates cite, and the key that signs them. */
export interface LedgerKeyPin {
  ledgerId: string
  keyFingerprint: string
}

interface StoredIdentity {
  format: 'lethe-organisation'
  name: string
  createdAt: string
  protection: KeyProtector['kind']
  manifestKey: { publicKeyPem: string; sealedPrivateKey: string }
  pdfSigning: { certificatePem: string; sealedPrivateKey: string }
  /** Signed with the manifest key: replacing the ledger's key is then detectable. */
  ledgerKey?: LedgerKeyPin & { signature: string }
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
  ledgerKeyFingerprint: string | null
}

const FILE = 'organisation.json'

export const organisationFile = (folder: string) => path.join(folder, FILE)

const pinBytes = (pin: LedgerKeyPin) =>
  Buffer.from(canonicalJson({ ledgerId: pin.ledgerId, keyFingerprint: pin.keyFingerprint }))

export async function createOrganisation(
  folder: string,
  name: string,
  protector: KeyProtector,
  ledger: LedgerKeyPin,
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
    ledgerKey: { ...ledger, signature: sign(null, pinBytes(ledger), privateKey).toString('base64') },
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
    ledgerKeyFingerprint: stored.ledgerKey?.keyFingerprint ?? null,
  }
}

/**
 * The ledger key the organisation pinned, if its signature verifies with the organisation's
 * manifest key; `invalid` says why it does not.
 */
export async function pinnedLedgerKey(
  folder: string,
): Promise<(LedgerKeyPin & { invalid?: undefined }) | { invalid: string } | null> {
  const file = organisationFile(folder)
  if (!existsSync(file)) return null
  const stored = parseStored<StoredIdentity>(file, await readFile(file, 'utf8'))
  if (!stored.ledgerKey) return null
  const { signature, ...pin } = stored.ledgerKey
  return manifestSignatureValid(
    pinBytes(pin),
    Buffer.from(signature, 'base64'),
    stored.manifestKey.publicKeyPem,
  )
    ? pin
    : { invalid: `the ledger key pinned in ${file} is not signed by the organisation’s key` }
}

/**
 * Pins the ledger's key in an organisation created before keys were pinned: the first time
 * the organisation signs a certificate with this version, it vouches for the key in use.
 */
export async function pinLedgerKey(folder: string, organisation: OrganisationIdentity, ledger: LedgerKeyPin) {
  const file = organisationFile(folder)
  const stored = parseStored<StoredIdentity>(file, await readFile(file, 'utf8'))
  if (stored.ledgerKey) return
  const signature = organisation.signManifest(pinBytes(ledger)).toString('base64')
  await writeFileDurably(
    file,
    Buffer.from(JSON.stringify({ ...stored, ledgerKey: { ...ledger, signature } }, null, 2)),
  )
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
