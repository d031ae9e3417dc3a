/**
 * Imports a tabular dataset from CSV / TSV text: one row per record, a subject-id column, a label
 * column, and feature columns that are standardised (numeric) or one-hot encoded (categorical).
 *
 * Every error is a BAD_INPUT LetheError whose message and `details` ({ line, column, columnName })
 * point at the spot to fix in an editor. `line` is the 1-based physical line. `column` is the 1-based
 * field number where a field is at fault (its header name follows in parentheses); for CSV syntax
 * errors, which happen before fields exist, it is the character position the parser reports and
 * `columnName` is null. Errors about the file as a whole point at the header line with `column` null.
 */
import { sha256Hex } from '../../lib/digest'
import { LetheError } from '../../contract/errors'
import { CsvError, parseCsv } from '../../lib/csv'
import { decodeUtf8 } from '../../lib/text'
import {
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
  MIN_ROWS,
  baseName,
  datasetId,
  datasetName,
  hashDatasetFiles,
  splitRows,
  type Dataset,
  type DatasetManifest,
} from './dataset'
import { hasIdxMagic, isGzip } from './idx'

export interface ColumnMapping {
  subjectColumn: string
  labelColumn: string
  /**
   * Feature columns to read as numbers. Columns in neither list are inferred: numeric when every value is
   * a number, categorical when none is; a mix is refused rather than guessed.
   */
  numeric?: string[]
  categorical?: string[]
  /** Columns that are not features (free text, other ids). */
  ignore?: string[]
}

export interface CsvImportOptions {
  /** The file's name or path; only its base name is kept. */
  file: string
  /** Display name; defaults to the file's base name without its extension. */
  name?: string
  mapping: ColumnMapping
  /** The feature columns are the pixels of images of this [height, width, channels], row-major. */
  imageShape?: [number, number, number]
  testFraction?: number
  seed?: number
  createdAt?: string
}

/** Strict decimal number: no hex, no empty string, no 'Infinity' (all of which `Number()` accepts). */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

