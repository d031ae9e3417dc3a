/**
 * Tables as ML teams keep them: the same table as CSV, TSV, JSON Lines and Parquet imports to the
 * same dataset, the header can be read without importing, bad files are refused naming the spot,
 * and a file is read as a stream, never held whole.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parquetWriteFile } from 'hyparquet-writer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importCsvDataset } from '../../electron/engine/data/csv-dataset'
import type { Dataset } from '../../electron/engine/data/dataset'
import { importTableFile, readTableColumns } from '../../electron/engine/data/sources'
import { importDataset } from '../../electron/engine/jobs'
import { CsvReader } from '../../electron/lib/csv'
import type { Output } from '../../electron/contract'
import { dispatch } from '../../electron/contract/dispatch'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices } from '../../electron/host/services'
import { rejection } from '../support/errors'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** A small table with a numeric, an integer and a categorical feature, and a few subjects with several rows. */
const ROWS = Array.from({ length: 40 }, (_, i) => ({
  subject: `S-${String(i % 13).padStart(3, '0')}`,
  x: Number((Math.sin(i) * 10).toFixed(4)),
  n: (i * 7) % 11,
  colour: ['red', 'green', 'blue'][i % 3] as string,
  label: i % 4 === 0 ? 'yes' : 'no',
}))
const COLUMNS = ['subject', 'x', 'n', 'colour', 'label'] as const
const mapping = { subjectColumn: 'subject', labelColumn: 'label' }
const createdAt = '2026-01-01T00:00:00.000Z'

const delimited = (separator: string) =>
  [COLUMNS.join(separator), ...ROWS.map((r) => COLUMNS.map((c) => r[c]).join(separator))].join('\n') + '\n'

let dir: string
const file = (name: string) => path.join(dir, name)

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lethe-formats-'))
  await writeFile(file('table.csv'), delimited(','))
  await writeFile(file('table.tsv'), delimited('\t'))
  await writeFile(file('table.jsonl'), ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n')
  parquetWriteFile({
    filename: file('table.parquet'),
    columnData: [
      { name: 'subject', data: ROWS.map((r) => r.subject), type: 'STRING' },
      { name: 'x', data: Float64Array.from(ROWS, (r) => r.x), type: 'DOUBLE' },
      { name: 'n', data: Int32Array.from(ROWS, (r) => r.n), type: 'INT32' },
      { name: 'colour', data: ROWS.map((r) => r.colour), type: 'STRING' },
      { name: 'label', data: ROWS.map((r) => r.label), type: 'STRING' },
    ],
    // Several row groups, so that reading one group at a time is exercised.
    rowGroupSize: 16,
  })
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('the same table in every format', () => {
  const imported = new Map<string, Dataset>()
  beforeAll(async () => {
    for (const name of ['table.csv', 'table.tsv', 'table.jsonl', 'table.parquet']) {
      imported.set(name, await importTableFile(file(name), { file: name, mapping, createdAt }))
    }
  })

  it('imports to identical features, labels, subjects and encoding', () => {
    const csv = imported.get('table.csv') as Dataset
    expect(csv.manifest.rows).toBe(40)
    expect(csv.manifest.encoding?.numeric.map((c) => c.name)).toEqual(['x', 'n'])
    expect(csv.manifest.encoding?.categorical).toEqual([
      { name: 'colour', categories: ['blue', 'green', 'red'] },
    ])
    for (const name of ['table.tsv', 'table.jsonl', 'table.parquet']) {
      const other = imported.get(name) as Dataset
      expect(Buffer.from(other.features.buffer)).toEqual(Buffer.from(csv.features.buffer))
      expect(Array.from(other.labels)).toEqual(Array.from(csv.labels))
      expect(other.subjects).toEqual(csv.subjects)
      expect(other.manifest.encoding).toEqual(csv.manifest.encoding)
      expect(other.manifest.classes).toEqual(['no', 'yes'])
      expect(other.manifest.filesSha256).toEqual(csv.manifest.filesSha256)
    }
  })

  it('records each format, and hashes the file’s bytes', async () => {
    for (const [name, format] of [
      ['table.csv', 'csv'],
      ['table.tsv', 'tsv'],
      ['table.jsonl', 'jsonl'],
      ['table.parquet', 'parquet'],
    ] as const) {
      const dataset = imported.get(name) as Dataset
      expect(dataset.manifest.source).toEqual({ file: name, format })
      expect(dataset.manifest.contentHash).toBe(sha256(await readFile(file(name))))
    }
  })

  it('gives a CSV the content hash and id that importing its text always gave', async () => {
    const streamed = imported.get('table.csv') as Dataset
    const fromText = importCsvDataset(await readFile(file('table.csv'), 'utf8'), {
      file: 'table.csv',
      mapping,
      createdAt,
    })
    expect(streamed.manifest).toEqual(fromText.manifest)
    // A byte order mark is not part of the content: the hash is of the text it announces.
    await writeFile(
      file('bom.csv'),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(delimited(','))]),
    )
    const bom = await importTableFile(file('bom.csv'), { file: 'bom.csv', mapping, createdAt })
    expect(bom.manifest.contentHash).toBe(streamed.manifest.contentHash)
  })

  it('uses only the chosen feature columns', async () => {
    for (const name of ['table.csv', 'table.parquet']) {
      const dataset = await importTableFile(file(name), {
        file: name,
        mapping: { ...mapping, features: ['colour'] },
        createdAt,
      })
      expect(dataset.manifest.featureDim).toBe(3)
      expect(dataset.manifest.encoding?.numeric).toEqual([])
    }
  })
})

