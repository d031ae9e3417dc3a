/**
 * The workflow buttons a request offers: one per move the ledger allows from its status
 * (`allowedTransitions`), with the words, the hook and the questions each move needs.
 */
import type { RequestStatus, RequestView } from './labels'

export interface WorkflowAction {
  to: RequestStatus
  label: string
  /** data-test hook of the button. */
  test: string
  kind: 'primary' | 'default' | 'danger'
  /** Null: the move needs no answer and runs on click. */
  dialog: null | {
    title: string
    intro: string
    /** The identity-verification method (to identity-verified). */
    method?: boolean
    /** The exemption relied on (rejections). */
    exemption?: boolean
    reason?: { label: string; required: boolean; placeholder: string }
    confirm: string
  }
}

export function workflowActions(request: RequestView): WorkflowAction[] {
  const from = request.status
  const actions: WorkflowAction[] = []
  for (const to of request.allowedTransitions) {
    if (from === 'on-hold' && to !== 'rejected') {
      actions.push({ to, label: 'Resume', test: 'resume', kind: 'primary', dialog: null })
    } else if (to === 'identity-verified') {
      actions.push({
        to,
        label: 'Verify identity',
        test: 'verify-identity',
        kind: 'primary',
        dialog: {
          title: 'Verify the requester’s identity',
          intro:
            'Record how you confirmed that the requester is the person the data is about. The method is kept in the audit log.',
          method: true,
          confirm: 'Mark as verified',
        },
      })
    } else if (to === 'in-progress' && from === 'completed') {
      actions.push({
        to,
        label: 'Reopen',
        test: 'reopen',
        kind: 'default',
        dialog: {
          title: 'Reopen the request',
          intro: 'The request goes back to work, for example because more records of this person were found.',
          reason: {
            label: 'Why it is reopened',
            required: true,
            placeholder: 'e.g. a second dataset holds rows',
          },
          confirm: 'Reopen',
        },
      })
    } else if (to === 'in-progress') {
      actions.push({ to, label: 'Start work', test: 'start-work', kind: 'primary', dialog: null })
    } else if (to === 'received' && from === 'rejected') {
      actions.push({
        to,
        label: 'Reopen',
        test: 'reopen',
        kind: 'default',
        dialog: {
          title: 'Reopen the rejected request',
          intro: 'The request starts over from Received; the rejection stays in the audit log.',
          reason: {
            label: 'Why it is reopened',
            required: true,
            placeholder: 'e.g. the requester sent proof',
          },
          confirm: 'Reopen',
        },
      })
    } else if (to === 'completed') {
      actions.push({
        to,
        label: 'Complete',
        test: 'complete-request',
        kind: 'primary',
        dialog: {
          title: 'Complete the request',
          intro:
            'Mark the erasure as done. Once completed, a signed certificate of removal can be issued for the unlearned model.',
          reason: { label: 'Note (optional)', required: false, placeholder: 'e.g. answer sent by e-mail' },
          confirm: 'Complete',
        },
      })
    } else if (to === 'on-hold') {
      actions.push({
        to,
        label: 'Put on hold',
        test: 'put-on-hold',
        kind: 'default',
        dialog: {
          title: 'Put the request on hold',
          intro: 'The deadline keeps running while the request waits; resume it when the reason is resolved.',
          reason: {
            label: 'Reason for the hold',
            required: true,
            placeholder: 'e.g. waiting for a copy of an ID document',
          },
          confirm: 'Put on hold',
        },
      })
    } else if (to === 'rejected') {
      actions.push({
        to,
        label: 'Reject',
        test: 'reject-request',
        kind: 'danger',
        dialog: {
          title: 'Reject the request',
          intro:
            'Name the exemption the refusal relies on and the reason given to the requester; both are kept in the audit log.',
          exemption: true,
          reason: {
            label: 'Reason given to the requester',
            required: true,
            placeholder: 'e.g. the records are kept for a pending legal claim',
          },
          confirm: 'Reject',
        },
      })
    }
  }
  // The next step first, then the others, the rejection last.
  const rank = { primary: 0, default: 1, danger: 2 }
  return actions.sort((a, b) => rank[a.kind] - rank[b.kind])
}
