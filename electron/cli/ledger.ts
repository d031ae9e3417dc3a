/** `lethe request …` and `lethe ledger …`: the request ledger from the command line. */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { type Command } from 'commander'
import type { Input, Output } from '../contract'
import { SubjectIdType } from '../contract/ledger'
import { formatEvents, formatRequest, formatRequestList, formatSummary, formatVerify } from './format'
import { integer } from './parse'
import { common, exit, run, type CommonOptions } from './run'

const collect = (value: string, previous: string[] = []) => [...previous, value]

/** "customer-id:C-1001", or a bare value, taken as a customer id. */
function subjectId(text: string): { type: SubjectIdType; value: string } {
  const colon = text.indexOf(':')
  const type = SubjectIdType.safeParse(colon > 0 ? text.slice(0, colon) : '')
  return type.success
    ? { type: type.data, value: text.slice(colon + 1) }
    : { type: 'customer-id', value: text }
}
type SubjectIdType = (typeof SubjectIdType.options)[number]

type Content = Output<'requests.export'>
type Saved = Omit<Content, 'content'> & { out: string }

/** With --out, the content goes to that file and the result names the file instead of carrying it. */
const saveTo =
  (out: string | undefined) =>
  (value: Content): Content | Saved => {
    if (!out) return value
    writeFileSync(out, value.content)
    return { format: value.format, count: value.count, out: path.resolve(out) }
  }

const formatContent = (v: Content | Saved) =>
  'out' in v ? `Wrote ${v.count} rows to ${v.out}.` : v.content.trimEnd()

