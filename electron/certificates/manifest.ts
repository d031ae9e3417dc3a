/**
 * The certificate manifest: everything the certificate claims, as canonical JSON (RFC 8785)
 * signed with the organisation's Ed25519 key. It holds no raw identifier: the subject is
 * referenced by the ledger's salted hash, the removed rows by a count and a hash.
 */
import { createHash } from 'node:crypto'
import type { GuaranteeStrength } from '../contract/guarantee'
import { canonicalJson } from '../lib/canonical-json'
import { manifestSignatureValid, type OrganisationIdentity } from './organisation'

export interface SetScores {
  forgetAccuracy: number
  retainAccuracy: number
  testAccuracy: number
  /** Membership-inference AUC on the forget rows; null when there are too few rows for the attack. */
  miaAuc: number | null
  miaInterval: [number, number] | null
}

export interface CertificateManifest {
  format: 'lethe-certificate'
  /**
   * 2: the ledger's head key is pinned (`ledger.keyFingerprint`). 3: the versions covered
   * (`models`), what this certificate replaces (`supersedes`) and the versions deleted or kept.
   * 4: the files the result model was exported as (`artifacts`).
   */
  version: 2 | 3 | 4
  certificateId: string
  issuedAt: string
  issuer: {
    organisation: string
    software: string
    manifestKeyFingerprint: string
    certificateFingerprint: string
  }
  request: {
    id: string
    jurisdiction: string
    legalBasis: string
    ground: string | null
    received: string
    completed: string
    /** The ledger's salted hash of the requester: recognises the person, reveals nothing. */
    subjectReference: string
  }
  records: {
    count: number
    /** SHA-256 of the removed row ids, sorted ascending and joined with commas. */
    rowsSha256: string
    datasetId: string
    datasetSha256: string
  }
  model: { before: ModelRef; after: ModelRef }
  method: {
    name: string
    guarantee: {
      kind: 'exact' | 'certified' | 'empirical'
      /** Absent from manifests issued before guarantees were graded: strengthOf derives it from kind and ε. */
      strength?: GuaranteeStrength
      meaning: string
      epsilon?: number
      delta?: number
    }
  }
  verification: {
    before: SetScores
    after: SetScores
    retrained: SetScores | null
    /** ‖θ_after − θ_retrained‖₂ and ‖θ_before − θ_retrained‖₂, where a retrained reference was computed. */
    distanceToRetrained: { after: number; before: number } | null
  }
  compute: { backend: string; unlearningMs: number }
  /**
   * The ledger's signed head when the certificate was issued, so a truncation or rollback past it
   * is detectable, and the fingerprint of the key that signs the ledger, so a history re-signed
   * with another key is too.
   */
  ledger: { ledgerId: string; seq: number; hash: string; keyFingerprint: string }
  scope: {
    datasets: string[]
    models: string[]
    notCovered: string[]
    /** Organisations the erasure is passed on to (GDPR Art. 19): processors, other controllers; never a person. */
    recipientsToNotify: string[]
  }
  /** v3: every version this certificate covers, the one detailed above (`model`) first. */
  models?: CoveredModel[]
  /** v3: the earlier certificate for the same request that this one replaces; both stay in the ledger. */
  supersedes?: string | null
  /** v3: the other versions still trained on the request's rows: deleted, or kept and why. */
  versions?: { deleted: ModelRef[]; kept: (ModelRef & { reason: string })[] }
  /**
   * v4: every file the result model (`model.after`) was exported as before issuing, one entry per
   * file (a TF.js export writes several), so `lethe verify --model FILE` can bind a deployed file.
   */
  artifacts?: Artifact[]
}

export interface Artifact {
  format: string
  /** The file's name as written, without its folder. */
  fileName: string
  sha256: string
  bytes: number
  exportedAt: string
}

export interface ModelRef {
  id: string
  sha256: string
}

export interface CoveredModel {
  before: ModelRef
  after: ModelRef
  method: string
}

/** SHA-256 of sorted row ids, so the same rows always give the same hash and no row is named. */
export function rowsDigest(rows: Iterable<number>): string {
  const sorted = [...rows].sort((a, b) => a - b)
  return createHash('sha256').update(sorted.join(',')).digest('hex')
}

export function manifestBytes(manifest: CertificateManifest): Buffer {
  return Buffer.from(canonicalJson(manifest))
}

export function manifestSha256(manifest: CertificateManifest): string {
  return createHash('sha256').update(manifestBytes(manifest)).digest('hex')
}

/** The canonical manifest and its detached Ed25519 signature (64 bytes). */
export function signManifest(manifest: CertificateManifest, organisation: OrganisationIdentity) {
  const bytes = manifestBytes(manifest)
  return { bytes, signature: organisation.signManifest(bytes) }
}

/** A manifest as stored must be canonical: the bytes that were signed are the bytes there are. */
export function checkManifest(bytes: Buffer, signature: Buffer, publicKeyPem: string) {
  let manifest: CertificateManifest | null = null
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as CertificateManifest
  } catch {
    return { manifest: null, canonical: false, signatureValid: false }
  }
  const canonical = manifestBytes(manifest).equals(bytes)
  return { manifest, canonical, signatureValid: manifestSignatureValid(bytes, signature, publicKeyPem) }
}
