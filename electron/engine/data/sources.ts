/**
 * Tables read from files as streams, as ML teams keep them: CSV / TSV, JSON Lines (one object per
 * line) and Parquet. The format comes from the file's extension: `.jsonl` / `.ndjson` are JSON
 * Lines, `.parquet` is Parquet, anything else is CSV or TSV (the delimiter is sniffed, as before).
 *
 * No reader holds the file: text arrives in pieces of a mebibyte, Parquet one row group at a time
 * and only the columns the import uses. Each feeds a TabularBuilder row by row.
 */
import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet'
import type { FileMetaData } from 'hyparquet'
import { LetheError } from '../../contract/errors'
import { CsvError, CsvReader } from '../../lib/csv'
import { decodeUtf8 } from '../../lib/text'
import { csvFeeder, csvSyntaxError } from './csv-dataset'
import { baseName, type Dataset } from './dataset'
import { hasIdxMagic, isGzip } from './idx'
import { TabularBuilder, cellText, parseNumber, type Cell, type TabularImportOptions } from './tabular'

export type TableFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet'

/** How a file is read, from its extension. */
export function readerOf(file: string): 'delimited' | 'jsonl' | 'parquet' {
  const extension = /\.([^.\\/]+)$/.exec(file)?.[1]?.toLowerCase()
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl'
  if (extension === 'parquet') return 'parquet'
  return 'delimited'
}

/** Bytes read at a time: large enough to be quick, small enough that memory does not notice. */
const PIECE = 1 << 20

function cannotRead(file: string, error: unknown): LetheError {
  return new LetheError('BAD_INPUT', `Cannot read ${file}: ${(error as Error).message}`)
}

/** The file's bytes in pieces; an unreadable file is BAD_INPUT naming it. */
async function* bytesOf(file: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(file, { highWaterMark: PIECE })
  try {
    for await (const chunk of stream) yield chunk as Buffer
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw cannotRead(file, error)
    throw error
  } finally {
    stream.destroy()
  }
}

/**
 * Refuses, from its first bytes, a binary file picked by mistake (IDX, gzip) or text that is
 * UTF-16, with the advice for each.
 */
function refuseBinary(head: Uint8Array, name: string): void {
  if (hasIdxMagic(head)) {
    throw new LetheError(
      'BAD_INPUT',
      `${name} is an IDX file, not CSV/TSV: an IDX images file needs its labels file (--labels).`,
      { file: name },
    )
  }
  if (isGzip(head)) {
    throw new LetheError(
      'BAD_INPUT',
      `${name} is gzip-compressed: an IDX images file needs its labels file (--labels), and a CSV/TSV file must be decompressed first.`,
      { file: name },
    )
  }
  if (head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31) {
    throw new LetheError(
      'BAD_INPUT',
      `${name} is a Parquet file: give it the .parquet extension to import it as one.`,
      { file: name },
    )
  }
  // The UTF-16 check looks at the first 4 KiB; cut before a character's first byte so that a
  // character split by the cut is not taken for bad UTF-8.
  let cut = Math.min(head.length, 4096)
  while (cut > 0 && cut < head.length && ((head[cut] as number) & 0xc0) === 0x80) cut--
  decodeUtf8(head.subarray(0, cut), name)
}

const LF = 0x0a
const CR = 0x0d

/**
 * Where the first byte that starts no UTF-8 character is, and on which line (LF, CRLF or a lone CR
 * ends one): the file is read again, in pieces, only once decoding failed.
 */
