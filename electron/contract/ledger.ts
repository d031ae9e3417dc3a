import { z } from 'zod'
import { controlCharacterIn } from './text'
import { defineMethod } from './define'

export const IsoDate = z.iso.date()
/**
 * A date someone enters: outside these years it is a typo (no request was received in year 0).
 * Stored and computed dates stay IsoDate, so a ledger written before this check still reads.
 */
export const EnteredDate = z.iso
  .date({ abort: true })
  .refine(
    (date) => date >= '1970-01-01' && date <= '2099-12-31',
    'Give a date from 1970-01-01 to 2099-12-31.',
  )
export const Jurisdiction = z.enum(['gdpr', 'uk-gdpr', 'ccpa', 'lgpd', 'other'])
export type Jurisdiction = z.infer<typeof Jurisdiction>

/** The right the request invokes; the jurisdiction's own article by default. */
export const LegalBasis = z.enum(['gdpr-art-17', 'uk-gdpr-art-17', 'ccpa-1798-105', 'lgpd-art-18', 'other'])
export type LegalBasis = z.infer<typeof LegalBasis>
export const defaultBasis: Record<Jurisdiction, LegalBasis> = {
  gdpr: 'gdpr-art-17',
  'uk-gdpr': 'uk-gdpr-art-17',
  ccpa: 'ccpa-1798-105',
  lgpd: 'lgpd-art-18',
  other: 'other',
}

export const Channel = z.enum(['email', 'web-form', 'phone', 'post', 'in-person', 'dsar-tool', 'other'])
export const SubjectIdType = z.enum(['customer-id', 'email', 'phone', 'account', 'device-id', 'other'])
export const SubjectId = z.object({ type: SubjectIdType, value: z.string().trim().min(1).max(256) })
export type SubjectId = z.infer<typeof SubjectId>

export const requestStatuses = [
  'received',
  'identity-verified',
  'in-progress',
  'on-hold',
  'completed',
  'rejected',
] as const
export const RequestStatus = z.enum(requestStatuses)
export type RequestStatus = z.infer<typeof RequestStatus>

const RequestId = z.string().regex(/^RTBF-\d{4}-\d{4,}$/, 'a request id looks like RTBF-2026-0001')
/** Text a person typed: a NUL or other control character in it is an attack or a broken export. */
const Text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((text) => controlCharacterIn(text) === undefined, {
      error: (issue) =>
        `holds the control character ${controlCharacterIn(issue.input as string)}; only tab and line breaks are allowed`,
    })

export const NewRequest = z.object({
  requester: z.object({
    name: Text(200),
    email: z.email().max(254).optional(),
    otherContact: Text(500).optional(),
  }),
  subjectIds: z
    .array(SubjectId)
    .min(1, 'give at least one subject identifier to match training records')
    .max(50),
  jurisdiction: Jurisdiction,
  legalBasis: LegalBasis.optional(),
  /** e.g. "Art. 17(1)(b): consent withdrawn". */
  ground: Text(300).optional(),
  channel: Channel.default('email'),
  received: EnteredDate,
  assignee: Text(120).optional(),
  note: Text(10_000).optional(),
})
export type NewRequest = z.input<typeof NewRequest>

/** A decision as the desk reads it: the rejection's texts are personal data, null once erased. */
export const Decision = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('erase') }),
  z.object({ kind: z.literal('reject'), exemption: z.string().nullable(), reason: z.string().nullable() }),
])

/** A media type, type/subtype only: it is kept in the chain, so no free text (parameters) may ride along. */
const MediaType = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/,
    'give a media type such as application/pdf',
  )

export const Deadline = z.object({
  dueDate: IsoDate,
  acknowledgeBy: IsoDate.nullable(),
  acknowledgedOn: IsoDate.nullable(),
  extensionNoticeBy: IsoDate.nullable(),
  /** `reason`: null once the personal data is erased (it was typed by a person). */
  extension: z.object({ reason: z.string().nullable(), noticeDate: IsoDate, dueDate: IsoDate }).nullable(),
  rule: z.string(),
  daysLeft: z.number().int(),
  overdue: z.boolean(),
  dueSoon: z.boolean(),
})

