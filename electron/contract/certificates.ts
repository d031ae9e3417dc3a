import { z } from 'zod'
import { defineMethod } from './define'

const Path = z.string().trim().min(1).max(4096)

export const OrganisationInfo = z.object({
  name: z.string(),
  manifestPublicKeyPem: z.string(),
  manifestKeyFingerprint: z.string(),
  certificatePem: z.string(),
  certificateFingerprint: z.string(),
  /** The key that signs this installation's ledger, pinned (and signed) by the organisation's key. */
  ledgerKeyFingerprint: z.string().nullable(),
})

/** The largest logo accepted, in bytes: it is drawn small, in the certificate's header. */
export const MAX_LOGO_BYTES = 200_000
export const LogoMediaType = z.enum(['image/png', 'image/jpeg'])

export const OrganisationLogo = z.object({ imageBase64: z.string(), mediaType: LogoMediaType })

export const CertificateInfo = z.object({
  certificateId: z.string(),
  requestId: z.string(),
  path: z.string(),
  manifestSha256: z.string(),
  pdfSha256: z.string(),
  /** The first model covered; `modelIds` lists them all. */
  modelId: z.string(),
  modelIds: z.array(z.string()),
  issuedAt: z.string(),
  /** The earlier certificate for the same request this one replaces, and the later one that replaced it. */
  supersedes: z.string().nullable(),
  supersededBy: z.string().nullable(),
})

/**
 * A recipient the erasure is passed on to (GDPR Art. 19) is an organisation, a processor or another
 * controller: it is printed on the certificate, so a person's contact has no place there.
 */
const Recipient = z
  .string()
  .trim()
  .min(1)
  .max(300)
  .refine((v) => !/\S@\S/.test(v), 'name the organisation, not an e-mail address: the certificate is shared')

/** What a certificate covers; the same for the preview and for the signed certificate. */
const IssueInput = z
  .object({
    requestId: z.string(),
    /** The versions covered; by default the request's linked result (its newest linked model). */
    modelIds: z.array(z.string().min(1).max(200)).min(1).max(20).optional(),
    recipients: z.array(Recipient).max(100).default([]),
    /** A request that already has a certificate gets another only when it replaces the earlier one. */
    supersede: z.boolean().default(false),
  })
  .strict()

export const CheckItem = z.object({
  id: z.string(),
  label: z.string(),
  pass: z.boolean().nullable(),
  detail: z.string(),
})
export const Checklist = z.object({
  ok: z.boolean(),
  certificateId: z.string().nullable(),
  requestId: z.string().nullable(),
  items: z.array(CheckItem),
})

export const certificateMethods = {
  'organisation.get': defineMethod({
    summary:
      'The organisation’s public identity (manifest key and PDF certificate), or null before it exists.',
    input: z.object({}).strict(),
    output: OrganisationInfo.nullable(),
  }),
  'organisation.create': defineMethod({
    summary: 'Create the organisation’s keys (once): Ed25519 for manifests, RSA X.509 for PDF signatures.',
    input: z.object({ name: z.string().trim().min(1).max(200) }).strict(),
    output: OrganisationInfo,
  }),
  'organisation.importPkcs12': defineMethod({
    summary:
      'Sign PDFs with the organisation’s own certificate and RSA key, from a PKCS#12 file (a path, or the file itself as base64).',
    input: z
      .object({
        path: Path.optional(),
        p12Base64: z.string().min(1).max(200_000).optional(),
        passphrase: z.string().max(1000),
      })
      .strict()
      .refine((v) => (v.path === undefined) !== (v.p12Base64 === undefined), 'give either path or p12Base64'),
    output: OrganisationInfo,
  }),
  'organisation.logo': defineMethod({
    summary: 'The organisation’s logo drawn on certificates, or null when there is none.',
    input: z.object({}).strict(),
    output: OrganisationLogo.nullable(),
  }),
  'organisation.setLogo': defineMethod({
    summary: `Set the logo drawn in the certificate header (PNG or JPEG, at most ${MAX_LOGO_BYTES / 1000} KB), or remove it with null.`,
    input: z
      .object({
        // Room above the limit, so that a large file gets the service's clear message, not a schema error.
        imageBase64: z.string().max(700_000).nullable(),
        mediaType: LogoMediaType.optional(),
      })
      .strict()
      .refine((v) => v.imageBase64 === null || v.mediaType !== undefined, 'give the mediaType of the image'),
    output: OrganisationLogo.nullable(),
  }),
  'certificates.issue': defineMethod({
    summary:
      'Issue the signed certificate of removal for a completed request; the issuance is a ledger entry. A second one for the same request needs supersede.',
    input: IssueInput,
    output: CertificateInfo,
  }),
  'certificates.preview': defineMethod({
    summary:
      'The certificate as it would be issued, unsigned and marked as a preview, as base64; nothing is recorded.',
    input: IssueInput,
    output: z.object({
      requestId: z.string(),
      /** The number the certificate would get if issued now. */
      certificateId: z.string(),
      modelIds: z.array(z.string()),
      supersedes: z.string().nullable(),
      pdfBase64: z.string(),
    }),
  }),
  'certificates.list': defineMethod({
    summary: 'Issued certificates, newest first.',
    input: z.object({}).strict(),
    output: z.array(CertificateInfo),
  }),
  'certificates.verify': defineMethod({
    summary:
      'Check a certificate PDF (a path, or the file itself as base64): its signature, its manifest and, here, the ledger.',
    input: z
      .object({ path: Path.optional(), pdfBase64: z.string().max(950_000).optional() })
      .strict()
      .refine((v) => (v.path === undefined) !== (v.pdfBase64 === undefined), 'give either path or pdfBase64'),
    output: Checklist,
  }),
  'certificates.get': defineMethod({
    summary: 'An issued certificate’s PDF, as base64, to save or open again.',
    input: z.object({ certificateId: z.string().regex(/^CERT-\d{4}-\d{4,}$/) }).strict(),
    output: z.object({ certificateId: z.string(), fileName: z.string(), pdfBase64: z.string() }),
  }),
}
