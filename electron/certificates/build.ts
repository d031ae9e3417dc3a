/**
 * The manifest of a certificate, assembled from what the ledger and the engine recorded: the
 * request (by its salted subject hash), the unlearning run's evidence, and the ledger head.
 */
import { LetheError } from '../contract'
import { DEFAULT_ACCURACY_DROP } from '../contract/engine'
import type { SignedHead } from '../contract/ledger'
import type { UnlearnResult } from '../engine/models/runs'
import type { ModelScores } from '../engine/verify'
import type { RequestRecord } from '../ledger/state'
import {
  rowsDigest,
  type Artifact,
  type CertificateManifest,
  type CoveredModel,
  type SetScores,
} from './manifest'
import { keyFingerprint } from '../lib/digest'
import type { PublicIdentity } from './organisation'

/** What a certificate never covers, said on every one. */
export const NOT_COVERED = [
  'backups and archives of the training data or of the models, until they are restored or expire',
  'copies of the data or of the models outside this Lethe installation',
  'model versions other than the ones listed above',
]

const scoresOf = (s: ModelScores): SetScores => ({
  forgetAccuracy: s.forget.accuracy,
  retainAccuracy: s.retain.accuracy,
  testAccuracy: s.test.accuracy,
  miaAuc: s.mia.auc,
  miaInterval: s.mia.ci,
})

export interface ManifestSources {
  certificateId: string
  issuedAt: string
  software: string
  organisation: PublicIdentity
  /** The request, its ground read from the personal store (free text never enters the chain). */
  request: Omit<RequestRecord, 'ground'> & { ground: string | null }
  run: UnlearnResult
  /** The runs of the other versions the certificate covers, after `run`'s. */
  alsoCovered: UnlearnResult[]
  datasetSha256: string
  head: SignedHead
  recipientsToNotify: string[]
  supersedes: string | null
  versions: NonNullable<CertificateManifest['versions']>
  /** The files `run`'s model was exported as, as the ledger recorded them. */
  artifacts: Artifact[]
}

const coveredBy = (run: UnlearnResult): CoveredModel => ({
  before: run.parent,
  after: { id: run.model.id, sha256: run.model.paramsSha256 },
  method: run.method,
})

/**
 * Refuses a release whose test accuracy, as its report measured it, is below its floor: the one
 * its run was held to (floor.ts, which publishes no draw below it), or, for a noisy release
 * recorded before floors were, the default one. A certificate never vouches for a ruined model.
 */
export function refuseBelowAccuracyFloor(run: UnlearnResult): void {
  const before = run.report.original.test.accuracy
  const recorded = (run.details.floorCheck as { floor?: unknown } | undefined)?.floor
  const floor =
    typeof recorded === 'number'
      ? recorded
      : run.guarantee.kind === 'certified' && typeof before === 'number'
        ? before - DEFAULT_ACCURACY_DROP
        : null
  if (floor === null) return
  const after = run.report.unlearned.test.accuracy
  if (typeof after === 'number' && after >= floor) return
  const pct = (x: number | null) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : 'unmeasured')
  throw new LetheError(
    'CONFLICT',
    `${run.model.id} cannot be certified: its test accuracy is ${pct(after)}, below the floor of ${pct(floor)} ${typeof recorded === 'number' ? `its ${run.method} run was held to` : `(${100 * DEFAULT_ACCURACY_DROP} points under the original)`} (before the removal: ${pct(before)}). Its noise left a model too damaged to stand for the original; retrain the model without these rows (exact retraining) and certify that version instead.`,
    { modelId: run.model.id, testAccuracy: after, accuracyFloor: floor },
  )
}

export function buildManifest(s: ManifestSources): CertificateManifest {
  const { request, run } = s
  if (!request.closedOn) throw new Error(`${request.id} is not closed`)
  for (const covered of [run, ...s.alsoCovered]) refuseBelowAccuracyFloor(covered)
  const distance = run.report.distance
  const rows = rowsDigest(run.forgottenRows)
  // One certificate states one removal: every version it covers removed the same records.
  for (const other of s.alsoCovered) {
    if (other.model.datasetId !== run.model.datasetId || rowsDigest(other.forgottenRows) !== rows)
      throw new LetheError(
        'BAD_INPUT',
        `${other.model.id} removed other records than ${run.model.id}; issue a certificate for each.`,
      )
  }
  const covered = [run, ...s.alsoCovered].map(coveredBy)
  return {
    format: 'lethe-certificate',
    version: 4,
    certificateId: s.certificateId,
    issuedAt: s.issuedAt,
    issuer: {
      organisation: s.organisation.name,
      software: s.software,
      manifestKeyFingerprint: s.organisation.manifestKeyFingerprint,
      certificateFingerprint: s.organisation.certificateFingerprint,
    },
    request: {
      id: request.id,
      jurisdiction: request.jurisdiction,
      legalBasis: request.legalBasis,
      ground: request.ground,
      received: request.received,
      completed: request.closedOn,
      subjectReference: request.requesterHash,
    },
    records: {
      count: run.forgottenRows.length,
      rowsSha256: rows,
      datasetId: run.model.datasetId,
      datasetSha256: s.datasetSha256,
    },
    model: { before: run.parent, after: { id: run.model.id, sha256: run.model.paramsSha256 } },
    method: { name: run.method, guarantee: run.guarantee },
    verification: {
      before: scoresOf(run.report.original),
      after: scoresOf(run.report.unlearned),
      retrained: run.report.reference ? scoresOf(run.report.reference) : null,
      distanceToRetrained:
        distance.unlearnedToReference !== null && distance.originalToReference !== null
          ? { after: distance.unlearnedToReference, before: distance.originalToReference }
          : null,
    },
    compute: { backend: run.model.backend, unlearningMs: Math.round(run.timings.unlearnMs) },
    ledger: {
      ledgerId: s.head.ledgerId,
      seq: s.head.seq,
      hash: s.head.hash,
      keyFingerprint: keyFingerprint(s.head.publicKey),
    },
    scope: {
      datasets: [run.model.datasetId],
      models: [...new Set(covered.flatMap((m) => [m.before.id, m.after.id]))],
      notCovered: NOT_COVERED,
      recipientsToNotify: s.recipientsToNotify,
    },
    models: covered,
    supersedes: s.supersedes,
    versions: s.versions,
    artifacts: s.artifacts,
  }
}
