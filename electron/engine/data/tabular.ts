/**
 * Turns a table, fed one row at a time, into an encoded dataset: a subject-id column, a label
 * column, and feature columns that are standardised (numeric) or one-hot encoded (categorical).
 *
 * Rows arrive from any reader (CSV/TSV text, JSON Lines, Parquet) and are not kept: each feature
 * column keeps its numbers (Float64, so standardisation matches to the bit whatever the source) or
 * the codes of its categories, so memory follows the encoded data, not the file.
 *
 * Every error is a BAD_INPUT LetheError whose message and `details` ({ line, column, columnName })
 * point at the spot to fix. `line` is the 1-based physical line (for Parquet, the 1-based row).
 * `column` is the 1-based column number where a field is at fault (its name follows in parentheses).
 * Errors about the file as a whole point at the header with `column` null. A row-level error is
 * raised once the whole file is read, in the same order of precedence whatever the format: too few
 * rows, then an empty subject or label, then a single class, then the feature columns in order.
 */
import { LetheError } from '../../contract/errors'
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

export type TabularFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet'

/** A cell as a reader gives it: text (trimmed here), a number, or null for a missing value. */
export type Cell = string | number | null

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
  /** The feature columns to use; every other column but the subject and the label is left out. Default: all. */
  features?: string[]
}

export interface TabularImportOptions {
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

export function parseNumber(value: string): number | undefined {
  if (!NUMBER.test(value)) return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

/** A cell as text, the way it is shown and compared: trimmed; a missing value is empty. */
export function cellText(cell: Cell): string {
  if (cell === null) return ''
  return typeof cell === 'number' ? String(cell) : cell.trim()
}

/** A cell's number, if it is one. */
function cellNumber(cell: Cell): number | undefined {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : undefined
  return cell === null ? undefined : parseNumber(cell.trim())
}

/** A Float64Array / Int32Array that grows by doubling, for columns of unknown length. */
class Growable<T extends Float64Array | Int32Array> {
  length = 0
  constructor(
    public data: T,
    private readonly make: (size: number) => T,
  ) {}
  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(Math.max(16, this.data.length * 2))
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = value
  }
  /** The values, without the spare capacity. */
  values(): T {
    return this.data.subarray(0, this.length) as T
  }
}
const float64s = () => new Growable(new Float64Array(1024), (n) => new Float64Array(n))
const int32s = () => new Growable(new Int32Array(1024), (n) => new Int32Array(n))

/** Distinct strings as small integer codes, in order of first appearance. */
class Codes {
  readonly ids = int32s()
  readonly names: string[] = []
  private readonly index = new Map<string, number>()
  push(name: string): void {
    let id = this.index.get(name)
    if (id === undefined) {
      id = this.names.length
      this.names.push(name)
      this.index.set(name, id)
    }
    this.ids.push(id)
  }
  /** Sorted names, and each code's position among them. */
  sorted(): { names: string[]; slot: Int32Array } {
    const names = [...this.names].sort()
    const position = new Map(names.map((name, i) => [name, i]))
    return { names, slot: Int32Array.from(this.names, (name) => position.get(name) ?? 0) }
  }
}

type Role = 'subject' | 'label' | 'numeric' | 'categorical' | 'ignored'

/** The first value of a column that is not a number: where it is and what it says. */
interface Other {
  line: number
  raw: string
}

interface FeatureColumn {
  col: number
  declared: 'numeric' | 'categorical' | undefined
  /** Until a row decides it, an undeclared column could be either. */
  mode: 'numeric' | 'categorical' | 'undecided'
  numbers: Growable<Float64Array>
  categories: Codes
  numberCount: number
  firstOther: Other | null
  /** Refused: it stops storing values, but keeps counting numbers for the message. */
  failed: boolean
}

/** Where things are in the source: lines of text, or rows of a Parquet file. */
export interface Places {
  /** "line 12" or "row 11". */
  at: (line: number) => string
  /** Where the header is: "line 1", or "the schema". */
  header: string
  /** Null where the header is no line (Parquet's schema). */
  headerLine: number | null
}

/**
 * Builds a dataset from a header and rows. Call `header` once, `row` for each data row, then `finish`
 * with the source's content hash.
 */
export class TabularBuilder {
  private readonly file: string
  private names: string[] = []
  private places: Places = { at: (line) => `line ${line}`, header: 'line 1', headerLine: 1 }
  private subjectCol = -1
  private labelCol = -1
  private features: FeatureColumn[] = []
  private rows = 0
  private readonly subjects: string[] = []
  private readonly labels = new Codes()
  /** The first row with an empty subject id or label: reported after the row count is known. */
  private firstEmpty: LetheError | null = null

