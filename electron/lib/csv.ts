/**
 * RFC 4180 CSV / TSV reading and writing for imported erasure requests and training datasets.
 *
 * The parser is strict on purpose: anything ambiguous is rejected with a `CsvError` that names the
 * exact 1-based physical line and column (counted in Unicode code points, so an emoji is one column),
 * because the people importing these files fix them by hand in an editor.
 */
import { isControlCode } from '../contract/text'

export interface CsvTable {
  /** Header names, trimmed. Unique and non-empty. */
  header: string[]
  /** Data rows; each has exactly `header.length` fields. Values are not trimmed. */
  rows: string[][]
  /** `lines[i]` is the 1-based physical line on which data row `i` starts. */
  lines: number[]
}

export type CsvDelimiter = ',' | '\t' | ';'

export interface CsvOptions {
  /**
   * Field separator. When omitted it is sniffed from the header line (ignoring quoted text):
   * tab if it has a tab, else `;` if it has `;` and no `,`, else `,`.
   */
  delimiter?: CsvDelimiter
}

/** A malformed CSV file. `message` reads `line L, column C: <reason>`; `reason` is the bare text. */
export class CsvError extends Error {
  override readonly name = 'CsvError'
  readonly reason: string

  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`)
    this.reason = message
  }
}

const QUOTE = 0x22
const LF = 0x0a
const CR = 0x0d
const TAB = 0x09
const COMMA = 0x2c
const SEMICOLON = 0x3b
const DELIMITERS: readonly string[] = [',', '\t', ';']

/** 1-based column of `index` on the line starting at `lineStart`, counting a surrogate pair as one. */
function columnAt(text: string, lineStart: number, index: number): number {
  let column = 1
  for (let k = lineStart; k < index; k++) {
    const c = text.charCodeAt(k)
    if (c >= 0xd800 && c <= 0xdbff && k + 1 < index) {
      const d = text.charCodeAt(k + 1)
      if (d >= 0xdc00 && d <= 0xdfff) k++
    }
    column++
  }
  return column
}

function describeDelimiter(code: number): string {
  return code === TAB ? 'tab' : `"${String.fromCharCode(code)}"`
}

function describeChar(text: string, index: number): string {
  const cp = text.codePointAt(index) ?? 0
  if (cp < 0x20 || cp === 0x7f) return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
  return `"${String.fromCodePoint(cp)}"`
}

/**
 * Picks the delimiter from the first non-blank line, looking only at characters outside quotes
 * (so a quoted header name containing a tab or `;` does not mislead it).
 */
function sniffDelimiter(text: string): number {
  let i = 0
  const n = text.length
  while (i < n && (text.charCodeAt(i) === LF || text.charCodeAt(i) === CR)) i++
  let tab = false
  let semicolon = false
  let comma = false
  let quoted = false
  for (; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) quoted = !quoted
    else if (quoted) continue
    else if (c === LF || c === CR) break
    else if (c === TAB) tab = true
    else if (c === SEMICOLON) semicolon = true
    else if (c === COMMA) comma = true
  }
  if (tab) return TAB
  if (semicolon && !comma) return SEMICOLON
  return COMMA
}

interface RawRecord {
  fields: string[]
  /** Code-unit index of each field's first character; the first is where the record starts, a line start. */
  starts: number[]
  /** Physical line where the record starts. */
  line: number
  /** Where the record's content ends (before its line break). */
  end: number
  /** True for an entirely empty line. */
  blank: boolean
}

/**
 * Line and column of `index` within `record`, which may span several lines. Worked out only for an
 * error, so that a good record costs no bookkeeping.
 */
function positionIn(text: string, record: RawRecord, index: number): { line: number; column: number } {
  let line = record.line
  let lineStart = record.starts[0] ?? 0
  for (let k = lineStart; k < index; k++) {
    const c = text.charCodeAt(k)
    if (c === LF || (c === CR && text.charCodeAt(k + 1) !== LF)) {
      line++
      lineStart = k + 1
    }
  }
  return { line, column: columnAt(text, lineStart, index) }
}

/** Splits `text` into records, calling `onRecord` for each (blank lines included, flagged). */
function readRecords(text: string, delimiter: number, onRecord: (record: RawRecord) => void): void {
  const n = text.length
  let i = 0
  let line = 1
  let lineStart = 0

  const error = (message: string, atLine: number, atLineStart: number, atIndex: number): CsvError =>
    new CsvError(message, atLine, columnAt(text, atLineStart, atIndex))
  const controlError = (): CsvError =>
    error(
      `control character ${describeChar(text, i)}; a field may hold tab and line breaks but no other control characters`,
      line,
      lineStart,
      i,
    )

  /** Consumes the line break at `i` (CR, LF or CRLF). */
  const newline = (): void => {
    if (text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF) i += 2
    else i += 1
    line++
    lineStart = i
  }

  while (i < n) {
    const record: RawRecord = { fields: [], starts: [], line, end: i, blank: false }
    let quotedAny = false
    for (;;) {
      record.starts.push(i)
      if (i < n && text.charCodeAt(i) === QUOTE) {
        quotedAny = true
        const openIndex = i
        const openLine = line
        const openLineStart = lineStart
        i++
        let value = ''
        let segment = i
        for (;;) {
          if (i >= n) {
            throw error(
              'unterminated quoted field (the quote opened here is never closed)',
              openLine,
              openLineStart,
              openIndex,
            )
          }
          const c = text.charCodeAt(i)
          if (c === QUOTE) {
            if (text.charCodeAt(i + 1) === QUOTE) {
              value += text.slice(segment, i + 1)
              i += 2
              segment = i
              continue
            }
            value += text.slice(segment, i)
            i++
            break
          }
          if (c === LF || c === CR) newline()
          else if (isControlCode(c)) throw controlError()
          else i++
        }
        record.fields.push(value)
        if (i < n) {
          const c = text.charCodeAt(i)
          if (c !== delimiter && c !== LF && c !== CR) {
            throw error(
              `unexpected ${describeChar(text, i)} after closing quote; expected ${describeDelimiter(delimiter)} or end of line`,
              line,
              lineStart,
              i,
            )
          }
        }
      } else {
        const start = i
        while (i < n) {
          const c = text.charCodeAt(i)
          if (c === delimiter || c === LF || c === CR) break
          if (c === QUOTE) {
            throw error(
              'quote inside an unquoted field; enclose the whole field in quotes and double any quote inside it',
              line,
              lineStart,
              i,
            )
          }
          if (isControlCode(c)) throw controlError()
          i++
        }
        record.fields.push(text.slice(start, i))
      }
      // Here i is at a delimiter, a line break, or the end of the text.
      if (i < n && text.charCodeAt(i) === delimiter) {
        i++
        continue
      }
      record.end = i
      if (i < n) newline()
      break
    }
    record.blank = !quotedAny && record.fields.length === 1 && record.fields[0] === ''
    onRecord(record)
  }
}

/** Parses CSV / TSV text (RFC 4180, strict). Throws `CsvError` with an exact position on bad input. */
export function parseCsv(text: string, options: CsvOptions = {}): CsvTable {
  if (options.delimiter !== undefined && !DELIMITERS.includes(options.delimiter)) {
    throw new TypeError(`unsupported CSV delimiter ${JSON.stringify(options.delimiter)}`)
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const delimiter = options.delimiter === undefined ? sniffDelimiter(body) : options.delimiter.charCodeAt(0)

  let header: string[] | undefined
  const rows: string[][] = []
  const lines: number[] = []

  readRecords(body, delimiter, (record) => {
    if (record.blank) return
    if (header === undefined) {
      const errorAt = (index: number, message: string): CsvError => {
        const { line, column } = positionIn(body, record, index)
        return new CsvError(message, line, column)
      }
      const names = record.fields.map((field) => field.trim())
      const seen = new Map<string, number>()
      names.forEach((name, k) => {
        const at = record.starts[k] ?? 0
        if (name === '') throw errorAt(at, `header ${k + 1} is empty; every column needs a name`)
        const first = seen.get(name)
        if (first !== undefined) {
          throw errorAt(
            at,
            `duplicate header ${JSON.stringify(name)} (column ${k + 1} repeats column ${first + 1})`,
          )
        }
        seen.set(name, k)
      })
      header = names
      return
    }
    const expected = header.length
    const actual = record.fields.length
    if (actual !== expected) {
      // Point at the first extra field, or just past the row's last character, where the first
      // missing field should begin.
      const at = actual > expected ? (record.starts[expected] ?? record.end) : record.end
      const { line, column } = positionIn(body, record, at)
      const where = line === record.line ? '' : ` (the row starts on line ${record.line})`
      throw new CsvError(
        `expected ${expected} field${expected === 1 ? '' : 's'} but found ${actual}${where}`,
        line,
        column,
      )
    }
    rows.push(record.fields)
    lines.push(record.line)
  })

  if (header === undefined) throw new CsvError('the file is empty; expected a header line', 1, 1)
  return { header, rows, lines }
}

/** Characters that make a spreadsheet treat a cell as a formula. */
const FORMULA_PREFIX = /^[=+\-@\t\r]/

function renderField(
  value: string | number | null | undefined,
  delimiter: string,
  isHeader: boolean,
): string {
  if (value === null || value === undefined) return ''
  let text: string
  if (typeof value === 'number') {
    text = String(value)
  } else {
    text = String(value)
    if (FORMULA_PREFIX.test(text)) text = `'${text}`
  }
  const needsQuotes =
    text.includes(delimiter) ||
    text.includes('"') ||
    text.includes('\n') ||
    text.includes('\r') ||
    text.startsWith(' ') ||
    text.endsWith(' ') ||
    // Header names are quoted when they hold any delimiter so that sniffing reads the file back the same way.
    (isHeader && (text.includes(',') || text.includes('\t') || text.includes(';')))
  return needsQuotes ? `"${text.replaceAll('"', '""')}"` : text
}

