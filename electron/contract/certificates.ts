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
  modelId: z.string(),
  issuedAt: z.string(),
})

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
      'Issue the signed certificate of removal for a completed request; the issuance is a ledger entry.',
    input: z
      .object({
        requestId: z.string(),
        recipients: z.array(z.string().trim().min(1).max(300)).max(100).default([]),
      })
      .strict(),
    output: CertificateInfo,
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
