/**
 * Certificates behind the API contract: the organisation's keys, issuing (a ledger entry,
 * refused unless the erasure is complete), listing, and verifying any certificate PDF.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { version } from '../../package.json'
import { LetheError, type Output } from '../contract'
import type { CallContext, Handlers } from '../contract/dispatch'
import type { certificateMethods } from '../contract/certificates'
import { loadDataset } from '../engine/data/dataset'
import { folders } from '../engine/folders'
import { unlearningOf } from '../engine/models/runs'
import { writeFileDurably } from '../lib/files'
import { keyFingerprint, sha256Hex } from '../lib/digest'
import type { KeyProtector } from '../lib/key-protector'
import { verifyLedger } from '../ledger/verify'
import type { CertificatePlan, Ledger } from '../ledger/ledger'
import type { EventPayloads } from '../ledger/state'
import { actorOf, type LedgerService } from '../ledger/service'
import { buildManifest } from './build'
import {
  manifestBytes,
  manifestSha256,
  signManifest,
  type Artifact,
  type CertificateManifest,
} from './manifest'
import {
  createOrganisation,
  loadOrganisation,
  pinLedgerKey,
  publicIdentity,
  organisationFile,
  type PublicIdentity,
  replacePdfSigning,
} from './organisation'
import { readLogo, writeLogo } from './logo'
import { fromPkcs12 } from './signing-identity'
import { renderCertificatePdf, renderPreviewPdf } from './pdf'
import { verifyCertificate, type InstallationWitness, type LedgerWitness, type Unreadable } from './verify'
import { extractAttachments } from './attachments'

export type CertificateApi = keyof typeof certificateMethods
type CertificateInfo = Output<'certificates.list'>[number]

/** The files a version was exported as, one entry per file, from the ledger's record of its exports. */
const artifactsOf = (ledger: Ledger, modelId: string): Artifact[] =>
  (ledger.state.registry.get(modelId)?.exports ?? []).flatMap(({ format, at, files }) =>
    files.map(({ fileName, sha256, bytes }) => ({ format, fileName, sha256, bytes, exportedAt: at })),
  )

/** What the organisation pins of the ledger its certificates cite. */
const ledgerKeyOf = (ledger: Ledger) => ({
  ledgerId: ledger.storage.ledgerId,
  keyFingerprint: keyFingerprint(ledger.storage.keyMaterial.publicKeyPem),
})

export interface CertificateDeps {
  dataDir: string
  ledger: LedgerService
  /** How private keys are sealed here: safeStorage in the app, a passphrase elsewhere. */
  keyProtector: () => Promise<KeyProtector>
  fontsDir: string
  /** The versions trained on a request's rows, each deleted, kept for a reason, or still there. */
  holdingRows: (requestId: string, context: CallContext) => Promise<Output<'models.holdingRows'>>
}