describe('reading the columns', () => {
  it('returns the header with a sample of each column, for every format', async () => {
    for (const [name, format] of [
      ['table.csv', 'csv'],
      ['table.tsv', 'tsv'],
      ['table.jsonl', 'jsonl'],
      ['table.parquet', 'parquet'],
    ] as const) {
      const read = await readTableColumns(file(name), 3)
      expect(read.format).toBe(format)
      expect(read.columns.map((c) => c.name)).toEqual([...COLUMNS])
      expect(read.columns.map((c) => c.numeric)).toEqual([false, true, true, false, false])
      expect(read.columns[0]?.sample).toEqual(['S-000', 'S-001', 'S-002'])
      expect(read.columns[1]?.sample).toEqual(ROWS.slice(0, 3).map((r) => String(r.x)))
      expect(read.rows).toBe(format === 'parquet' ? 40 : undefined)
    }
  })

  it('reads only the start of a file: a bad row further down does not matter', async () => {
    await writeFile(file('bad-later.csv'), delimited(',') + 'S-1,"unterminated\n')
    const read = await readTableColumns(file('bad-later.csv'))
    expect(read.columns.map((c) => c.name)).toEqual([...COLUMNS])
  })
})

describe('through the desk API', () => {
  it('reads the columns, then imports the chosen ones from JSON Lines and Parquet', async () => {
    const services = createServices({
      dataDir: tempDir('lethe-formats-api-'),
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      keyProtector: testKeys,
    })
    const call = async <T>(method: string, input: unknown): Promise<T> => {
      const result = await dispatch(services.handlers, method, input, { transport: 'cli' })
      if (!result.ok) throw Object.assign(new Error(result.error.message), result.error)
      return result.value as T
    }
    try {
      const read = await call<Output<'datasets.columns'>>('datasets.columns', { path: file('table.parquet') })
      expect(read).toMatchObject({ format: 'parquet', rows: 40 })
      expect(read.columns.map((c) => c.name)).toEqual([...COLUMNS])
      for (const [name, format] of [
        ['table.jsonl', 'jsonl'],
        ['table.parquet', 'parquet'],
      ] as const) {
        const dataset = await call<Output<'datasets.import'>>('datasets.import', {
          path: file(name),
          subjectColumn: 'subject',
          labelColumn: 'label',
          features: ['x', 'colour'],
        })
        expect(dataset.source).toEqual({ file: name, format })
        expect(dataset.featureDim).toBe(4)
      }
      const listed = await call<Output<'datasets.list'>>('datasets.list', {})
      expect(listed.map((d) => d.source.format).sort()).toEqual(['jsonl', 'parquet'])
    } finally {
      await services.close()
    }
  })
})

