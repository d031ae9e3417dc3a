import { z } from 'zod'
import { defineMethod } from './define'

const Path = z.string().trim().min(1).max(4096)

export const OrganisationInfo = z.object({
  name: z.string(),
  manifestPublicKeyPem: z.string(),
  manifestKeyFingerprint: z.string(),
  certificatePem: z.string(),
  certificateFingerprint: z.string(),
})

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
    summary: 'Sign PDFs with the organisation’s own certificate and RSA key, from a PKCS#12 file.',
    input: z.object({ path: Path, passphrase: z.string().max(1000) }).strict(),
    output: OrganisationInfo,
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
