import type { z } from 'zod'
import type {
  AuditEvent,
  RequestSummary as Summary,
  RequestView,
  VerifyReport as Report,
} from '../contract/ledger'
import type { SystemInfo } from '../contract/system'

type RequestSummary = z.infer<typeof Summary>
type VerifyReport = z.infer<typeof Report>

/** `lethe info` for people: what the first screen shows. */
export function formatInfo(info: SystemInfo): string {
  const { engine } = info
  const width = Math.max(...engine.backends.map((b) => b.name.length))
  const rows = engine.backends.map((b) => {
    const mark = b.name === engine.selected ? '*' : b.available ? '+' : '-'
    const speed = b.gflops === null ? '' : `${b.gflops.toFixed(1)} GFLOP/s  `
    return `  ${mark} ${b.name.padEnd(width)}  ${b.label}: ${speed}${b.detail}`
  })
  return [
    `Lethe ${info.version} (${info.host}, ${info.platform}, Node ${info.versions.node})`,
    `Data folder: ${info.dataDir}`,
    `Compute backends (* selected by ${engine.selectedBy}, + usable, - unavailable):`,
    ...rows,
    ...(engine.warning ? [`Warning: ${engine.warning}`] : []),
    ...(engine.selected ? [] : ['No usable compute backend: the engine cannot train or unlearn here.']),
  ].join('\n')
}

const pad = (text: string, width: number) => text.padEnd(width)

function dueText(r: RequestView): string {
  const d = r.deadline
  if (r.closedOn) return `closed ${r.closedOn}`
  const when =
    d.daysLeft < 0
      ? `${-d.daysLeft} days OVERDUE`
      : d.daysLeft === 0
        ? 'due TODAY'
        : `${d.daysLeft} days left`
  return `due ${d.dueDate} (${when})`
}

/** A free-text field that is personal data: null once the request's personal data is erased. */
const typed = (text: string | null) => text ?? '(erased)'

export function formatRequest(r: RequestView): string {
  const lines = [
    `${r.id}  ${r.status}  ${r.jurisdiction} (${r.legalBasis})  received ${r.received}, ${dueText(r)}`,
    `  Requester: ${r.requester ? [r.requester.name, r.requester.email, r.requester.otherContact].filter(Boolean).join(', ') : `erased on ${r.redactedOn}`}${r.revealed ? '' : r.requester ? ' (masked)' : ''}`,
    `  Subject ids: ${r.subjectIds.map((s) => `${s.type}:${s.value ?? '(erased)'}`).join(', ')}`,
    `  Identity: ${r.identity.status}${r.identity.on ? ` by ${typed(r.identity.method)} on ${r.identity.on}` : ''}`,
    `  Deadline: ${r.deadline.rule}`,
  ]
  if (r.deadline.acknowledgeBy)
    lines.push(
      `  Acknowledge by ${r.deadline.acknowledgeBy}: ${r.deadline.acknowledgedOn ? `done ${r.deadline.acknowledgedOn}` : 'not yet'}`,
    )
  if (r.deadline.extension)
    lines.push(
      `  Extended to ${r.deadline.extension.dueDate} (notice ${r.deadline.extension.noticeDate}): ${typed(r.deadline.extension.reason)}`,
    )
  else if (r.deadline.extensionNoticeBy && !r.closedOn)
    lines.push(`  May be extended until ${r.deadline.extensionNoticeBy}`)
  if (r.decision)
    lines.push(
      `  Decision: ${r.decision.kind === 'erase' ? 'erase' : `reject under ${typed(r.decision.exemption)}: ${typed(r.decision.reason)}`}`,
    )
  if (r.holdReason) lines.push(`  On hold: ${r.holdReason}`)
  if (r.assignee) lines.push(`  Assignee: ${r.assignee}`)
  for (const n of r.notes) lines.push(`  Note ${n.at} by ${n.actor}: ${n.text ?? '(hidden; use --reveal)'}`)
  for (const a of r.attachments)
    lines.push(`  Attachment ${a.name ?? a.id}: ${a.bytes} bytes, sha256 ${a.sha256}`)
  if (r.possibleDuplicates.length) lines.push(`  Possible duplicates: ${r.possibleDuplicates.join(', ')}`)
  lines.push(`  Next: ${r.allowedTransitions.join(', ') || 'none'}`)
  return lines.join('\n')
}

export function formatRequestList(list: { total: number; items: RequestView[] }): string {
  if (list.total === 0) return 'No requests match.'
  const rows = list.items.map(
    (r) =>
      `${pad(r.id, 16)} ${pad(r.status, 18)} ${pad(r.jurisdiction, 8)} ${pad(r.received, 11)} ${pad(dueText(r), 34)} ${r.requester?.name ?? '(erased)'}`,
  )
  return [
    `${pad('ID', 16)} ${pad('STATUS', 18)} ${pad('LAW', 8)} ${pad('RECEIVED', 11)} ${pad('DEADLINE', 34)} REQUESTER`,
    ...rows,
    `${list.items.length} of ${list.total}`,
  ].join('\n')
}

export function formatSummary(s: RequestSummary): string {
  return [
    `Open: ${s.open}   due within 7 days: ${s.dueWithin7Days}   overdue: ${s.overdue}`,
    `Closed this month: ${s.closedThisMonth}   median days to close: ${s.medianDaysToClose ?? '—'}`,
    `By status: ${Object.entries(s.byStatus)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ].join('\n')
}

export function formatEvents(events: AuditEvent[]): string {
  const brief = (e: AuditEvent) => {
    const text = e.type === 'request.created' ? '' : JSON.stringify(e.payload)
    return text.length > 160 ? `${text.slice(0, 157)}...` : text
  }
  return events
    .map((e) =>
      `#${e.seq} ${e.at} ${e.actor} ${e.type}${e.requestId ? ` ${e.requestId}` : ''} ${brief(e)}`.trimEnd(),
    )
    .join('\n')
}

export function formatVerify(v: VerifyReport): string {
  const pins = v.pins.map((p) => `  ${p.pass ? 'ok  ' : 'FAIL'} ${p.source}: ${p.expected}: ${p.detail}`)
  const lines = [
    v.ok
      ? `The ledger verifies: ${v.events} events, head seq ${v.head?.seq} hash ${v.head?.hash}, every head signed with key ${v.keyFingerprint}.`
      : v.firstBad
        ? `The ledger does NOT verify. First bad entry: seq ${v.firstBad.seq ?? '?'}${v.firstBad.file ? ` in ${v.firstBad.file}` : ''}: ${v.firstBad.reason}.`
        : `The audit chain verifies (${v.events} events) but what lies beside it does not match it:`,
    ...v.stateMismatches.map((m) => `  ${m}`),
    ...(pins.length ? ['Held against what is pinned outside the ledger:', ...pins] : []),
  ]
  return lines.join('\n')
}
