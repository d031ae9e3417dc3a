/**
 * Checks a certificate PDF and says exactly what holds and what does not: the PDF signature,
 * the embedded manifest and its Ed25519 signature, the signer, and, with this installation's
 * ledger at hand, the model hashes, the chain and the issuance entry.
 */
import { createHash, X509Certificate } from 'node:crypto'
import type { VerifyResult } from '../ledger/audit'
import type { AuditEvent } from '../contract/ledger'
import { extractAttachments } from './attachments'
import { checkManifest, manifestSha256, type CertificateManifest } from './manifest'
import { keyFingerprint } from './organisation'
import { inspectPdfSignature } from './pdf-signature'
import { fingerprint } from './signing-identity'

export interface CheckItem {
  id: string
  label: string
  /** null: could not be checked here (no ledger, no organisation key). */
  pass: boolean | null
  detail: string
}

export interface VerificationChecklist {
  ok: boolean
  certificateId: string | null
  requestId: string | null
  items: CheckItem[]
}

/** What this installation knows, for the checks an outside auditor cannot make. */
export interface LedgerWitness {
  organisationKeyPem: string | null
  registry: ReadonlyMap<string, { contentHash: string }>
  chain: () => Promise<VerifyResult>
  issuance: (certificateId: string) => Promise<AuditEvent | null>
  eventAt: (seq: number) => Promise<AuditEvent | null>
}

export async function verifyCertificate(
  pdf: Buffer,
  witness: LedgerWitness | null,
): Promise<VerificationChecklist> {
  const items: CheckItem[] = []
  const add = (id: string, label: string, pass: boolean | null, detail: string) =>
    items.push({ id, label, pass, detail })
  const finish = (manifest: CertificateManifest | null): VerificationChecklist => ({
    ok: items.every((i) => i.pass !== false),
    certificateId: manifest?.certificateId ?? null,
    requestId: manifest?.request.id ?? null,
    items,
  })

  const signature = inspectPdfSignature(pdf)
  const pdfOk = signature.present && signature.coversWholeFile && signature.digestMatches
  add(
    'pdf-signature',
    'The PDF signature covers the whole document and matches it',
    pdfOk,
    !signature.present
      ? 'no signature found'
      : !signature.coversWholeFile
        ? 'the signature does not cover the whole file: bytes were added or removed'
        : !signature.digestMatches
          ? 'the document was changed after it was signed (digest mismatch)'
          : `signed by ${signature.signer} on ${signature.signedAt}`,
  )

  let files: Map<string, Buffer>
  try {
    files = extractAttachments(pdf)
  } catch (error) {
    add('attachments', 'The manifest and its signature are attached', false, (error as Error).message)
    return finish(null)
  }
  const bytes = files.get('manifest.json')
  const sig = files.get('manifest.sig')
  const key = files.get('organisation-manifest-key.pem')?.toString()
  add(
    'attachments',
    'The manifest and its signature are attached',
    Boolean(bytes && sig && key),
    bytes && sig && key ? 'manifest.json, manifest.sig and the public key found' : 'missing attachments',
  )
  if (!bytes || !sig || !key) return finish(null)

  const checked = checkManifest(bytes, sig, key)
  const manifest = checked.manifest
  add(
    'manifest-canonical',
    'The manifest is canonical JSON (RFC 8785)',
    checked.canonical,
    checked.canonical ? 'bytes are canonical' : 'the manifest is not in canonical form',
  )
  add(
    'manifest-signature',
    'The manifest’s Ed25519 signature is valid',
    checked.signatureValid,
    checked.signatureValid
      ? `key ${keyFingerprint(key)}`
      : 'the signature does not match the manifest and the attached key',
  )
  if (!manifest) return finish(null)

  const pdfCert = files.get('organisation-certificate.pem')?.toString()
  // The signed manifest names the PDF certificate by its fingerprint; the PDF must be signed by it.
  const certName = pdfCert ? (/CN=([^\n]+)/.exec(new X509Certificate(pdfCert).subject)?.[1] ?? null) : null
  const signerMatches =
    pdfCert !== undefined &&
    fingerprint(pdfCert) === manifest.issuer.certificateFingerprint &&
    certName !== null &&
    signature.signer === certName
  add(
    'signer',
    'The PDF was signed with the certificate the manifest names',
    signerMatches,
    signerMatches
      ? `${certName} (${manifest.issuer.certificateFingerprint})`
      : `the manifest names certificate ${manifest.issuer.certificateFingerprint}; the PDF was signed by ${signature.signer ?? 'nobody'}`,
  )
  add(
    'key-fingerprint',
    'The attached key is the one the manifest names',
    keyFingerprint(key) === manifest.issuer.manifestKeyFingerprint,
    manifest.issuer.manifestKeyFingerprint,
  )

  if (!witness) {
    for (const [id, label] of [
      ['organisation-key', 'The key is this organisation’s'],
      ['models', 'The model hashes are in the registry'],
      ['ledger-chain', 'The ledger’s hash chain verifies'],
      ['ledger-issuance', 'The ledger records this issuance'],
    ] as const) {
      add(id, label, null, 'not checked: no Lethe ledger here')
    }
    return finish(manifest)
  }

  add(
    'organisation-key',
    'The key is this organisation’s',
    witness.organisationKeyPem === null
      ? null
      : keyFingerprint(witness.organisationKeyPem) === keyFingerprint(key),
    witness.organisationKeyPem === null
      ? 'this installation has no organisation keys'
      : keyFingerprint(witness.organisationKeyPem),
  )
  const hashOk = (m: { id: string; sha256: string }) => witness.registry.get(m.id)?.contentHash === m.sha256
  const models = [manifest.model.before, manifest.model.after]
  add(
    'models',
    'The model hashes are in the registry',
    models.every(hashOk),
    models.map((m) => `${m.id}: ${hashOk(m) ? 'matches' : 'not in the registry with this hash'}`).join('; '),
  )

  const chain = await witness.chain()
  add(
    'ledger-chain',
    'The ledger’s hash chain verifies',
    chain.ok,
    chain.ok
      ? `${chain.events} entries, head ${chain.head?.seq}`
      : (chain.firstBad?.reason ?? chain.stateMismatches.join('; ')),
  )

  const cited = await witness.eventAt(manifest.ledger.seq)
  const issuance = await witness.issuance(manifest.certificateId)
  const digest = manifestSha256(manifest)
  const issuanceOk =
    cited?.hash === manifest.ledger.hash &&
    issuance !== null &&
    issuance.seq > manifest.ledger.seq &&
    issuance.payload.manifestSha256 === digest
  add(
    'ledger-issuance',
    'The ledger records this issuance',
    issuanceOk,
    cited?.hash !== manifest.ledger.hash
      ? `the ledger entry ${manifest.ledger.seq} the certificate cites is not the one in the chain`
      : !issuance
        ? 'no issuance entry for this certificate'
        : issuance.payload.manifestSha256 !== digest
          ? 'the issuance entry records another manifest'
          : `entry ${issuance.seq} (${createHash('sha256').update(pdf).digest('hex') === issuance.payload.pdfSha256 ? 'this very file' : 'same manifest'})`,
  )
  return finish(manifest)
}