function parseNumber(value: string): number | undefined {
  if (!NUMBER.test(value)) return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

/** Physical line of the header: parseCsv skips empty lines before it. */
function headerLine(text: string): number {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let line = 1
  for (;;) {
    const c = text[i]
    if (c === '\r') i += text[i + 1] === '\n' ? 2 : 1
    else if (c === '\n') i += 1
    else return line
    line++
  }
}

/** Whether parseCsv will sniff a tab: the first non-blank line has a tab outside quotes. */
function isTabSeparated(text: string): boolean {
  let quoted = false
  let started = false
  for (const c of text) {
    if (!started && (c === '\r' || c === '\n')) continue
    started = true
    if (c === '"') quoted = !quoted
    else if (quoted) continue
    else if (c === '\r' || c === '\n') return false
    else if (c === '\t') return true
  }
  return false
}

/** The image shape a CSV's features are declared to have, once it is checked against the columns. */
function imageShapeOf(
  shape: [number, number, number],
  numericColumns: number,
  categorical: { name: string }[],
): number[] {
  const [height, width, channels] = shape
  if (categorical.length > 0)
    throw new LetheError(
      'BAD_INPUT',
      `Image pixels must all be numbers, but ${categorical.map((c) => JSON.stringify(c.name)).join(', ')} ${categorical.length === 1 ? 'is not' : 'are not'}.`,
    )
  if (height * width * channels !== numericColumns)
    throw new LetheError(
      'BAD_INPUT',
      `An image of ${height}×${width}×${channels} has ${height * width * channels} pixels, but the file has ${numericColumns} feature columns.`,
    )
  return [height, width, channels]
}

/**
 * The text of a file given as CSV/TSV: refused when it is not UTF-8, and with a word of advice when
 * it is one of the binary files people pick by mistake.
 */
export function csvText(bytes: Uint8Array, file: string): string {
  const name = baseName(file)
  if (hasIdxMagic(bytes)) {
    throw new LetheError(
      'BAD_INPUT',
      `${name} is an IDX file, not CSV/TSV: an IDX images file needs its labels file (--labels).`,
      { file: name },
    )
  }
  if (isGzip(bytes)) {
    throw new LetheError(
      'BAD_INPUT',
      `${name} is gzip-compressed: an IDX images file needs its labels file (--labels), and a CSV/TSV file must be decompressed first.`,
      { file: name },
    )
  }
  return decodeUtf8(bytes, name)
}

export function importCsvDataset(text: string, options: CsvImportOptions): Dataset {
  const file = baseName(options.file)
  const { mapping } = options

  const bad = (
    where: string,
    reason: string,
    line: number,
    column: number | null,
    columnName: string | null,
  ) => new LetheError('BAD_INPUT', `${file}: ${where}: ${reason}`, { file, line, column, columnName })

  let table
  try {
    table = parseCsv(text)
  } catch (error) {
    if (!(error instanceof CsvError)) throw error
    throw bad(`line ${error.line}, column ${error.column}`, error.reason, error.line, error.column, null)
  }
  const { header, rows, lines } = table
  const headerAt = headerLine(text)

  // Errors about one field: "line L, column C (name): reason".
  const badField = (row: number, col: number, reason: string) => {
    const line = lines[row] ?? headerAt
    const name = header[col] ?? ''
    return bad(`line ${line}, column ${col + 1} (${name})`, reason, line, col + 1, name)
  }
  const badHeader = (col: number, reason: string) => {
    const name = header[col] ?? ''
    return bad(`line ${headerAt}, column ${col + 1} (${name})`, reason, headerAt, col + 1, name)
  }

  // --- Resolve the mapping against the header.
  const columnOf = (name: string, role: string): number => {
    const col = header.indexOf(name)
    if (col < 0) {
      throw bad(
        `line ${headerAt}`,
        `the ${role} column ${JSON.stringify(name)} is not in the header; the columns are: ${header.join(', ')}`,
        headerAt,
        null,
        name,
      )
    }
    return col
  }
  const subjectCol = columnOf(mapping.subjectColumn, 'subject')
  const labelCol = columnOf(mapping.labelColumn, 'label')
  if (subjectCol === labelCol)
    throw badHeader(labelCol, 'the subject and the label must be different columns')
  const role = new Map<number, 'subject' | 'label' | 'numeric' | 'categorical' | 'ignored'>([
    [subjectCol, 'subject'],
    [labelCol, 'label'],
  ])
  for (const [kind, names] of [
    ['numeric', mapping.numeric ?? []],
    ['categorical', mapping.categorical ?? []],
    ['ignored', mapping.ignore ?? []],
  ] as const) {
    for (const name of names) {
      const col = columnOf(name, kind)
      const earlier = role.get(col)
      if (earlier !== undefined && earlier !== kind) {
        throw badHeader(col, `the mapping makes this column both ${earlier} and ${kind}`)
      }
      role.set(col, kind)
    }
  }
  const featureCols = header
    .map((_, col) => col)
    .filter((col) => !['subject', 'label', 'ignored'].includes(role.get(col) ?? ''))
  if (featureCols.length === 0) {
    throw bad(
      `line ${headerAt}`,
      'no feature columns are left after the subject, label and ignored ones',
      headerAt,
      null,
      null,
    )
  }
  if (rows.length < MIN_ROWS) {
    throw bad(
      `line ${headerAt}`,
      `the file has ${rows.length} data row${rows.length === 1 ? '' : 's'}; a dataset needs at least ${MIN_ROWS}`,
      headerAt,
      null,
      null,
    )
  }

  // Values are trimmed: spaces around a field are editing noise, and a subject id with a stray
  // space must still match the id in an erasure request.
  const value = (row: number, col: number): string => (rows[row]?.[col] ?? '').trim()

  // --- Subjects and labels.
  const subjects: string[] = []
  const labelNames: string[] = []
  for (let row = 0; row < rows.length; row++) {
    const subject = value(row, subjectCol)
    if (subject === '') throw badField(row, subjectCol, 'the subject id is empty; every row needs one')
    const label = value(row, labelCol)
    if (label === '') throw badField(row, labelCol, 'the label is empty; every row needs one')
    subjects.push(subject)
    labelNames.push(label)
  }
  const classes = [...new Set(labelNames)].sort()
  if (classes.length < 2) {
    throw badHeader(
      labelCol,
      `the label column has ${classes.length} class (${JSON.stringify(classes[0])}); a classifier needs at least 2`,
    )
  }
  const classId = new Map(classes.map((name, id) => [name, id]))
  const labels = Int32Array.from(labelNames, (name) => classId.get(name) ?? 0)
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION
  const seed = options.seed ?? DEFAULT_SPLIT_SEED
  const { train, test } = splitRows(labels, testFraction, seed)

  // --- Features: numeric columns first, then one-hot blocks, each group in header order.
  const numeric: { col: number; values: Float64Array }[] = []
  const categorical: { col: number; values: string[] }[] = []
  for (const col of featureCols) {
    const declared = role.get(col)
    if (declared === 'categorical') {
      categorical.push({ col, values: rows.map((_, row) => value(row, col)) })
      continue
    }
    const values = new Float64Array(rows.length)
    let numbers = 0
    let firstOther = -1
    for (let row = 0; row < rows.length; row++) {
      const n = parseNumber(value(row, col))
      if (n !== undefined) {
        values[row] = n
        numbers++
      } else if (firstOther < 0) {
        firstOther = row
        if (declared === 'numeric') break
      }
    }
    if (firstOther >= 0 && (declared === 'numeric' || numbers > 0)) {
      const raw = value(firstOther, col)
      const problem = raw === '' ? 'the value is empty' : `${JSON.stringify(raw)} is not a finite number`
      // An inferred column is numeric only when every value is a number; a few stray cells (a "NaN",
      // an empty one) must not silently turn it into a one-hot block of every value it holds.
      throw badField(
        firstOther,
        col,
        declared === 'numeric'
          ? `${problem}, but the column is numeric${raw === '' ? ' and missing values are not supported' : ''}`
          : `${problem}, but ${numbers} of the column's ${rows.length} values are; missing values are not supported, so fix the cell, or if the column really is categorical, declare it so (--categorical ${JSON.stringify(header[col] ?? '')})`,
      )
    }
    if (firstOther < 0) numeric.push({ col, values })
    else categorical.push({ col, values: rows.map((_, row) => value(row, col)) })
  }

  // Standardise with training-split statistics only: test rows must not leak into the encoding.
  const numericEncoding = numeric.map(({ col, values }) => {
    let sum = 0
    for (const row of train) sum += values[row] ?? 0
    const mean = sum / train.length
    let squares = 0
    for (const row of train) squares += ((values[row] ?? 0) - mean) ** 2
    const std = Math.sqrt(squares / train.length)
    // A constant column carries no information; dividing by 1 keeps it at 0 instead of NaN.
    return { name: header[col] ?? '', mean, std: std > 0 && Number.isFinite(std) ? std : 1 }
  })
  // Categories come from all rows (not only training) so that every test value has a slot.
  const categoricalEncoding = categorical.map(({ col, values }) => ({
    name: header[col] ?? '',
    categories: [...new Set(values)].sort(),
  }))

  const featureDim = numeric.length + categoricalEncoding.reduce((n, c) => n + c.categories.length, 0)
  const shape = options.imageShape
    ? imageShapeOf(options.imageShape, numeric.length, categoricalEncoding)
    : null
  const features = new Float32Array(rows.length * featureDim)
  numeric.forEach(({ values }, k) => {
    const { mean, std } = numericEncoding[k] ?? { mean: 0, std: 1 }
    for (let row = 0; row < rows.length; row++)
      features[row * featureDim + k] = ((values[row] ?? 0) - mean) / std
  })
  let offset = numeric.length
  categorical.forEach(({ values }, k) => {
    const categories = categoricalEncoding[k]?.categories ?? []
    const slot = new Map(categories.map((name, i) => [name, i]))
    for (let row = 0; row < rows.length; row++) {
      features[row * featureDim + offset + (slot.get(values[row] ?? '') ?? 0)] = 1
    }
    offset += categories.length
  })

  // The hash is of the UTF-8 text; for a file read as UTF-8 that is the file's own bytes.
  const contentHash = sha256Hex(new TextEncoder().encode(text))
  const manifest: DatasetManifest = {
    id: datasetId(contentHash),
    name: datasetName(options.name ?? file.replace(/\.[^.]*$/, '')),
    kind: 'tabular',
    source: { file, format: isTabSeparated(text) ? 'tsv' : 'csv' },
    contentHash,
    rows: rows.length,
    featureDim,
    shape,
    classes,
    encoding: { numeric: numericEncoding, categorical: categoricalEncoding },
    columns: { subject: mapping.subjectColumn, label: mapping.labelColumn },
    split: { seed, testFraction, train: train.length, test: test.length },
    subjects: new Set(subjects).size,
    filesSha256: hashDatasetFiles(features, labels, subjects),
    createdAt: options.createdAt ?? new Date().toISOString(),
  }
  return { manifest, features, labels, subjects, train, test }
}
