/**
 * Checks a certificate PDF and says exactly what holds and what does not: the PDF signature,
 * the embedded manifest and its Ed25519 signature, the signer, and, with this installation's
 * organisation keys and ledger at hand, the key, the model hashes, the chain and the issuance.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { LetheError } from '../contract'
import type { VerifyResult } from '../ledger/verify'
import type { AuditEvent } from '../contract/ledger'
import { keyFingerprint, sha256Hex } from '../lib/digest'
import { extractAttachments } from './attachments'
import { checkManifest, manifestSha256, type Artifact, type CertificateManifest } from './manifest'
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

/** This installation's ledger, for the checks an outside auditor cannot make. */
export interface LedgerWitness {
  /** Fingerprint of the key that signs the ledger's heads. */
  keyFingerprint: string
  registry: ReadonlyMap<string, { contentHash: string }>
  chain: () => Promise<VerifyResult>
  issuance: (certificateId: string) => Promise<AuditEvent | null>
  eventAt: (seq: number) => Promise<AuditEvent | null>
}

/** Something this installation has but cannot read: a failure, never a reason to skip a check. */
export interface Unreadable {
  unreadable: string
}

/** What this installation knows; null where it has none of it (an outside auditor's view). */
export interface InstallationWitness {
  organisationKeyPem: string | Unreadable | null
  ledger: LedgerWitness | Unreadable | null
}

const isUnreadable = (value: unknown): value is Unreadable =>
  typeof value === 'object' && value !== null && 'unreadable' in value

export async function verifyCertificate(
  pdf: Buffer,
  here: InstallationWitness,
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
          : `signed on ${signature.signedAt} by “${signature.signer}”, certificate ${signature.signerFingerprint}`,
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

  // The signed manifest names the PDF certificate by the hash of its DER; the PDF signature must
  // verify with exactly that certificate's key. Its name proves nothing: anyone can make a
  // certificate with the organisation's name and re-sign the file with it.
  const named = manifest.issuer.certificateFingerprint
  const attached = files.get('organisation-certificate.pem')?.toString()
  const attachedFingerprint = attached ? certificateFingerprint(attached) : null
  const signerMatches = pdfOk && signature.signerFingerprint === named && attachedFingerprint === named
  add(
    'signer',
    'The PDF was signed with the certificate the manifest names',
    signerMatches,
    signerMatches
      ? `${signature.signer} (${named})`
      : signature.signerFingerprint !== named
        ? `the manifest names certificate ${named}; the PDF was signed with ${signature.signerFingerprint ?? 'no verifiable certificate'}${signature.signer ? ` (“${signature.signer}”)` : ''}`
        : `the attached organisation certificate (${attachedFingerprint ?? 'missing'}) is not the one the manifest names`,
  )
  add(
    'key-fingerprint',
    'The attached key is the one the manifest names',
    keyFingerprint(key) === manifest.issuer.manifestKeyFingerprint,
    manifest.issuer.manifestKeyFingerprint,
  )

  const organisation = here.organisationKeyPem
  add(
    'organisation-key',
    'The key is this organisation’s',
    organisation === null
      ? null
      : !isUnreadable(organisation) && keyFingerprint(organisation) === keyFingerprint(key),
    organisation === null
      ? 'not checked: this installation has no organisation keys'
      : isUnreadable(organisation)
        ? `this installation's organisation keys cannot be read: ${organisation.unreadable}`
        : keyFingerprint(organisation),
  )

  const ledger = here.ledger
  const ledgerChecks = [
    ['ledger-key', 'The ledger is signed with the key the certificate pins'],
    ['models', 'The model hashes are in the registry'],
    ['ledger-chain', 'The ledger’s hash chain verifies'],
    ['ledger-issuance', 'The ledger records this issuance'],
  ] as const
  if (ledger === null || isUnreadable(ledger)) {
    for (const [id, label] of ledgerChecks) {
      if (ledger === null) add(id, label, null, 'not checked: no Lethe ledger here')
      else add(id, label, false, `this installation's ledger cannot be read: ${ledger.unreadable}`)
    }
    return finish(manifest)
  }

  const pinned = manifest.ledger.keyFingerprint
  add(
    'ledger-key',
    ledgerChecks[0][1],
    ledger.keyFingerprint === pinned,
    ledger.keyFingerprint === pinned
      ? pinned
      : `the certificate pins ${pinned}; this ledger is signed with ${ledger.keyFingerprint}`,
  )
  const hashOk = (m: { id: string; sha256: string }) => ledger.registry.get(m.id)?.contentHash === m.sha256
  // Version 3 lists every version covered; version 2 only the one pair.
  const pairs = manifest.models ?? [manifest.model]
  const models = [...new Map(pairs.flatMap((m) => [m.before, m.after]).map((m) => [m.id, m])).values()]
  add(
    'models',
    ledgerChecks[1][1],
    models.every(hashOk),
    models.map((m) => `${m.id}: ${hashOk(m) ? 'matches' : 'not in the registry with this hash'}`).join('; '),
  )

  const chain = await ledger.chain()
  add(
    'ledger-chain',
    ledgerChecks[2][1],
    chain.ok,
    chain.ok
      ? `${chain.events} entries, head ${chain.head?.seq}`
      : (chain.firstBad?.reason ?? chain.stateMismatches.join('; ')),
  )

  const cited = await ledger.eventAt(manifest.ledger.seq)
  const issuance = await ledger.issuance(manifest.certificateId)
  const digest = manifestSha256(manifest)
  const issuanceOk =
    cited?.hash === manifest.ledger.hash &&
    issuance !== null &&
    issuance.seq > manifest.ledger.seq &&
    issuance.payload.manifestSha256 === digest
  add(
    'ledger-issuance',
    ledgerChecks[3][1],
    issuanceOk,
    !cited
      ? `the ledger has no entry ${manifest.ledger.seq}, which the certificate cites: it was rolled back or truncated`
      : cited.hash !== manifest.ledger.hash
        ? `the ledger entry ${manifest.ledger.seq} the certificate cites is not the one in the chain`
        : !issuance
          ? 'no issuance entry for this certificate'
          : issuance.payload.manifestSha256 !== digest
            ? 'the issuance entry records another manifest'
            : `entry ${issuance.seq} (${sha256Hex(pdf) === issuance.payload.pdfSha256 ? 'this very file' : 'same manifest'})`,
  )
  return finish(manifest)
}