export const RequestView = z.object({
  id: RequestId,
  status: RequestStatus,
  allowedTransitions: z.array(RequestStatus),
  jurisdiction: Jurisdiction,
  legalBasis: LegalBasis,
  ground: z.string().nullable(),
  channel: Channel,
  received: IsoDate,
  /** Masked unless revealed (which is logged); null once erased after the retention period. */
  requester: z
    .object({ name: z.string(), email: z.string().nullable(), otherContact: z.string().nullable() })
    .nullable(),
  subjectIds: z.array(z.object({ type: SubjectIdType, value: z.string().nullable() })),
  revealed: z.boolean(),
  identity: z.object({
    status: z.enum(['unverified', 'verified', 'failed']),
    method: z.string().nullable(),
    on: IsoDate.nullable(),
  }),
  deadline: Deadline,
  assignee: z.string().nullable(),
  decision: Decision.nullable(),
  holdReason: z.string().nullable(),
  notes: z.array(
    z.object({ id: z.string(), at: z.string(), actor: z.string(), text: z.string().nullable() }),
  ),
  attachments: z.array(
    z.object({
      id: z.string(),
      name: z.string().nullable(),
      sha256: z.string(),
      bytes: z.number(),
      mediaType: z.string(),
      at: z.string(),
    }),
  ),
  links: z.object({
    models: z.array(z.string()),
    runs: z.array(z.string()),
    certificates: z.array(z.string()),
  }),
  possibleDuplicates: z.array(RequestId),
  closedOn: IsoDate.nullable(),
  redactedOn: IsoDate.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
})
export type RequestView = z.infer<typeof RequestView>

export const RequestSummary = z.object({
  open: z.number(),
  byStatus: z.record(RequestStatus, z.number()),
  dueWithin7Days: z.number(),
  overdue: z.number(),
  closedThisMonth: z.number(),
  medianDaysToClose: z.number().nullable(),
  today: IsoDate,
})

export const ListQuery = z
  .object({
    status: z.array(RequestStatus).optional(),
    jurisdiction: z.array(Jurisdiction).optional(),
    /** Open requests due within this many days (negative: overdue by at least that many). */
    dueWithinDays: z.number().int().optional(),
    overdue: z.boolean().optional(),
    /** Matches the id, the assignee, and (through their HMAC) an exact subject identifier or email. */
    search: z.string().trim().max(256).optional(),
    sort: z.enum(['received', 'due', 'id', 'status', 'updated']).default('due'),
    order: z.enum(['asc', 'desc']).default('asc'),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(50),
  })
  .strict()

/**
 * An audit event. From the API, free text the chain holds only by reference (schema 2) is joined
 * back into the payload (null once erased); the hash covers the stored event, in the ledger's files.
 */
export const AuditEvent = z.object({
  seq: z.number().int().min(1),
  at: z.string(),
  actor: z.string(),
  type: z.string(),
  requestId: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
})
export type AuditEvent = z.infer<typeof AuditEvent>

export const SignedHead = z.object({
  ledgerId: z.string(),
  seq: z.number().int(),
  hash: z.string(),
  at: z.string(),
  algorithm: z.literal('Ed25519'),
  signature: z.string(),
  publicKey: z.string(),
})
export type SignedHead = z.infer<typeof SignedHead>

/** SHA-256 of a public key's DER, as `lethe organisation show` and every certificate print it. */
export const KeyFingerprint = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'a key fingerprint is 32 hex pairs joined by colons (AB:CD:…)')

/** "SEQ:HASH": an entry the chain must hold, as a certificate cites it. */
export const ExpectedHead = z
  .string()
  .trim()
  .regex(/^\d+:[0-9a-fA-F]{64}$/, 'an entry is SEQ:HASH, the ledger entry and hash a certificate cites')
  .transform((v) => {
    const [seq, hash] = v.split(':') as [string, string]
    return { seq: Number(seq), hash: hash.toLowerCase() }
  })

export const VerifyReport = z.object({
  ok: z.boolean(),
  events: z.number(),
  head: SignedHead.nullable(),
  /** The key every head is signed with. */
  keyFingerprint: z.string().nullable(),
  firstBad: z
    .object({ seq: z.number().nullable(), file: z.string().nullable(), reason: z.string() })
    .nullable(),
  /** Files beside the chain (projection, checkpoint, personal data) that disagree with it. */
  stateMismatches: z.array(z.string()),
  /** What was pinned outside the ledger (the organisation, issued certificates, the verifier's own
   * notes) and whether the chain agrees with it. */
  pins: z.array(
    z.object({ source: z.string(), expected: z.string(), pass: z.boolean(), detail: z.string() }),
  ),
})

export const LedgerSettings = z.object({
  retentionDays: z.number().int().min(0).max(3650),
  holidays: z.array(IsoDate).max(1000),
  otherJurisdictionDays: z.number().int().min(1).max(365),
})
export type LedgerSettings = z.infer<typeof LedgerSettings>

export const Backup = z.object({ id: z.string(), at: z.string(), events: z.number(), bytes: z.number() })