function renderLine(
  fields: readonly (string | number | null | undefined)[],
  delimiter: string,
  isHeader: boolean,
): string {
  const line = fields.map((field) => renderField(field, delimiter, isHeader)).join(delimiter)
  // A lone empty field would be an empty line, which readers skip; quote it so the row survives.
  return line === '' && fields.length === 1 ? '""' : line
}

/**
 * Writes a CSV / TSV document, one `\n`-terminated line per row. Fields are quoted when they contain
 * the delimiter, a quote, CR or LF, or leading/trailing spaces. String values that a spreadsheet would
 * run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) get a leading `'`; numbers never do.
 */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number | null | undefined)[])[],
  delimiter: ',' | '\t' = ',',
): string {
  if (delimiter !== ',' && delimiter !== '\t') {
    throw new TypeError(`unsupported CSV delimiter ${JSON.stringify(delimiter)}`)
  }
  if (header.length === 0) throw new RangeError('a CSV file needs at least one header')
  const out = [renderLine(header, delimiter, true)]
  rows.forEach((row, i) => {
    if (row.length !== header.length) {
      throw new RangeError(`row ${i} has ${row.length} fields but the header has ${header.length}`)
    }
    out.push(renderLine(row, delimiter, false))
  })
  return out.join('\n') + '\n'
}
