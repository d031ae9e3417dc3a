/**
 * Certificates behind the API contract: the organisation's keys, issuing (a ledger entry,
 * refused unless the erasure is complete), listing, and verifying any certificate PDF.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { version } from '../../package.json'
import { LetheError } from '../contract'
import type { Handlers } from '../contract/dispatch'
import type { certificateMethods } from '../contract/certificates'
import { loadDataset } from '../engine/data/dataset'
import { folders } from '../engine/folders'
import { unlearningOf } from '../engine/models/runs'
import { writeFileDurably } from '../lib/files'
import { keyFingerprint, sha256Hex } from '../lib/digest'
import type { KeyProtector } from '../lib/key-protector'
import { verifyLedger } from '../ledger/verify'
import type { Ledger } from '../ledger/ledger'
import { actorOf, type LedgerService } from '../ledger/service'
import { buildManifest } from './build'
import { manifestSha256, signManifest } from './manifest'
import {
  createOrganisation,
  loadOrganisation,
  pinLedgerKey,
  publicIdentity,
  organisationFile,
  replacePdfSigning,
} from './organisation'
import { readLogo, writeLogo } from './logo'
import { fromPkcs12 } from './signing-identity'
import { renderCertificatePdf } from './pdf'
import { verifyCertificate, type InstallationWitness, type LedgerWitness, type Unreadable } from './verify'
import { extractAttachments } from './attachments'

export type CertificateApi = keyof typeof certificateMethods

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
    'certificates.issue': async ({ requestId, recipients }, context) => {
      if (!hasOrganisation())
        throw new LetheError('CONFLICT', 'Create the organisation’s keys before issuing certificates.')
      const organisation = await loadOrganisation(orgDir, await deps.keyProtector())
      const ledger = await deps.ledger.ledger()
      await pinLedgerKey(orgDir, organisation, ledgerKeyOf(ledger))
      const identity = await publicIdentity(orgDir)
      const logo = await readLogo(orgDir)
      let issued:
        | { path: string; manifestSha256: string; pdfSha256: string; issuedAt: string; modelId: string }
        | undefined
      const certificateId = await ledger.certify(
        requestId,
        actorOf(context),
        async (record, head, id, modelId) => {
          const run = await unlearningOf(deps.dataDir, modelId)
          const dataset = await loadDataset(folders(deps.dataDir).datasets, run.model.datasetId)
          const issuedAt = new Date().toISOString()
          const manifest = buildManifest({
            certificateId: id,
            issuedAt,
            software: `Lethe ${version}`,
            organisation: identity,
            request: record,
            run,
            datasetSha256: dataset.manifest.contentHash,
            head,
            recipientsToNotify: recipients,
          })
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
          const file = path.join(certDir, `${id}.pdf`)
          await writeFileDurably(file, pdf)
          const digests = {
            manifestSha256: manifestSha256(manifest),
            pdfSha256: sha256Hex(pdf),
          }
          issued = { path: file, issuedAt, modelId, ...digests }
          return digests
        },
      )
      if (!issued) throw new LetheError('INTERNAL', 'The certificate was not written.')
      return { certificateId, requestId, ...issued }
    },
    'certificates.list': async () => {
      if (!existsSync(certDir)) return []
      const ledger = await deps.ledger.ledger()
      const out = []
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
        out.push({
          certificateId,
          requestId: event.requestId ?? '',
          path: file,
          manifestSha256: String(event.payload.manifestSha256),
          pdfSha256: String(event.payload.pdfSha256),
          modelId: String(event.payload.modelId),
          issuedAt: manifest.issuedAt ?? event.at,
        })
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
