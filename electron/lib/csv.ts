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
  /**
   * Most characters the streaming reader holds without a line break outside quotes (default 64 MiB),
   * so that a stray quote, which makes the rest of the file one field, cannot make it hold the file.
   */
  maxLine?: number
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
export function sniffDelimiter(text: string): number {
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

/**
 * Splits `text`, which starts at the beginning of physical line `firstLine`, into records, calling
 * `onRecord` for each (blank lines included, flagged). Returns the line after the text's last break.
 */
function readRecords(
  text: string,
  delimiter: number,
  onRecord: (record: RawRecord) => void,
  firstLine = 1,
): number {
  const n = text.length
  let i = 0
  let line = firstLine
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
  return line
}

/** Where the first line break outside quotes is, past any leading blank lines: the header line is complete. */
function hasCompleteFirstLine(text: string): boolean {
  let i = 0
  while (i < text.length && (text.charCodeAt(i) === LF || text.charCodeAt(i) === CR)) i++
  let quoted = false
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) quoted = !quoted
    else if (!quoted && (c === LF || c === CR)) return true
  }
  return false
}

/** Default of `CsvOptions.maxLine`. */
const MAX_LINE = 64 << 20

export interface CsvReaderEvents {
  /** The header names (trimmed, unique, non-empty) and the physical line they are on. */
  onHeader: (header: string[], line: number) => void
  /** A data row with exactly as many fields as the header, and the physical line it starts on. */
  onRow: (fields: string[], line: number) => void
}

/**
 * The strict CSV / TSV reader fed in pieces, so a file is read as a stream and never held whole.
 * Text is parsed up to the last line break outside quotes; the rest waits for the next piece. Every
 * error is the one `parseCsv` gives for the whole text, with the same line and column.
 */
export class CsvReader {
  private pending = ''
  /** How far `pending` was scanned for line breaks, and whether that point is inside quotes. */
  private scanned = 0
  private quoted = false
  private line = 1
  private started = false
  private code: number | undefined
  private header: string[] | undefined
  private readonly maxLine: number

  constructor(
    private readonly events: CsvReaderEvents,
    options: CsvOptions = {},
  ) {
    if (options.delimiter !== undefined && !DELIMITERS.includes(options.delimiter)) {
      throw new TypeError(`unsupported CSV delimiter ${JSON.stringify(options.delimiter)}`)
    }
    this.code = options.delimiter?.charCodeAt(0)
    this.maxLine = options.maxLine ?? MAX_LINE
  }

  /** The delimiter in use, once the header line has been seen. */
  get delimiter(): CsvDelimiter | undefined {
    return this.code === undefined ? undefined : (String.fromCharCode(this.code) as CsvDelimiter)
  }

  /** Characters held back, waiting for the rest of their line. */
  get buffered(): number {
    return this.pending.length
  }

  push(piece: string): void {
    if (!this.started) {
      this.started = true
      if (piece.charCodeAt(0) === 0xfeff) piece = piece.slice(1)
    }
    this.pending += piece
    // The delimiter is sniffed from the whole header line, so nothing is parsed before it is complete.
    if (this.code === undefined) {
      if (!hasCompleteFirstLine(this.pending)) return
      this.code = sniffDelimiter(this.pending)
    }
    const boundary = this.lastBoundary()
    if (boundary > 0) this.parse(boundary)
    else if (this.pending.length > this.maxLine) this.parseOverlong()
  }

  /**
   * No line has ended for `maxLine` characters: a stray quote made the rest of the file one
   * field. Parsing what is held finds that quote (and says where it is) rather than holding the file.
   */
  private parseOverlong(): void {
    try {
      this.parse(this.pending.length)
    } catch (error) {
      if (error instanceof CsvError && error.reason.startsWith('unterminated quoted field')) {
        throw new CsvError(
          `a quoted field runs past ${this.maxLine} characters (the quote opened here is not closed within them)`,
          error.line,
          error.column,
        )
      }
      throw error
    }
    throw new CsvError(`a line runs past ${this.maxLine} characters`, this.line, 1)
  }

  end(): void {
    this.code ??= sniffDelimiter(this.pending)
    this.parse(this.pending.length)
    if (this.header === undefined) throw new CsvError('the file is empty; expected a header line', 1, 1)
  }

  /** End of the last complete line outside quotes in `pending` (0 if none), scanning only new text. */
  private lastBoundary(): number {
    const text = this.pending
    let boundary = 0
    let i = this.scanned
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === QUOTE) this.quoted = !this.quoted
      else if (this.quoted) continue
      else if (c === LF) boundary = i + 1
      else if (c === CR) {
        // A CR at the very end may be the first half of CRLF: wait for the next piece.
        if (i + 1 >= text.length) break
        if (text.charCodeAt(i + 1) !== LF) boundary = i + 1
      }
    }
    this.scanned = i
    return boundary
  }

  private parse(end: number): void {
    const text = this.pending.slice(0, end)
    this.pending = this.pending.slice(end)
    this.scanned -= end
    if (this.scanned < 0) this.scanned = 0
    this.line = readRecords(text, this.code ?? COMMA, (record) => this.record(text, record), this.line)
  }

  private record(text: string, record: RawRecord): void {
    if (record.blank) return
    if (this.header === undefined) {
      const errorAt = (index: number, message: string): CsvError => {
        const { line, column } = positionIn(text, record, index)
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
      this.header = names
      this.events.onHeader(names, record.line)
      return
    }
    const expected = this.header.length
    const actual = record.fields.length
    if (actual !== expected) {
      // Point at the first extra field, or just past the row's last character, where the first
      // missing field should begin.
      const at = actual > expected ? (record.starts[expected] ?? record.end) : record.end
      const { line, column } = positionIn(text, record, at)
      const where = line === record.line ? '' : ` (the row starts on line ${record.line})`
      throw new CsvError(
        `expected ${expected} field${expected === 1 ? '' : 's'} but found ${actual}${where}`,
        line,
        column,
      )
    }
    this.events.onRow(record.fields, record.line)
  }
}

/** Parses CSV / TSV text (RFC 4180, strict). Throws `CsvError` with an exact position on bad input. */
export function parseCsv(text: string, options: CsvOptions = {}): CsvTable {
  let header: string[] = []
  const rows: string[][] = []
  const lines: number[] = []
  const reader = new CsvReader(
    {
      onHeader: (names) => (header = names),
      onRow: (fields, line) => {
        rows.push(fields)
        lines.push(line)
      },
    },
    options,
  )
  reader.push(text)
  reader.end()
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
