/**
 * Requests from a CSV file, as exported by a DSAR tool: every row is checked before any is
 * imported, and each problem is reported with its line, column and reason.
 */
import type { z } from 'zod'
import { LetheError } from '../contract'
import { NewRequest, SubjectIdType } from '../contract/ledger'
import { CsvError, parseCsv } from '../lib/csv'

/** Columns, in the order `lethe` writes its template. subject_ids: "type:value; type:value". */
export const REQUEST_COLUMNS = [
  'name',
  'email',
  'other_contact',
  'subject_ids',
  'jurisdiction',
  'legal_basis',
  'ground',
  'channel',
  'received',
  'assignee',
  'note',
] as const
const REQUIRED = ['name', 'subject_ids', 'jurisdiction', 'received'] as const

/** Built once: zod compiles a schema on first use, so one per row would cost a compilation per row. */
const RequestRow = NewRequest.strict()

/** Where each schema field comes from in the file. */
const COLUMN_OF: Record<string, (typeof REQUEST_COLUMNS)[number]> = {
  'requester.name': 'name',
  'requester.email': 'email',
  'requester.otherContact': 'other_contact',
  subjectIds: 'subject_ids',
  jurisdiction: 'jurisdiction',
  legalBasis: 'legal_basis',
  ground: 'ground',
  channel: 'channel',
  received: 'received',
  assignee: 'assignee',
  note: 'note',
}

export interface RowError {
  line: number
  column: string
  reason: string
}

/** Problems gathered before checking stops: enough to fix a file in one pass, few enough to show. */
const MAX_ERRORS = 100
/**
 * Requests one import takes: it is one all-or-nothing batch held in memory while it is written
 * (about 20 KB a row at its peak), so a larger file is refused rather than risking the app.
 */
export const MAX_IMPORT_ROWS = 50_000

function fail(errors: RowError[]): never {
  const first = errors[0] as RowError
  const stopped = errors.length >= MAX_ERRORS ? ', then checking stopped' : ''
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more${stopped})` : ''
  throw new LetheError(
    'BAD_INPUT',
    `Nothing was imported: line ${first.line}, column ${first.column}: ${first.reason}${more}.`,
    { errors },
  )
}

type Request = z.output<typeof NewRequest>

/** The request on one line, or undefined once its problems are added to `errors`. */
function requestOnRow(
  cell: (name: string) => string | undefined,
  line: number,
  today: string,
  errors: RowError[],
): Request | undefined {
  const subjectIds = []
  for (const part of (cell('subject_ids') ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const colon = part.indexOf(':')
    const type = SubjectIdType.safeParse(colon > 0 ? part.slice(0, colon).trim() : '')
    if (!type.success) {
      errors.push({
        line,
        column: 'subject_ids',
        reason: `"${part}" is not type:value with a type of ${SubjectIdType.options.join(', ')}`,
      })
      return undefined
    }
    subjectIds.push({ type: type.data, value: part.slice(colon + 1) })
  }
  const parsed = RequestRow.safeParse({
    requester: { name: cell('name'), email: cell('email'), otherContact: cell('other_contact') },
    subjectIds,
    jurisdiction: cell('jurisdiction'),
    legalBasis: cell('legal_basis'),
    ground: cell('ground'),
    channel: cell('channel'),
    received: cell('received'),
    assignee: cell('assignee'),
    note: cell('note'),
  })
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path.slice(0, issue.path[0] === 'requester' ? 2 : 1).join('.')
      errors.push({ line, column: COLUMN_OF[field] ?? field, reason: issue.message })
    }
    return undefined
  }
  if (parsed.data.received > today) {
    errors.push({ line, column: 'received', reason: `${parsed.data.received} is in the future` })
    return undefined
  }
  return parsed.data
}

export function parseRequestsCsv(text: string, today: string): Request[] {
  let table
  try {
    table = parseCsv(text)
  } catch (error) {
    if (error instanceof CsvError)
      fail([{ line: error.line, column: `#${error.column}`, reason: error.reason }])
    throw error
  }
  const errors: RowError[] = []
  const unknown = table.header.filter((h) => !(REQUEST_COLUMNS as readonly string[]).includes(h))
  for (const h of unknown)
    errors.push({ line: 1, column: h, reason: `unknown column (expected ${REQUEST_COLUMNS.join(', ')})` })
  for (const h of REQUIRED)
    if (!table.header.includes(h)) errors.push({ line: 1, column: h, reason: 'required column is missing' })
  if (errors.length) fail(errors)
  if (table.rows.length === 0)
    fail([{ line: 2, column: 'name', reason: 'the file has a header but no requests' }])
  if (table.rows.length > MAX_IMPORT_ROWS) {
    throw new LetheError(
      'TOO_LARGE',
      `Nothing was imported: the file holds ${table.rows.length} requests and one import takes at most ${MAX_IMPORT_ROWS} (each import is written whole or not at all). Split it into smaller files.`,
      { rows: table.rows.length, limit: MAX_IMPORT_ROWS },
    )
  }

  const columnIndex = new Map(table.header.map((name, k) => [name, k]))
  const inputs: Request[] = []
  for (let i = 0; i < table.rows.length && errors.length < MAX_ERRORS; i++) {
    const row = table.rows[i] as string[]
    const cell = (name: string) => row[columnIndex.get(name) ?? -1]?.trim() || undefined
    const request = requestOnRow(cell, table.lines[i] as number, today, errors)
    if (request) inputs.push(request)
  }
  if (errors.length) fail(errors)
  return inputs
}