  constructor(
    private readonly format: TabularFormat,
    private readonly options: TabularImportOptions,
  ) {
    this.file = baseName(options.file)
  }

  /** The columns a reader must supply: the others may be left null. */
  get neededColumns(): string[] {
    return [this.subjectCol, this.labelCol, ...this.features.map((f) => f.col)].map(
      (col) => this.names[col] ?? '',
    )
  }

  private bad(
    where: string,
    reason: string,
    line: number | null,
    column: number | null,
    columnName: string | null,
  ) {
    const { file } = this
    return new LetheError('BAD_INPUT', `${file}: ${where}: ${reason}`, { file, line, column, columnName })
  }

  private badField(line: number, col: number, reason: string): LetheError {
    const name = this.names[col] ?? ''
    return this.bad(`${this.places.at(line)}, column ${col + 1} (${name})`, reason, line, col + 1, name)
  }

  private badHeader(col: number, reason: string): LetheError {
    const { header, headerLine } = this.places
    const name = this.names[col] ?? ''
    return this.bad(`${header}, column ${col + 1} (${name})`, reason, headerLine, col + 1, name)
  }

  private badFile(reason: string, columnName: string | null = null): LetheError {
    return this.bad(this.places.header, reason, this.places.headerLine, null, columnName)
  }

  /** Resolves the mapping against the header names; refuses a mapping that does not fit them. */
  header(names: string[], places: Places): void {
    this.names = names
    this.places = places
    const { mapping } = this.options
    if (!mapping.subjectColumn || !mapping.labelColumn) {
      throw new LetheError(
        'BAD_INPUT',
        `A table needs its subject-id column and its label column; the columns of ${this.file} are: ${names.join(', ')}`,
        { file: this.file, columns: names },
      )
    }
    const columnOf = (name: string, role: string): number => {
      const col = names.indexOf(name)
      if (col < 0) {
        throw this.badFile(
          `the ${role} column ${JSON.stringify(name)} is not in the header; the columns are: ${names.join(', ')}`,
          name,
        )
      }
      return col
    }
    this.subjectCol = columnOf(mapping.subjectColumn, 'subject')
    this.labelCol = columnOf(mapping.labelColumn, 'label')
    if (this.subjectCol === this.labelCol)
      throw this.badHeader(this.labelCol, 'the subject and the label must be different columns')
    const role = new Map<number, Role>([
      [this.subjectCol, 'subject'],
      [this.labelCol, 'label'],
    ])
    for (const [kind, list] of [
      ['numeric', mapping.numeric ?? []],
      ['categorical', mapping.categorical ?? []],
      ['ignored', mapping.ignore ?? []],
    ] as const) {
      for (const name of list) {
        const col = columnOf(name, kind)
        const earlier = role.get(col)
        if (earlier !== undefined && earlier !== kind) {
          throw this.badHeader(col, `the mapping makes this column both ${earlier} and ${kind}`)
        }
        role.set(col, kind)
      }
    }
    if (mapping.features) {
      const chosen = new Set(mapping.features.map((name) => columnOf(name, 'feature')))
      for (const col of chosen) {
        const earlier = role.get(col)
        if (earlier === 'subject' || earlier === 'label' || earlier === 'ignored')
          throw this.badHeader(col, `the mapping makes this column both ${earlier} and a feature`)
      }
      names.forEach((_, col) => {
        if (chosen.has(col)) return
        const earlier = role.get(col)
        if (earlier === 'numeric' || earlier === 'categorical')
          throw this.badHeader(col, `the column is declared ${earlier} but is not among the chosen features`)
        if (earlier === undefined) role.set(col, 'ignored')
      })
    }
    this.features = names
      .map((_, col) => col)
      .filter((col) => !['subject', 'label', 'ignored'].includes(role.get(col) ?? ''))
      .map((col) => {
        const declared = role.get(col) as 'numeric' | 'categorical' | undefined
        return {
          col,
          declared,
          mode: declared ?? 'undecided',
          numbers: float64s(),
          categories: new Codes(),
          numberCount: 0,
          firstOther: null,
          failed: false,
        }
      })
    if (this.features.length === 0)
      throw this.badFile('no feature columns are left after the subject, label and ignored ones')
  }