describe('bad files', () => {
  it('refuses a malformed JSON Lines row, naming its line', async () => {
    const lines = ROWS.map((r) => JSON.stringify(r))
    lines.splice(6, 0, '{"subject": "S-9", "x": 1,')
    await writeFile(file('broken.jsonl'), lines.join('\n'))
    const error = await rejection(
      'BAD_INPUT',
      importTableFile(file('broken.jsonl'), { file: 'broken.jsonl', mapping }),
    )
    expect(error.message).toMatch(
      /^broken\.jsonl: line 7: not valid JSON \(.*\); each line must be one JSON object$/,
    )
    expect(error.details).toMatchObject({ file: 'broken.jsonl', line: 7 })
  })

  it('refuses a JSON Lines row without a key of the first, naming the key and line', async () => {
    const lines = ROWS.map((r) => JSON.stringify(r))
    lines[3] = JSON.stringify({ ...ROWS[3], label: undefined })
    await writeFile(file('missing.jsonl'), lines.join('\n'))
    const error = await rejection(
      'BAD_INPUT',
      importTableFile(file('missing.jsonl'), { file: 'missing.jsonl', mapping }),
    )
    expect(error.message).toMatch(/^missing\.jsonl: line 4, key "label": the key is missing/)
  })

  it('refuses a Parquet file without the label column, naming it and storing nothing', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lethe-formats-data-'))
    try {
      parquetWriteFile({
        filename: file('nolabel.parquet'),
        columnData: [
          { name: 'subject', data: ROWS.map((r) => r.subject), type: 'STRING' },
          { name: 'x', data: Float64Array.from(ROWS, (r) => r.x), type: 'DOUBLE' },
        ],
      })
      const error = await rejection(
        'BAD_INPUT',
        importDataset({
          dataDir,
          path: file('nolabel.parquet'),
          subjectColumn: 'subject',
          labelColumn: 'label',
          testFraction: 0.2,
          seed: 42,
        }),
      )
      expect(error.message).toBe(
        'nolabel.parquet: the schema: the label column "label" is not in the header; the columns are: subject, x',
      )
      expect(error.details).toMatchObject({ file: 'nolabel.parquet', columnName: 'label' })
      expect(await readdir(dataDir)).toEqual([])
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it('refuses a Parquet cell that is not a number in a numeric column, naming its row', async () => {
    parquetWriteFile({
      filename: file('mixed.parquet'),
      columnData: [
        { name: 'subject', data: ROWS.map((r) => r.subject), type: 'STRING' },
        { name: 'x', data: ROWS.map((r, i) => (i === 9 ? null : r.x)), type: 'DOUBLE', nullable: true },
        { name: 'label', data: ROWS.map((r) => r.label), type: 'STRING' },
      ],
    })
    const error = await rejection(
      'BAD_INPUT',
      importTableFile(file('mixed.parquet'), { file: 'mixed.parquet', mapping }),
    )
    expect(error.message).toMatch(
      /^mixed\.parquet: row 10, column 2 \(x\): the value is empty, but 39 of the column's 40 values are/,
    )
  })

  it('keeps CSV syntax errors exact across the pieces a file is read in', async () => {
    // The bad quote sits well past the first mebibyte, so it is found in a later piece.
    const good = delimited(',').split('\n').slice(1, -1)
    const body = Array.from({ length: 40_000 }, (_, i) => good[i % good.length]).join('\n')
    await writeFile(file('late.csv'), `${COLUMNS.join(',')}\n${body}\nS-1,2,3,re"d,no\n`)
    const error = await rejection(
      'BAD_INPUT',
      importTableFile(file('late.csv'), { file: 'late.csv', mapping }),
    )
    expect(error.message).toMatch(/^late\.csv: line 40002, column 11: quote inside an unquoted field/)
  })
})

describe('streaming', () => {
  it('holds at most a piece and a line of text however long the file', () => {
    let rows = 0
    let most = 0
    const reader = new CsvReader({ onHeader: () => undefined, onRow: () => rows++ })
    const piece = 'a,"b\nc",d\n'.repeat(6000)
    reader.push('x,y,z\n')
    for (let i = 0; i < 50; i++) {
      // Cut mid-row, so a row is carried over to the next piece.
      reader.push(piece.slice(0, 1000) + piece.slice(1000))
      reader.push('e,"f')
      most = Math.max(most, reader.buffered)
      reader.push('",g\n')
      most = Math.max(most, reader.buffered)
    }
    reader.end()
    expect(rows).toBe(50 * 6001)
    expect(most).toBeLessThan(16)
  })

  it('refuses a stray quote that would make the rest of the file one field, without holding it', () => {
    const reader = new CsvReader({ onHeader: () => undefined, onRow: () => undefined }, { maxLine: 1000 })
    reader.push('x,y\n1,2\n3,"4\n')
    // The quote on line 3 never closes: the reader gives up once it holds more than 1000 characters.
    const pushRows = () => {
      for (let i = 0; i < 300; i++) reader.push('5,6\n')
    }
    expect(pushRows).toThrow(
      'line 3, column 3: a quoted field runs past 1000 characters (the quote opened here is not closed within them)',
    )
    expect(reader.buffered).toBe(0)
  })

  it('imports a 200,000-row CSV larger than the heap it is given', async () => {
    // Each row carries 600 characters of notes the import leaves out: the file is ~130 MB, twice
    // the 64 MB heap the importing process gets, so reading it whole into one string fails there.
    const big = file('big.csv')
    const out = createWriteStream(big)
    const notes = 'n'.repeat(600)
    out.write('subject,a,b,c,notes,label\n')
    let chunk = ''
    for (let i = 0; i < 200_000; i++) {
      chunk += `S-${i % 5000},${i % 97},${(i * 31) % 101},${i % 7}.5,${notes},${i % 3 === 0 ? 'yes' : 'no'}\n`
      if (i % 2000 === 1999) {
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
        chunk = ''
      }
    }
    await new Promise((resolve) => out.end(resolve))
    const script = file('import-big.mts')
    await writeFile(
      script,
      `import { importTableFile } from ${JSON.stringify(path.join(root, 'electron/engine/data/sources.ts'))}
const dataset = await importTableFile(${JSON.stringify(big)}, {
  file: 'big.csv',
  mapping: { subjectColumn: 'subject', labelColumn: 'label', features: ['a', 'b', 'c'] },
})
console.log(JSON.stringify({ rows: dataset.manifest.rows, featureDim: dataset.manifest.featureDim, first: Array.from(dataset.features.subarray(0, 3)) }))
`,
    )
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--max-old-space-size=64', '--import', 'tsx', script],
      { cwd: root, maxBuffer: 1 << 20 },
    )
    const result = JSON.parse(stdout) as { rows: number; featureDim: number; first: number[] }
    expect(result.rows).toBe(200_000)
    expect(result.featureDim).toBe(3)
    expect(result.first.every(Number.isFinite)).toBe(true)
  }, 120_000)
})