function certificateFingerprint(pem: string): string | null {
  try {
    return fingerprint(pem)
  } catch {
    return null // not a certificate: it matches nothing
  }
}

/** One file `--model` checks, with its SHA-256. */
interface HashedFile {
  name: string
  sha256: string
}

/**
 * Checks that a deployed model file is one the certificate lists among the result model's exports
 * (`artifacts`, manifest version 4). A TF.js model.json names its weight files: each, read from
 * beside it, must be listed too. The checklist's verdict then also requires this check to pass.
 */
export function withModelCheck(
  checklist: VerificationChecklist,
  pdf: Buffer,
  modelPath: string,
): VerificationChecklist {
  const item = checkModelFile(pdf, modelPath)
  return { ...checklist, ok: checklist.ok && item.pass === true, items: [...checklist.items, item] }
}

function checkModelFile(pdf: Buffer, modelPath: string): CheckItem {
  const label = 'The model file is one the certificate lists'
  const fail = (detail: string): CheckItem => ({ id: 'model-file', label, pass: false, detail })
  let bytes: Buffer
  try {
    bytes = readFileSync(modelPath)
  } catch (error) {
    throw new LetheError('BAD_INPUT', `Cannot read the model file ${modelPath}: ${(error as Error).message}`)
  }
  let manifest: CertificateManifest
  try {
    manifest = JSON.parse(
      extractAttachments(pdf).get('manifest.json')?.toString() ?? '',
    ) as CertificateManifest
  } catch {
    return fail('the certificate carries no readable manifest, so it lists no file')
  }
  const modelId = manifest.model.after.id
  const artifacts = manifest.artifacts
  if (!artifacts)
    return fail(
      `this certificate (manifest version ${manifest.version}) was issued before certificates listed exported files, so it binds no file to ${modelId}`,
    )
  if (artifacts.length === 0)
    return fail(`no file of ${modelId} was exported before the certificate was issued, so it lists none`)

  const files: HashedFile[] = [{ name: path.basename(modelPath), sha256: sha256Hex(bytes) }]
  const shards = weightFilesOf(bytes, modelPath)
  if (typeof shards === 'string') return fail(shards)
  files.push(...shards)

  const listed = artifacts.map((a) => `${a.sha256} (${a.fileName}, ${a.format})`).join(', ')
  const unlisted = files.filter((f) => !artifacts.some((a) => a.sha256 === f.sha256))
  if (unlisted.length > 0)
    return fail(
      `${unlisted.map((f) => `${f.name} has SHA-256 ${f.sha256}`).join('; ')}; the certificate lists ${listed} for ${modelId}`,
    )
  const matched = files.map((f) => {
    const artifact = artifacts.find((a) => a.sha256 === f.sha256) as Artifact
    return `${f.name} is ${artifact.fileName} (${artifact.format}, exported ${artifact.exportedAt})`
  })
  return { id: 'model-file', label, pass: true, detail: `${matched.join('; ')}, of ${modelId}` }
}

/**
 * The weight files a TF.js model.json names (`weightsManifest[].paths`), hashed from beside it;
 * none for any other file. A message when one cannot be read.
 */
function weightFilesOf(bytes: Buffer, modelPath: string): HashedFile[] | string {
  if (!modelPath.endsWith('.json')) return []
  let model: { weightsManifest?: { paths?: unknown }[] }
  try {
    model = JSON.parse(bytes.toString('utf8')) as typeof model
  } catch {
    return []
  }
  const paths = (model.weightsManifest ?? []).flatMap((group) =>
    Array.isArray(group.paths) ? group.paths : [],
  )
  const files: HashedFile[] = []
  for (const name of paths.map(String)) {
    const shard = path.join(path.dirname(modelPath), name)
    try {
      files.push({ name, sha256: sha256Hex(readFileSync(shard)) })
    } catch (error) {
      return `${path.basename(modelPath)} names the weight file ${name}, which cannot be read beside it (${shard}): ${(error as Error).message}`
    }
  }
  return files
}