export function registerLedgerCommands(program: Command): void {
  const request = program
    .command('request')
    .description('erasure requests: log, list, move through the workflow')

  common(request.command('create'))
    .description('log a new erasure request; deadlines follow from the jurisdiction and receipt date')
    .requiredOption('--name <name>', "requester's name")
    .option('--email <email>', "requester's e-mail")
    .option('--contact <text>', 'other contact details')
    .requiredOption(
      '--subject-id <type:value>',
      `identifier to match training records (types: ${SubjectIdType.options.join(', ')}); repeatable`,
      collect,
    )
    .requiredOption('--jurisdiction <j>', 'gdpr, uk-gdpr, ccpa, lgpd or other')
    .requiredOption('--received <YYYY-MM-DD>', 'date the request was received')
    .option('--basis <basis>', 'legal basis (default: the jurisdiction’s erasure article)')
    .option('--ground <text>', 'e.g. "Art. 17(1)(b): consent withdrawn"')
    .option('--channel <channel>', 'email, web-form, phone, post, in-person, dsar-tool, other')
    .option('--assignee <name>', 'who handles it')
    .option('--note <text>', 'a first note')
    .action((o: CommonOptions & Record<string, string | string[] | undefined>) => {
      const input = {
        requester: { name: o.name, email: o.email, otherContact: o.contact },
        subjectIds: (o.subjectId as string[]).map(subjectId),
        jurisdiction: o.jurisdiction,
        received: o.received,
        legalBasis: o.basis,
        ground: o.ground,
        channel: o.channel,
        assignee: o.assignee,
        note: o.note,
      } as Input<'requests.create'>
      return exit(run('requests.create', input, { ...o, writes: true }, formatRequest))
    })

  common(request.command('list'))
    .description('list requests (personal data masked)')
    .option('--status <status>', 'filter by status; repeatable', collect)
    .option('--jurisdiction <j>', 'filter by jurisdiction; repeatable', collect)
    .option('--due-within <days>', 'open requests due within this many days', integer)
    .option('--overdue', 'only overdue requests')
    .option('--search <text>', 'id, assignee, or an exact e-mail or subject identifier')
    .option('--sort <key>', 'received, due, id, status or updated', 'due')
    .option('--desc', 'newest or latest first')
    .option('--offset <n>', 'skip this many', integer, 0)
    .option('--limit <n>', 'at most this many', integer, 50)
    .action((o: CommonOptions & Record<string, unknown>) =>
      exit(
        run(
          'requests.list',
          {
            status: o.status,
            jurisdiction: o.jurisdiction,
            dueWithinDays: o.dueWithin,
            overdue: o.overdue,
            search: o.search,
            sort: o.sort,
            order: o.desc ? 'desc' : 'asc',
            offset: o.offset,
            limit: o.limit,
          } as Input<'requests.list'>,
          o,
          formatRequestList,
        ),
      ),
    )

  common(request.command('show <id>'))
    .description('one request with its audit trail')
    .option('--reveal', 'show personal data (logged in the audit trail)')
    .action((id: string, o: CommonOptions & { reveal?: boolean }) =>
      exit(
        run('requests.get', { id, reveal: Boolean(o.reveal) }, { ...o, writes: Boolean(o.reveal) }, (v) =>
          [formatRequest(v.request), '', formatEvents(v.events)].join('\n'),
        ),
      ),
    )

  common(request.command('transition <id> <status>'))
    .description('move a request: identity-verified, in-progress, completed, rejected, on-hold, or back')
    .option('--reason <text>', 'for on-hold, rejected and reopening')
    .option('--method <text>', 'identity-verification method (to identity-verified)')
    .option('--exemption <text>', 'exemption relied on (to rejected), e.g. "GDPR Art. 17(3)(b)"')
    .option('--on <YYYY-MM-DD>', 'date of the step (default: today)')
    .action((id: string, to: string, o: CommonOptions & Record<string, string | undefined>) =>
      exit(
        run(
          'requests.transition',
          {
            id,
            to,
            reason: o.reason,
            method: o.method,
            exemption: o.exemption,
            on: o.on,
          } as Input<'requests.transition'>,
          { ...o, writes: true },
          formatRequest,
        ),
      ),
    )

  common(request.command('extend <id>'))
    .description('extend the deadline once, within the first period')
    .requiredOption('--reason <text>', 'why more time is needed (told to the requester)')
    .option('--notice <YYYY-MM-DD>', 'date the requester was told (default: today)')
    .action((id: string, o: CommonOptions & { reason: string; notice?: string }) =>
      exit(
        run(
          'requests.extend',
          { id, reason: o.reason, noticeDate: o.notice },
          { ...o, writes: true },
          formatRequest,
        ),
      ),
    )

  common(request.command('acknowledge <id>'))
    .description('record that receipt was confirmed to the requester')
    .option('--on <YYYY-MM-DD>', 'date (default: today)')
    .action((id: string, o: CommonOptions & { on?: string }) =>
      exit(run('requests.acknowledge', { id, on: o.on }, { ...o, writes: true }, formatRequest)),
    )

  common(request.command('note <id> <text>'))
    .description('add a note (kept as personal data, outside the chain)')
    .action((id: string, text: string, o: CommonOptions) =>
      exit(run('requests.addNote', { id, text }, { ...o, writes: true }, formatRequest)),
    )

  common(request.command('attach <id> <file>'))
    .description('attach a file; its SHA-256 goes into the audit trail')
    .action((id: string, file: string, o: CommonOptions) =>
      exit(run('requests.attach', { id, path: path.resolve(file) }, { ...o, writes: true }, formatRequest)),
    )

  common(request.command('assign <id> <assignee>'))
    .description('set who handles the request')
    .action((id: string, assignee: string, o: CommonOptions) =>
      exit(run('requests.update', { id, assignee }, { ...o, writes: true }, formatRequest)),
    )

  common(request.command('import <file>'))
    .description('import requests from CSV: all rows or none, with an error per bad row')
    .action((file: string, o: CommonOptions) =>
      exit(
        run(
          'requests.import',
          { path: path.resolve(file) },
          { ...o, writes: true },
          (v) => `Imported ${v.imported.length} requests: ${v.imported.join(', ')}`,
        ),
      ),
    )

  common(request.command('export'))
    .description('all requests as CSV or JSON (personal data masked)')
    .option('--format <f>', 'csv or json', 'csv')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((o: CommonOptions & { format: 'csv' | 'json'; out?: string }) =>
      exit(run('requests.export', { format: o.format }, o, formatContent, { save: saveTo(o.out) })),
    )

  common(request.command('summary'))
    .description('open, due within 7 days, overdue, closed this month, median days to close')
    .action((o: CommonOptions) => exit(run('requests.summary', {}, o, formatSummary)))

  const ledger = program.command('ledger').description('the tamper-evident audit log')

  common(ledger.command('verify'))
    .description(
      'recompute the hash chain and every signed head, check the files beside it and what the organisation and its certificates pin; name the first bad entry',
    )
    .option(
      '--expect-key <fingerprint>',
      'the key the chain must be signed with (printed on every certificate)',
    )
    .option('--expect-head <seq:hash>', 'an entry the chain must still hold, as a certificate cites it')
    // A ledger that fails verification exits with 3, so scripts can tell it from a failed check.
    .action((o: CommonOptions & { expectKey?: string; expectHead?: string }) =>
      exit(
        run(
          'ledger.verify',
          { expectKey: o.expectKey, expectHead: o.expectHead } as Input<'ledger.verify'>,
          o,
          formatVerify,
          { status: (report) => (report.ok ? 0 : 3) },
        ),
      ),
    )

  common(ledger.command('head'))
    .description('the signed head that certificates cite')
    .action((o: CommonOptions) =>
      exit(
        run(
          'ledger.head',
          {},
          o,
          (h) => `seq ${h.seq}\nhash ${h.hash}\nsigned ${h.at} (Ed25519)\n${h.publicKey.trim()}`,
        ),
      ),
    )

  common(ledger.command('events'))
    .description('audit events, newest first')
    .option('--request <id>', 'only this request')
    .option('--before <seq>', 'older than this seq', integer)
    .option('--limit <n>', 'at most this many', integer, 100)
    .action((o: CommonOptions & { request?: string; before?: number; limit: number }) =>
      exit(
        run('ledger.events', { requestId: o.request, beforeSeq: o.before, limit: o.limit }, o, (v) =>
          formatEvents(v.items),
        ),
      ),
    )

  common(ledger.command('export'))
    .description('the whole ledger in one file (events, personal data, keys): keep it safe')
    .option('--out <file>', 'file to write')
    .option('--events <format>', 'instead, export only the audit log as csv or json')
    .action((o: CommonOptions & { out?: string; events?: 'csv' | 'json' }) => {
      if (o.events) {
        return exit(
          run('ledger.exportEvents', { format: o.events }, o, formatContent, { save: saveTo(o.out) }),
        )
      }
      if (!o.out) return exit(Promise.resolve(reportMissingOut()))
      return exit(
        run(
          'ledger.export',
          { path: path.resolve(o.out) },
          o,
          (v) =>
            `Wrote ${v.events} events (${v.bytes} bytes) to ${v.path}, readable by you only.\n${v.warning}`,
        ),
      )
    })

  common(ledger.command('import <file>'))
    .description('load a whole-ledger export into an empty ledger, after verifying it')
    .action((file: string, o: CommonOptions) =>
      exit(
        run(
          'ledger.import',
          { path: path.resolve(file) },
          { ...o, writes: true },
          (v) => `Imported ${v.events} events and ${v.requests} requests.`,
        ),
      ),
    )

  common(ledger.command('status'))
    .description('counts, unfinished erasure work, damage found at start, backups')
    .action((o: CommonOptions) =>
      exit(
        run('ledger.status', {}, o, (s) =>
          [
            `Ledger ${s.ledgerId ?? '(none)'}: ${s.requests} requests, ${s.events} events, schema ${s.schemaVersion}`,
            s.damage ? `DAMAGED: ${s.damage.message}` : 'No damage found.',
            `Unfinished erasure work: ${s.unfinishedWork.length ? s.unfinishedWork.map((w) => `${w.kind} ${w.requestId ?? ''} since ${w.startedAt}`).join('; ') : 'none'}`,
            `Backups: ${s.backups.length ? s.backups.map((b) => `${b.id} (${b.events} events)`).join(', ') : 'none'}`,
          ].join('\n'),
        ),
      ),
    )

  common(ledger.command('restore <backup>'))
    .description('replace the ledger with a backup; the current files are moved aside')
    .action((backupId: string, o: CommonOptions) =>
      exit(
        run(
          'ledger.restore',
          { backupId },
          { ...o, writes: true },
          (v) => `Restored ${v.restored}; the previous ledger is in ${v.movedAside}.`,
        ),
      ),
    )

  common(ledger.command('retention'))
    .description('erase personal data of requests closed longer than the retention period')
    .action((o: CommonOptions) =>
      exit(
        run('ledger.applyRetention', {}, { ...o, writes: true }, (v) =>
          v.redacted.length
            ? `Erased personal data of ${v.redacted.join(', ')}.`
            : 'Nothing is due for erasure.',
        ),
      ),
    )

  common(ledger.command('settings'))
    .description('show or change retention, holidays and the period for other jurisdictions')
    .option('--retention-days <n>', 'days after closing before personal data is erased', integer)
    .option('--holiday <YYYY-MM-DD>', 'a public holiday; repeatable (replaces the list)', collect)
    .option('--other-days <n>', 'response period for the "other" jurisdiction', integer)
    .action((o: CommonOptions & { retentionDays?: number; holiday?: string[]; otherDays?: number }) => {
      const changes = {
        retentionDays: o.retentionDays,
        holidays: o.holiday,
        otherJurisdictionDays: o.otherDays,
      }
      const writes = Object.values(changes).some((v) => v !== undefined)
      return exit(
        run('ledger.settings', changes, { ...o, writes }, (s) =>
          [
            `Retention: ${s.retentionDays} days after closing`,
            `Holidays: ${s.holidays.join(', ') || 'none'}`,
            `Other jurisdictions: ${s.otherJurisdictionDays} days`,
          ].join('\n'),
        ),
      )
    })
}

function reportMissingOut(): number {
  process.stderr.write(
    'lethe: BAD_INPUT: give --out FILE for the whole-ledger export, or --events csv|json.\n',
  )
  return 2
}