  /** One data row: `cells[col]` for each header column (the unneeded ones may be null). */
  row(cells: readonly Cell[], line: number): void {
    const subject = cellText(cells[this.subjectCol] ?? null)
    const label = cellText(cells[this.labelCol] ?? null)
    if (this.firstEmpty === null) {
      // Values are trimmed: spaces around a field are editing noise, and a subject id with a stray
      // space must still match the id in an erasure request.
      if (subject === '')
        this.firstEmpty = this.badField(line, this.subjectCol, 'the subject id is empty; every row needs one')
      else if (label === '')
        this.firstEmpty = this.badField(line, this.labelCol, 'the label is empty; every row needs one')
    }
    this.subjects.push(subject)
    this.labels.push(label)
    for (const feature of this.features) this.feature(feature, cells[feature.col] ?? null, line)
    this.rows++
  }

  private feature(f: FeatureColumn, cell: Cell, line: number): void {
    if (f.declared === 'categorical') {
      f.categories.push(cellText(cell))
      return
    }
    const n = cellNumber(cell)
    if (n !== undefined) f.numberCount++
    else if (f.firstOther === null) f.firstOther = { line, raw: cellText(cell) }
    if (f.failed) return
    if (f.mode === 'undecided') f.mode = n === undefined ? 'categorical' : 'numeric'
    if (f.mode === 'numeric') {
      if (n === undefined) f.failed = true
      else f.numbers.push(n)
    } else {
      // An inferred categorical column holds no numbers at all; one is a mix, refused at the end.
      if (n !== undefined) f.failed = true
      else f.categories.push(cellText(cell))
    }
  }