async function invalidUtf8(file: string, name: string): Promise<LetheError> {
  const strict = new TextDecoder('utf-8', { fatal: true })
  let line = 1
  let offset = 0
  let carry = new Uint8Array(0)
  const locate = (bytes: Uint8Array, final: boolean): number | undefined => {
    let i = 0
    while (i < bytes.length) {
      const lead = bytes[i] as number
      if (lead === LF) line++
      else if (lead === CR) {
        if (i + 1 >= bytes.length && !final) break
        if (bytes[i + 1] !== LF) line++
      }
      if (lead < 0x80) {
        i++
        continue
      }
      const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
      if (i + size > bytes.length && !final) break
      try {
        strict.decode(bytes.subarray(i, i + size))
      } catch {
        return i
      }
      i += size
    }
    carry = bytes.slice(i)
    offset += i
    return undefined
  }
  const found = async (): Promise<number | undefined> => {
    for await (const chunk of bytesOf(file)) {
      const bytes = new Uint8Array(carry.length + chunk.length)
      bytes.set(carry)
      bytes.set(chunk, carry.length)
      const at = locate(bytes, false)
      if (at !== undefined) return offset + at
    }
    const at = locate(carry, true)
    return at === undefined ? undefined : offset + at
  }
  const at = await found()
  const byte = `0x${(carry[0] ?? 0).toString(16).toUpperCase().padStart(2, '0')}`
  return new LetheError(
    'BAD_INPUT',
    at === undefined
      ? `${name} is not UTF-8; save it as UTF-8 and import it again.`
      : `${name}: line ${line} is not UTF-8 (byte ${byte} at offset ${at} starts no UTF-8 character; the file is probably Latin-1 or Windows-1252); save it as UTF-8 and import it again.`,
    { file: name, line, offset: at },
  )
}

/**
 * The file's text in pieces, decoded strictly as UTF-8 (a byte order mark is dropped), after the
 * binary-file checks. `hash` gets the bytes after any byte order mark: the SHA-256 of the decoded
 * text, which is how CSV content hashes have always been defined.
 */
async function* textOf(file: string, hash?: Hash): AsyncGenerator<string> {
  const name = baseName(file)
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let first = true
  try {
    for await (const chunk of bytesOf(file)) {
      let bytes = chunk
      if (first) {
        first = false
        refuseBinary(bytes, name)
        if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3)
      }
      hash?.update(bytes)
      yield decoder.decode(bytes, { stream: true })
    }
    yield decoder.decode()
  } catch (error) {
    if (
      error instanceof TypeError &&
      (error as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
    )
      throw await invalidUtf8(file, name)
    throw error
  }
}

/** The SHA-256 of the file's bytes, read in pieces. */
async function fileHash(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of bytesOf(file)) hash.update(chunk)
  return hash.digest('hex')
}

// ------------------------------------------------------------------------------------------------
// JSON Lines

/** A JSON value as a cell: numbers stay numbers, text stays text; objects and arrays are refused. */
function jsonCell(value: unknown): Cell | undefined {
  if (value === null) return null
  if (typeof value === 'number' || typeof value === 'string') return value
  if (typeof value === 'boolean') return String(value)
  return undefined
}

/**
 * Splits JSON Lines text into objects: the first object's keys are the header, and every later
 * object must have the same keys (in any order). Blank lines are skipped.
 */
class JsonLinesReader {
  private pending = ''
  private line = 0
  private names: string[] | undefined

  constructor(
    private readonly name: string,
    private readonly onHeader: (names: string[], line: number) => void,
    private readonly onRow: (cells: Cell[], line: number) => void,
  ) {}

  push(piece: string): void {
    this.pending += piece
    let start = 0
    for (;;) {
      const end = this.pending.indexOf('\n', start)
      if (end < 0) break
      this.object(this.pending.slice(start, end))
      start = end + 1
    }
    this.pending = this.pending.slice(start)
  }

  end(): void {
    if (this.pending !== '') this.object(this.pending)
    this.pending = ''
    if (this.names === undefined)
      throw this.bad(1, null, 'the file is empty; expected one JSON object per line')
  }

  private bad(line: number, key: string | null, reason: string): LetheError {
    const where = key === null ? `line ${line}` : `line ${line}, key ${JSON.stringify(key)}`
    return new LetheError('BAD_INPUT', `${this.name}: ${where}: ${reason}`, {
      file: this.name,
      line,
      column: null,
      columnName: key,
    })
  }

