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

function fail(errors: RowError[]): never {
  const first = errors[0] as RowError
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''
  throw new LetheError(
    'BAD_INPUT',
    `Nothing was imported: line ${first.line}, column ${first.column}: ${first.reason}${more}.`,
    { errors },
  )
}

export function parseRequestsCsv(text: string, today: string): z.output<typeof NewRequest>[] {
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

  const inputs: z.output<typeof NewRequest>[] = []
  table.rows.forEach((row, i) => {
    const line = table.lines[i] as number
    const cell = (name: string) => {
      const value = row[table.header.indexOf(name)]?.trim()
      return value ? value : undefined
    }
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
        return
      }
      subjectIds.push({ type: type.data, value: part.slice(colon + 1) })
    }
    const parsed = NewRequest.strict().safeParse({
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
      return
    }
    if (parsed.data.received > today) {
      errors.push({ line, column: 'received', reason: `${parsed.data.received} is in the future` })
      return
    }
    inputs.push(parsed.data)
  })
  if (errors.length) fail(errors)
  return inputs
}