export function certificateService(deps: CertificateDeps): Pick<Handlers, CertificateApi> {
  const orgDir = path.join(deps.dataDir, 'organisation')
  const certDir = path.join(deps.dataDir, 'certificates')
  const hasOrganisation = () => existsSync(organisationFile(orgDir))

  /** What this installation holds, for the verifier: a part that exists but cannot be read is
   * reported as such, never taken for an installation without it. */
  async function installation(): Promise<InstallationWitness> {
    const unreadable = (error: unknown): Unreadable => ({ unreadable: (error as Error).message })
    let organisationKeyPem: InstallationWitness['organisationKeyPem'] = null
    if (hasOrganisation()) {
      organisationKeyPem = await publicIdentity(orgDir).then((o) => o.manifestPublicKeyPem, unreadable)
    }
    let ledger: InstallationWitness['ledger'] = null
    if (deps.ledger.exists()) {
      ledger = await deps.ledger.ledger().then(
        (open): LedgerWitness => ({
          keyFingerprint: keyFingerprint(open.storage.keyMaterial.publicKeyPem),
          registry: open.state.registry,
          chain: () => verifyLedger(open),
          issuance: (id) => open.issuanceOf(id),
          eventAt: async (seq) => (await open.storage.readEvents([seq]))[0] ?? null,
        }),
        unreadable,
      )
    } else if (hasOrganisation()) {
      ledger = { unreadable: 'the organisation’s keys are here but its ledger folder is missing' }
    }
    return { organisationKeyPem, ledger }
  }

  /** The manifest a certificate would carry: the ledger's plan, the engine's evidence for each version. */
  async function manifestFor(
    plan: CertificatePlan,
    ledger: Ledger,
    organisation: PublicIdentity,
    recipients: string[],
    versions: NonNullable<CertificateManifest['versions']>,
  ): Promise<CertificateManifest> {
    const [run, ...alsoCovered] = await Promise.all(plan.modelIds.map((m) => unlearningOf(deps.dataDir, m)))
    if (!run) throw new LetheError('INTERNAL', `${plan.record.id}: no model to certify.`)
    const dataset = await loadDataset(folders(deps.dataDir).datasets, run.model.datasetId)
    return buildManifest({
      certificateId: plan.certificateId,
      issuedAt: new Date().toISOString(),
      software: `Lethe ${version}`,
      organisation,
      // The ground is free text kept with the personal data, outside the chain.
      request: { ...plan.record, ground: await ledger.readText(plan.record, plan.record.ground) },
      run,
      alsoCovered,
      datasetSha256: dataset.manifest.contentHash,
      head: plan.head,
      recipientsToNotify: recipients,
      supersedes: plan.supersedes,
      versions,
      artifacts: artifactsOf(ledger, run.model.id),
    })
  }

  /**
   * The versions still trained on the request's rows: deleted (tombstones) or kept, with the
   * recorded reason or, where none was recorded, the plain fact that the version is still there.
   */
  async function versionsTrainedOn(
    requestId: string,
    ledger: Ledger,
    context: CallContext,
  ): Promise<NonNullable<CertificateManifest['versions']>> {
    const holding = await deps.holdingRows(requestId, context)
    const ref = (id: string) => ({ id, sha256: ledger.state.registry.get(id)?.contentHash ?? '' })
    return {
      deleted: holding.filter((v) => v.deleted).map((v) => ref(v.id)),
      kept: holding
        .filter((v) => !v.deleted)
        .map((v) => ({ ...ref(v.id), reason: v.keptReason ?? 'no reason recorded; not deleted' })),
    }
  }

  return {
    'organisation.get': async () => (hasOrganisation() ? publicIdentity(orgDir) : null),
    'organisation.create': async ({ name }) => {
      await createOrganisation(
        orgDir,
        name,
        await deps.keyProtector(),
        ledgerKeyOf(await deps.ledger.ledger()),
      )
      return publicIdentity(orgDir)
    },
    'organisation.importPkcs12': async ({ path: file, p12Base64, passphrase }) => {
      if (!hasOrganisation())
        throw new LetheError(
          'CONFLICT',
          'Create the organisation’s keys first; the PKCS#12 then replaces the PDF-signing certificate.',
        )
      let bytes: Buffer
      if (p12Base64 !== undefined) bytes = Buffer.from(p12Base64, 'base64')
      else {
        try {
          bytes = await readFile(file as string)
        } catch (error) {
          throw new LetheError('BAD_INPUT', `Cannot read ${file}: ${(error as Error).message}`)
        }
      }
      await replacePdfSigning(orgDir, fromPkcs12(bytes, passphrase), await deps.keyProtector())
      return publicIdentity(orgDir)
    },
    'organisation.logo': async () => {
      const logo = await readLogo(orgDir)
      return logo && { imageBase64: logo.bytes.toString('base64'), mediaType: logo.mediaType }
    },
    'organisation.setLogo': async ({ imageBase64, mediaType }) => {
      const logo =
        imageBase64 === null
          ? null
          : { bytes: Buffer.from(imageBase64, 'base64'), mediaType: mediaType ?? 'image/png' }
      await writeLogo(orgDir, logo)
      return logo && { imageBase64: logo.bytes.toString('base64'), mediaType: logo.mediaType }
    },
    'certificates.issue': async ({ requestId, modelIds, recipients, supersede }, context) => {
      if (!hasOrganisation())
        throw new LetheError('CONFLICT', 'Create the organisation’s keys before issuing certificates.')
      const organisation = await loadOrganisation(orgDir, await deps.keyProtector())
      const ledger = await deps.ledger.ledger()
      await pinLedgerKey(orgDir, organisation, ledgerKeyOf(ledger))
      const identity = await publicIdentity(orgDir)
      const logo = await readLogo(orgDir)
      // Read before the ledger's write begins: it reads the ledger too.
      const versions = await versionsTrainedOn(requestId, ledger, context)
      let issued: Omit<CertificateInfo, 'certificateId' | 'requestId'> | undefined
      const certificateId = await ledger.certify(
        requestId,
        actorOf(context),
        async (plan) => {
          const manifest = await manifestFor(plan, ledger, identity, recipients, versions)
          const { bytes, signature } = signManifest(manifest, organisation)
          const pdf = await renderCertificatePdf({
            manifest,
            manifestBytes: bytes,
            manifestSignature: signature,
            manifestSha256: manifestSha256(manifest),
            organisation: identity,
            signing: organisation.pdfSigning,
            fontsDir: deps.fontsDir,
            logo,
          })
          await mkdir(certDir, { recursive: true, mode: 0o700 })
          const file = path.join(certDir, `${plan.certificateId}.pdf`)
          await writeFileDurably(file, pdf)
          const digests = {
            manifestSha256: manifestSha256(manifest),
            pdfSha256: sha256Hex(pdf),
          }
          issued = {
            path: file,
            issuedAt: manifest.issuedAt,
            modelId: plan.modelIds[0] as string,
            modelIds: plan.modelIds,
            supersedes: plan.supersedes,
            supersededBy: null,
            ...digests,
          }
          return digests
        },
        { modelIds, supersede },
      )
      if (!issued) throw new LetheError('INTERNAL', 'The certificate was not written.')
      return { certificateId, requestId, ...issued }
    },
    'certificates.preview': async ({ requestId, modelIds, recipients, supersede }, context) => {
      if (!hasOrganisation())
        throw new LetheError('CONFLICT', 'Create the organisation’s keys before issuing certificates.')
      const identity = await publicIdentity(orgDir)
      const ledger = await deps.ledger.ledger()
      const plan = ledger.certificatePlan(requestId, { modelIds, supersede })
      const versions = await versionsTrainedOn(requestId, ledger, context)
      const manifest = await manifestFor(plan, ledger, identity, recipients, versions)
      const pdf = await renderPreviewPdf({
        manifest,
        manifestBytes: manifestBytes(manifest),
        manifestSha256: manifestSha256(manifest),
        organisation: identity,
        fontsDir: deps.fontsDir,
        logo: await readLogo(orgDir),
      })
      return {
        requestId,
        certificateId: plan.certificateId,
        modelIds: plan.modelIds,
        supersedes: plan.supersedes,
        pdfBase64: pdf.toString('base64'),
      }
    },
    'certificates.list': async () => {
      if (!existsSync(certDir)) return []
      const ledger = await deps.ledger.ledger()
      const out: CertificateInfo[] = []
      for (const name of (await readdir(certDir))
        .filter((f) => /^CERT-\d{4}-\d{4,}\.pdf$/.test(f))
        .sort()
        .reverse()) {
        const certificateId = name.slice(0, -4)
        const event = await ledger.issuanceOf(certificateId)
        if (!event) continue // written but never recorded: not a certificate
        const file = path.join(certDir, name)
        const manifest = JSON.parse(
          extractAttachments(await readFile(file))
            .get('manifest.json')
            ?.toString() ?? '{}',
        ) as { issuedAt?: string }
        const payload = event.payload as Partial<EventPayloads['certificate.issued']>
        out.push({
          certificateId,
          requestId: event.requestId ?? '',
          path: file,
          manifestSha256: String(payload.manifestSha256),
          pdfSha256: String(payload.pdfSha256),
          modelId: String(payload.modelId),
          modelIds: payload.modelIds ?? [String(payload.modelId)],
          issuedAt: manifest.issuedAt ?? event.at,
          supersedes: payload.supersedes ?? null,
          supersededBy: null,
        })
      }
      for (const certificate of out) {
        const replaced = out.find((c) => c.certificateId === certificate.supersedes)
        if (replaced) replaced.supersededBy = certificate.certificateId
      }
      return out
    },
    'certificates.get': async ({ certificateId }) => {
      const ledger = await deps.ledger.ledger()
      const file = path.join(certDir, `${certificateId}.pdf`)
      if (!(await ledger.issuanceOf(certificateId)) || !existsSync(file)) {
        throw new LetheError('NOT_FOUND', `There is no certificate ${certificateId}.`)
      }
      return {
        certificateId,
        fileName: `${certificateId}.pdf`,
        pdfBase64: (await readFile(file)).toString('base64'),
      }
    },
    'certificates.verify': async ({ path: file, pdfBase64 }) => {
      let pdf: Buffer
      try {
        pdf = file ? await readFile(file) : Buffer.from(pdfBase64 as string, 'base64')
      } catch (error) {
        throw new LetheError('BAD_INPUT', `Cannot read ${file}: ${(error as Error).message}`)
      }
      if (!pdf.subarray(0, 5).equals(Buffer.from('%PDF-'))) {
        throw new LetheError('BAD_INPUT', `${file ?? 'The file'} is not a PDF.`)
      }
      return verifyCertificate(pdf, await installation())
    },
  }
}