  private object(text: string): void {
    const line = ++this.line
    const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text
    if (trimmed.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(trimmed)
    } catch (error) {
      throw this.bad(
        line,
        null,
        `not valid JSON (${(error as Error).message}); each line must be one JSON object`,
      )
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`
      throw this.bad(line, null, `expected a JSON object, found ${kind}`)
    }
    const record = value as Record<string, unknown>
    if (this.names === undefined) {
      this.names = Object.keys(record)
      if (this.names.length === 0)
        throw this.bad(line, null, 'the first object has no keys; its keys are the columns')
      this.onHeader(this.names, line)
    }
    const names = this.names
    const cells = names.map((key) => {
      if (!Object.hasOwn(record, key))
        throw this.bad(
          line,
          key,
          `the key is missing; every object needs the keys of the first: ${names.join(', ')}`,
        )
      const cell = jsonCell(record[key])
      if (cell === undefined)
        throw this.bad(
          line,
          key,
          'the value is an object or an array; a column holds numbers, text, true/false or null',
        )
      return cell
    })
    if (Object.keys(record).length !== names.length) {
      const extra = Object.keys(record).find((key) => !names.includes(key)) ?? ''
      throw this.bad(
        line,
        extra,
        `the key is not in the first object, whose keys are the columns: ${names.join(', ')}`,
      )
    }
    this.onRow(cells, line)
  }
}

// ------------------------------------------------------------------------------------------------
// Parquet

/** A Parquet value as a cell. */
function parquetCell(value: unknown): Cell | undefined {
  if (value === null || value === undefined) return null
  if (typeof value === 'number' || typeof value === 'string') return value
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value)
  if (typeof value === 'boolean') return String(value)
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return new TextDecoder().decode(value)
  return undefined
}

interface ParquetFile {
  name: string
  file: Awaited<ReturnType<typeof asyncBufferFromFile>>
  metadata: FileMetaData
  names: string[]
  rows: number
}

async function openParquet(path: string): Promise<ParquetFile> {
  const name = baseName(path)
  let file
  try {
    file = await asyncBufferFromFile(path)
  } catch (error) {
    throw cannotRead(path, error)
  }
  let metadata: FileMetaData
  try {
    metadata = await parquetMetadataAsync(file)
  } catch (error) {
    throw new LetheError('BAD_INPUT', `${name} is not a readable Parquet file: ${(error as Error).message}`, {
      file: name,
    })
  }
  const names = parquetSchema(metadata).children.map((child) => child.element.name)
  return { name, file, metadata, names, rows: Number(metadata.num_rows) }
}

/**
 * Reads rows `[start, end)` of the given columns, one row group at a time, calling `onRow` with a
 * cell for each of `names` (null for the columns not read) and the row's 1-based number.
 */
async function readParquetRows(
  parquet: ParquetFile,
  columns: string[],
  onRow: (cells: Cell[], row: number) => void,
  end = parquet.rows,
): Promise<void> {
  const { name, file, metadata, names } = parquet
  const position = columns.map((column) => names.indexOf(column))
  const cells: Cell[] = names.map(() => null)
  let groupStart = 0
  for (const group of metadata.row_groups) {
    const groupEnd = Math.min(groupStart + Number(group.num_rows), end)
    if (groupStart >= groupEnd) break
    // The group's columns as Parquet decodes them (typed arrays for numbers), in pages.
    const pages = new Map<string, { start: number; data: ArrayLike<unknown> }[]>()
    await parquetRead({
      file,
      metadata,
      columns,
      rowStart: groupStart,
      rowEnd: groupEnd,
      onChunk: ({ columnName, columnData, rowStart }) => {
        const list = pages.get(columnName) ?? []
        list.push({ start: rowStart, data: columnData })
        pages.set(columnName, list)
      },
    })
    const cursors = columns.map((column) => ({
      pages: (pages.get(column) ?? []).sort((a, b) => a.start - b.start),
      page: 0,
    }))
    for (let index = groupStart; index < groupEnd; index++) {
      const row = index + 1
      cursors.forEach((cursor, k) => {
        let page = cursor.pages[cursor.page]
        while (page && index >= page.start + page.data.length) page = cursor.pages[++cursor.page]
        const col = position[k] as number
        const cell = parquetCell(page && index >= page.start ? page.data[index - page.start] : null)
        if (cell === undefined) {
          throw new LetheError(
            'BAD_INPUT',
            `${name}: row ${row}, column ${col + 1} (${columns[k]}): the value is nested (a struct, list or map); a column holds numbers, text, true/false or null`,
            { file: name, line: row, column: col + 1, columnName: columns[k] },
          )
        }
        cells[col] = cell
      })
      onRow(cells, row)
    }
    groupStart = groupEnd
  }
}

// ------------------------------------------------------------------------------------------------
// Import and header

/** Imports a table file as a stream: CSV / TSV, JSON Lines or Parquet, by its extension. */
export async function importTableFile(path: string, options: TabularImportOptions): Promise<Dataset> {
  const name = baseName(path)
  const reader = readerOf(path)
  if (reader === 'parquet') {
    const parquet = await openParquet(path)
    const builder = new TabularBuilder('parquet', options)
    builder.header(parquet.names, { at: (row) => `row ${row}`, header: 'the schema', headerLine: null })
    await readParquetRows(parquet, builder.neededColumns, (cells, row) => builder.row(cells, row))
    return builder.finish(await fileHash(path))
  }
  const hash = createHash('sha256')
  if (reader === 'jsonl') {
    let builder: TabularBuilder | undefined
    const lines = new JsonLinesReader(
      name,
      (names, line) => {
        builder = new TabularBuilder('jsonl', options)
        builder.header(names, { at: (l) => `line ${l}`, header: `line ${line}`, headerLine: line })
      },
      (cells, line) => builder?.row(cells, line),
    )
    for await (const piece of textOf(path, hash)) lines.push(piece)
    lines.end()
    return (builder as TabularBuilder).finish(hash.digest('hex'))
  }
  const feeder = csvFeeder(path, (format) => new TabularBuilder(format, options))
  for await (const piece of textOf(path, hash)) feeder.push(piece)
  feeder.end()
  return feeder.builder().finish(hash.digest('hex'))
}

export interface TableColumns {
  format: TableFormat
  columns: { name: string; sample: string[]; numeric: boolean }[]
  /** Data rows, where the format says without reading them all (Parquet). */
  rows?: number
}

/** Rows read for a column's sample. */
export const SAMPLE_ROWS = 5

/** Longest sample value shown: enough to recognise a column by, without carrying free text around. */
const SAMPLE_CHARS = 40
const shorten = (text: string) => (text.length > SAMPLE_CHARS ? `${text.slice(0, SAMPLE_CHARS - 1)}…` : text)

/** Thrown by a row callback once the sample is full, to stop reading. */
class Enough extends Error {}

/**
 * A table's header and its first rows, for choosing columns: only the start of a text file is read,
 * and of a Parquet file its footer and first rows.
 */
export async function readTableColumns(path: string, sampleRows = SAMPLE_ROWS): Promise<TableColumns> {
  let names: string[] = []
  const samples: Cell[][] = []
  const take = (cells: readonly Cell[]) => {
    samples.push([...cells])
    if (samples.length >= sampleRows) throw new Enough()
  }
  const collect = async (feed: () => Promise<void>) => {
    try {
      await feed()
    } catch (error) {
      if (!(error instanceof Enough)) throw error
    }
  }
  let format: TableFormat
  let rows: number | undefined
  const reader = readerOf(path)
  if (reader === 'parquet') {
    const parquet = await openParquet(path)
    names = parquet.names
    format = 'parquet'
    rows = parquet.rows
    await collect(() => readParquetRows(parquet, names, take, Math.min(sampleRows, parquet.rows)))
  } else if (reader === 'jsonl') {
    format = 'jsonl'
    const lines = new JsonLinesReader(baseName(path), (header) => (names = header), take)
    await collect(async () => {
      for await (const piece of textOf(path)) lines.push(piece)
      lines.end()
    })
  } else {
    const csv = new CsvReader({ onHeader: (header) => (names = header), onRow: take })
    await collect(async () => {
      try {
        for await (const piece of textOf(path)) csv.push(piece)
        csv.end()
      } catch (error) {
        throw error instanceof CsvError ? csvSyntaxError(path, error) : error
      }
    })
    format = csv.delimiter === '\t' ? 'tsv' : 'csv'
  }
  return {
    format,
    columns: names.map((name, col) => {
      const sample = samples.map((cells) => shorten(cellText(cells[col] ?? null)))
      const filled = samples.map((cells) => cells[col] ?? null).filter((cell) => cellText(cell) !== '')
      const numeric =
        filled.length > 0 &&
        filled.every((cell) => (typeof cell === 'number' ? true : parseNumber(cellText(cell)) !== undefined))
      return { name, sample, numeric }
    }),
    ...(rows === undefined ? {} : { rows }),
  }
}