/**
 * One export of a model version (a model.exported event): the format and, for every file it wrote,
 * its name without the folder (a path can name a person), its SHA-256 and size.
 */
export const ModelExport = z.object({
  format: z.string(),
  at: z.string(),
  files: z.array(
    z.object({ fileName: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number() }),
  ),
})
export type ModelExport = z.infer<typeof ModelExport>

export const RegistryEntry = z.object({
  id: z.string(),
  kind: z.enum(['dataset', 'model']),
  name: z.string(),
  version: z.string(),
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  parentId: z.string().nullable(),
  datasetId: z.string().nullable(),
  method: z.string().nullable(),
  requestId: z.string().nullable(),
  registeredAt: z.string(),
  /** When the version's data was shredded (a model.deleted or dataset.deleted event), and for which request; null while it exists. */
  deletedAt: z.string().nullable(),
  deletionRequestId: z.string().nullable(),
  /** A model's exports, oldest first; absent until the first. */
  exports: z.array(ModelExport).optional(),
})
export type RegistryEntry = z.infer<typeof RegistryEntry>

const Content = z.object({ format: z.enum(['csv', 'json']), content: z.string(), count: z.number() })

export const ledgerMethods = {
  'requests.create': defineMethod({
    summary: 'Log a new erasure request; its deadlines follow from the jurisdiction and the receipt date.',
    input: NewRequest.strict(),
    output: RequestView,
  }),
  'requests.list': defineMethod({
    summary: 'Requests with filters, search, sort and pagination; personal data masked.',
    input: ListQuery,
    output: z.object({ total: z.number(), items: z.array(RequestView) }),
  }),
  'requests.get': defineMethod({
    summary: 'One request with its audit trail; `reveal` shows personal data and is logged.',
    input: z.object({ id: RequestId, reveal: z.boolean().default(false) }).strict(),
    output: z.object({ request: RequestView, events: z.array(AuditEvent) }),
  }),
  'requests.transition': defineMethod({
    summary: 'Move a request through its workflow; a refused move is logged and names the allowed ones.',
    input: z
      .object({
        id: RequestId,
        to: RequestStatus,
        /** Identity verification method (to identity-verified), hold or reopen reason, or rejection reason. */
        reason: Text(2000).optional(),
        method: Text(300).optional(),
        exemption: Text(200).optional(),
        on: EnteredDate.optional(),
      })
      .strict(),
    output: RequestView,
  }),
  'requests.extend': defineMethod({
    summary: 'Extend the deadline once, within the first period, with the reason and the notice date.',
    input: z.object({ id: RequestId, reason: Text(2000), noticeDate: EnteredDate.optional() }).strict(),
    output: RequestView,
  }),
  'requests.acknowledge': defineMethod({
    summary: 'Record that receipt was confirmed to the requester (CCPA: within 10 business days).',
    input: z.object({ id: RequestId, on: EnteredDate.optional() }).strict(),
    output: RequestView,
  }),
  'requests.update': defineMethod({
    summary: 'Edit the assignee, channel, legal basis or ground; every edit is an audit event.',
    input: z
      .object({
        id: RequestId,
        assignee: Text(120).nullable().optional(),
        channel: Channel.optional(),
        legalBasis: LegalBasis.optional(),
        ground: Text(300).nullable().optional(),
      })
      .strict(),
    output: RequestView,
  }),
  'requests.addNote': defineMethod({
    summary: 'Add a note; its text is personal data, kept outside the chain.',
    input: z.object({ id: RequestId, text: Text(10_000) }).strict(),
    output: RequestView,
  }),
  'requests.attach': defineMethod({
    summary:
      'Attach a file, by its path or (an upload) its name and bytes as base64; copied into the data folder, SHA-256 recorded.',
    input: z
      .object({
        id: RequestId,
        path: Text(4096).optional(),
        name: Text(255).optional(),
        /** Up to about 700 KB of file: the bridge takes bodies of at most 1 MiB. */
        contentBase64: z.base64().max(950_000).optional(),
        mediaType: MediaType.optional(),
      })
      .strict()
      .refine(
        (v) =>
          v.path !== undefined
            ? v.name === undefined && v.contentBase64 === undefined
            : v.name !== undefined && v.contentBase64 !== undefined,
        'give either path, or name and contentBase64',
      ),
    output: RequestView,
  }),
  'requests.attachment': defineMethod({
    summary: 'An attachment’s bytes as base64, checked against its recorded SHA-256.',
    input: z.object({ id: RequestId, attachmentId: z.uuid() }).strict(),
    output: z.object({ contentBase64: z.string(), mediaType: z.string() }),
  }),
  'requests.link': defineMethod({
    summary: 'Link a request to a model, an unlearning run or a certificate.',
    input: z
      .object({ id: RequestId, kind: z.enum(['models', 'runs', 'certificates']), target: Text(200) })
      .strict(),
    output: RequestView,
  }),
  'requests.import': defineMethod({
    summary: 'Import requests from CSV; all or nothing, with an error per bad row and column.',
    input: z
      .object({ csv: z.string().max(900_000).optional(), path: Text(4096).optional() })
      .strict()
      .refine((v) => (v.csv === undefined) !== (v.path === undefined), 'give either csv or path'),
    output: z.object({ imported: z.array(RequestId) }),
  }),
  'requests.export': defineMethod({
    summary: 'All requests as CSV or JSON (personal data masked).',
    input: z.object({ format: z.enum(['csv', 'json']).default('csv') }).strict(),
    output: Content,
  }),
  'requests.summary': defineMethod({
    summary: 'Open, due within 7 days, overdue, closed this month, median days to close.',
    input: z.object({}).strict(),
    output: RequestSummary,
  }),
  'ledger.verify': defineMethod({
    summary:
      'Recompute the hash chain and every signed head, check the files beside it and the pins held outside it; name the first bad entry and why.',
    input: z
      .object({
        /** The key the chain must be signed with: from a certificate, or the organisation's published fingerprint. */
        expectKey: KeyFingerprint.optional(),
        /** An entry the chain must still hold, as a certificate cites it: detects a rollback. */
        expectHead: ExpectedHead.optional(),
      })
      .strict(),
    output: VerifyReport,
  }),
  'ledger.head': defineMethod({
    summary: 'The signed head (sequence number and hash) that certificates cite.',
    input: z.object({}).strict(),
    output: SignedHead,
  }),
  'ledger.events': defineMethod({
    summary: 'Audit events, newest first, optionally for one request or from a sequence number.',
    input: z
      .object({
        requestId: RequestId.optional(),
        beforeSeq: z.number().int().min(1).optional(),
        limit: z.number().int().min(1).max(1000).default(100),
      })
      .strict(),
    output: z.object({ total: z.number(), items: z.array(AuditEvent) }),
  }),
  'ledger.exportEvents': defineMethod({
    summary: 'The whole audit log as CSV or JSON.',
    input: z.object({ format: z.enum(['csv', 'json']).default('json') }).strict(),
    output: Content,
  }),
  'ledger.export': defineMethod({
    summary: 'Write the whole ledger (events, personal data, registry) to one file for backup or moving.',
    input: z.object({ path: Text(4096) }).strict(),
    /** `warning`: what the file holds, to be said wherever it is written. */
    output: z.object({ path: z.string(), events: z.number(), bytes: z.number(), warning: z.string() }),
  }),
  'ledger.import': defineMethod({
    summary: 'Load a whole-ledger export into an empty ledger, after verifying its chain and signature.',
    input: z.object({ path: Text(4096) }).strict(),
    output: z.object({ events: z.number(), requests: z.number() }),
  }),
  'ledger.status': defineMethod({
    summary: 'Schema version, counts, unfinished erasure work, and any damage found at start.',
    input: z.object({}).strict(),
    output: z.object({
      ledgerId: z.string().nullable(),
      schemaVersion: z.number(),
      events: z.number(),
      requests: z.number(),
      damage: z.object({ code: z.string(), message: z.string(), file: z.string().nullable() }).nullable(),
      unfinishedWork: z.array(
        z.object({
          id: z.string(),
          kind: z.string(),
          requestId: z.string().nullable(),
          startedAt: z.string(),
        }),
      ),
      backups: z.array(Backup),
    }),
  }),
  'ledger.restore': defineMethod({
    summary: 'Replace a damaged ledger with a backup; the damaged files are moved aside, never deleted.',
    input: z.object({ backupId: Text(100) }).strict(),
    output: z.object({ restored: z.string(), movedAside: z.string() }),
  }),
  'ledger.applyRetention': defineMethod({
    summary: 'Erase the personal data of requests closed longer ago than the retention period.',
    input: z.object({}).strict(),
    output: z.object({ redacted: z.array(RequestId) }),
  }),
  'ledger.settings': defineMethod({
    summary: 'Read, and optionally change, retention, holidays and the default period.',
    input: LedgerSettings.partial().strict(),
    output: LedgerSettings,
  }),
  'registry.list': defineMethod({
    summary: 'Registered datasets and models with their hashes and lineage.',
    input: z.object({ kind: z.enum(['dataset', 'model']).optional() }).strict(),
    output: z.array(RegistryEntry),
  }),
}
