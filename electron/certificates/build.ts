/**
 * The manifest of a certificate, assembled from what the ledger and the engine recorded: the
 * request (by its salted subject hash), the unlearning run's evidence, and the ledger head.
 */
import type { SignedHead } from '../contract/ledger'
import type { UnlearnResult } from '../engine/models/runs'
import type { ModelScores } from '../engine/verify'
import type { RequestRecord } from '../ledger/state'
import { rowsDigest, type CertificateManifest, type SetScores } from './manifest'
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
  request: RequestRecord
  run: UnlearnResult
  datasetSha256: string
  head: SignedHead
  recipientsToNotify: string[]
}

export function buildManifest(s: ManifestSources): CertificateManifest {
  const { request, run } = s
  if (!request.closedOn) throw new Error(`${request.id} is not closed`)
  const distance = run.report.distance
  return {
    format: 'lethe-certificate',
    version: 2,
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
      rowsSha256: rowsDigest(run.forgottenRows),
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
      models: [run.parent.id, run.model.id],
      notCovered: NOT_COVERED,
      recipientsToNotify: s.recipientsToNotify,
    },
  }
}
