/**
 * Human words for the ledger's codes. Typed against the contract, so a new status or
 * jurisdiction there fails the type-check here until it has a label.
 */
import type { Input, Output } from '@contract/index'

export type RequestView = Output<'requests.get'>['request']
export type RequestStatus = RequestView['status']
export type Jurisdiction = RequestView['jurisdiction']
export type LegalBasis = RequestView['legalBasis']
export type Channel = RequestView['channel']
export type SubjectIdType = RequestView['subjectIds'][number]['type']
export type AuditEvent = Output<'requests.get'>['events'][number]
export type NewRequest = Input<'requests.create'>

type TagType = 'primary' | 'success' | 'warning' | 'danger' | 'info'

export const statusLabels: Record<RequestStatus, string> = {
  received: 'Received',
  'identity-verified': 'Identity verified',
  'in-progress': 'In progress',
  'on-hold': 'On hold',
  completed: 'Completed',
  rejected: 'Rejected',
}

/** Tag colours: open work in blues, waiting in orange, closed in green or red. */
export const statusTags: Record<RequestStatus, TagType> = {
  received: 'info',
  'identity-verified': 'primary',
  'in-progress': 'primary',
  'on-hold': 'warning',
  completed: 'success',
  rejected: 'danger',
}

export const statuses = Object.keys(statusLabels) as RequestStatus[]

export const jurisdictionLabels: Record<Jurisdiction, string> = {
  gdpr: 'GDPR (EU)',
  'uk-gdpr': 'UK GDPR',
  ccpa: 'CCPA/CPRA (California)',
  lgpd: 'LGPD (Brazil)',
  other: 'Other',
}
/** Short forms for table cells. */
export const jurisdictionShort: Record<Jurisdiction, string> = {
  gdpr: 'GDPR',
  'uk-gdpr': 'UK GDPR',
  ccpa: 'CCPA',
  lgpd: 'LGPD',
  other: 'Other',
}
export const jurisdictions = Object.keys(jurisdictionLabels) as Jurisdiction[]

/** The deadline rule in one line, for the intake form (the ledger computes the dates). */
export const deadlineHints: Record<Jurisdiction, string> = {
  gdpr: 'One month from receipt, extendable by two further months if notified within the first (Art. 12(3)).',
  'uk-gdpr': 'One month from receipt, extendable by two further months if notified within the first.',
  ccpa: 'Acknowledge within 10 business days; respond within 45 days, extendable once by 45 more.',
  lgpd: '15 days from the request; no extension.',
  other: 'The period set for other jurisdictions in the ledger settings; no extension.',
}

export const legalBasisLabels: Record<LegalBasis, string> = {
  'gdpr-art-17': 'GDPR Art. 17',
  'uk-gdpr-art-17': 'UK GDPR Art. 17',
  'ccpa-1798-105': 'CCPA § 1798.105',
  'lgpd-art-18': 'LGPD Art. 18',
  other: 'Other',
}
export const legalBases = Object.keys(legalBasisLabels) as LegalBasis[]

/** The jurisdiction's own erasure article, as the ledger defaults it. */
export const defaultBasis: Record<Jurisdiction, LegalBasis> = {
  gdpr: 'gdpr-art-17',
  'uk-gdpr': 'uk-gdpr-art-17',
  ccpa: 'ccpa-1798-105',
  lgpd: 'lgpd-art-18',
  other: 'other',
}

export const channelLabels: Record<Channel, string> = {
  email: 'E-mail',
  'web-form': 'Web form',
  phone: 'Phone',
  post: 'Post',
  'in-person': 'In person',
  'dsar-tool': 'DSAR tool',
  other: 'Other',
}
export const channels = Object.keys(channelLabels) as Channel[]

export const subjectTypeLabels: Record<SubjectIdType, string> = {
  'customer-id': 'Customer id',
  email: 'E-mail',
  phone: 'Phone',
  account: 'Account',
  'device-id': 'Device id',
  other: 'Other',
}
export const subjectTypes = Object.keys(subjectTypeLabels) as SubjectIdType[]

/** Grounds for erasure under GDPR Art. 17(1), offered as suggestions. */
export const gdprGrounds = [
  'Art. 17(1)(a): no longer necessary for the purpose',
  'Art. 17(1)(b): consent withdrawn',
  'Art. 17(1)(c): objection to processing',
  'Art. 17(1)(d): unlawfully processed',
  'Art. 17(1)(e): erasure required by law',
  'Art. 17(1)(f): collected from a child (information society services)',
]

/** The exemptions of GDPR Art. 17(3), offered when a request is rejected. */
export const gdprExemptions = [
  'GDPR Art. 17(3)(a): freedom of expression and information',
  'GDPR Art. 17(3)(b): legal obligation or public task',
  'GDPR Art. 17(3)(c): public health',
  'GDPR Art. 17(3)(d): archiving, research or statistics',
  'GDPR Art. 17(3)(e): legal claims',
  'Identity could not be verified',
  'Manifestly unfounded or excessive (Art. 12(5))',
]

export const methodLabels: Record<string, string> = {
  train: 'Trained',
  retrain: 'Exact retraining',
  finetune: 'Fine-tuning',
  neggrad: 'Negative gradient',
}
export const methodLabel = (method: string): string => methodLabels[method] ?? method