  /** The dataset, once every row was given; `contentHash` is the source's SHA-256. */
  finish(contentHash: string): Dataset {
    const { options, rows } = this
    if (rows < MIN_ROWS) {
      throw this.badFile(
        `the file has ${rows} data row${rows === 1 ? '' : 's'}; a dataset needs at least ${MIN_ROWS}`,
      )
    }
    if (this.firstEmpty) throw this.firstEmpty

    const { names: classes, slot: classOf } = this.labels.sorted()
    if (classes.length < 2) {
      throw this.badHeader(
        this.labelCol,
        `the label column has ${classes.length} class (${JSON.stringify(classes[0])}); a classifier needs at least 2`,
      )
    }
    const codes = this.labels.ids.values()
    const labels = Int32Array.from(codes, (code) => classOf[code] ?? 0)
    const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION
    const seed = options.seed ?? DEFAULT_SPLIT_SEED
    const { train, test } = splitRows(labels, testFraction, seed)

    for (const f of this.features) {
      if (f.firstOther === null || f.mode === 'undecided') continue
      if (f.declared !== 'numeric' && f.numberCount === 0) continue
      const { line, raw } = f.firstOther
      const problem = raw === '' ? 'the value is empty' : `${JSON.stringify(raw)} is not a finite number`
      // An inferred column is numeric only when every value is a number; a few stray cells (a "NaN",
      // an empty one) must not silently turn it into a one-hot block of every value it holds.
      throw this.badField(
        line,
        f.col,
        f.declared === 'numeric'
          ? `${problem}, but the column is numeric${raw === '' ? ' and missing values are not supported' : ''}`
          : `${problem}, but ${f.numberCount} of the column's ${rows} values are; missing values are not supported, so fix the cell, or if the column really is categorical, declare it so (--categorical ${JSON.stringify(this.names[f.col] ?? '')})`,
      )
    }

    // Features: numeric columns first, then one-hot blocks, each group in header order.
    const numeric = this.features.filter((f) => f.mode === 'numeric')
    const categorical = this.features.filter((f) => f.mode !== 'numeric')
    // Standardise with training-split statistics only: test rows must not leak into the encoding.
    const numericEncoding = numeric.map((f) => {
      const values = f.numbers.values()
      let sum = 0
      for (const row of train) sum += values[row] ?? 0
      const mean = sum / train.length
      let squares = 0
      for (const row of train) squares += ((values[row] ?? 0) - mean) ** 2
      const std = Math.sqrt(squares / train.length)
      // A constant column carries no information; dividing by 1 keeps it at 0 instead of NaN.
      return { name: this.names[f.col] ?? '', mean, std: std > 0 && Number.isFinite(std) ? std : 1 }
    })
    // Categories come from all rows (not only training) so that every test value has a slot.
    const sortedCategories = categorical.map((f) => f.categories.sorted())
    const categoricalEncoding = categorical.map((f, k) => ({
      name: this.names[f.col] ?? '',
      categories: sortedCategories[k]?.names ?? [],
    }))

    const featureDim = numeric.length + categoricalEncoding.reduce((n, c) => n + c.categories.length, 0)
    const shape = options.imageShape
      ? imageShapeOf(options.imageShape, numeric.length, categoricalEncoding)
      : null
    const features = new Float32Array(rows * featureDim)
    numeric.forEach((f, k) => {
      const values = f.numbers.values()
      const { mean, std } = numericEncoding[k] ?? { mean: 0, std: 1 }
      for (let row = 0; row < rows; row++) features[row * featureDim + k] = ((values[row] ?? 0) - mean) / std
      // The column is encoded: its raw numbers can go before the next one is.
      f.numbers = float64s()
    })
    let offset = numeric.length
    categorical.forEach((f, k) => {
      const { names, slot } = sortedCategories[k] ?? { names: [], slot: new Int32Array() }
      const ids = f.categories.ids.values()
      for (let row = 0; row < rows; row++)
        features[row * featureDim + offset + (slot[ids[row] ?? 0] ?? 0)] = 1
      offset += names.length
    })

    const { mapping } = options
    const manifest: DatasetManifest = {
      id: datasetId(contentHash),
      name: datasetName(options.name ?? this.file.replace(/\.[^.]*$/, '')),
      kind: 'tabular',
      source: { file: this.file, format: this.format },
      contentHash,
      rows,
      featureDim,
      shape,
      classes,
      encoding: { numeric: numericEncoding, categorical: categoricalEncoding },
      columns: { subject: mapping.subjectColumn, label: mapping.labelColumn },
      split: { seed, testFraction, train: train.length, test: test.length },
      subjects: new Set(this.subjects).size,
      filesSha256: hashDatasetFiles(features, labels, this.subjects),
      createdAt: options.createdAt ?? new Date().toISOString(),
    }
    return { manifest, features, labels, subjects: this.subjects, train, test }
  }
}

/** The image shape a table's features are declared to have, once it is checked against the columns. */
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
