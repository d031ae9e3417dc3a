import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { dispatch } from '../../electron/contract/dispatch'
import { importCsvDataset } from '../../electron/engine/data/csv-dataset'
import { listDatasets } from '../../electron/engine/data/dataset'
import { parseIdx, writeIdx } from '../../electron/engine/data/idx'
import { folders } from '../../electron/engine/folders'
import { importDataset } from '../../electron/engine/jobs'
import { parseRequestsCsv } from '../../electron/ledger/csv-import'
import { decodeUtf8 } from '../../electron/lib/text'
import { recordingHandlers, tempDir } from '../support/fixtures'
import { TODAY } from '../support/ledger'
import { letheError, rejection } from '../support/errors'

const FASHION_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'

const made: string[] = []
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true })
})
const folder = () => {
  const dir = tempDir('lethe-import-')
  made.push(dir)
  return dir
}

const SMALL = 'id,x,colour,label\nA,1,red,yes\nB,2,blue,no\nC,3,red,yes\nD,4,green,no\nE,5,red,yes\n'

/** Imports `bytes` as a dataset file through the engine's own job, as the app does. */
async function importFile(dataDir: string, name: string, bytes: Uint8Array, extra: object = {}) {
  const file = path.join(dataDir, name)
  await writeFile(file, bytes)
  return importDataset({
    dataDir,
    path: file,
    subjectColumn: 'id',
    labelColumn: 'label',
    testFraction: 0.2,
    seed: 42,
    ...extra,
  })
}

const storedIds = async (dataDir: string) => (await listDatasets(folders(dataDir).datasets)).map((m) => m.id)

describe('the text encoding of an imported file', () => {
  it('refuses UTF-16, with or without a byte order mark, and keeps what is stored', async () => {
    const dataDir = folder()
    const good = await importFile(dataDir, 'good.csv', Buffer.from(SMALL))
    const littleEndian = Buffer.from(`\uFEFF${SMALL}`, 'utf16le')
    const bigEndian = Buffer.from(littleEndian).swap16()
    const noMark = Buffer.from(SMALL, 'utf16le')
    for (const [bytes, order] of [
      [littleEndian, 'little-endian'],
      [bigEndian, 'big-endian'],
      [noMark, 'little-endian'],
    ] as const) {
      const error = await rejection('BAD_INPUT', importFile(dataDir, 'wide.csv', bytes))
      expect(error.message).toBe(`wide.csv is UTF-16 (${order}); save it as UTF-8 and import it again.`)
    }
    expect(await storedIds(dataDir)).toEqual([good.id])
  })

  it('refuses bytes that are not UTF-8, naming the line and the offset, and accepts a UTF-8 BOM', async () => {
    const dataDir = folder()
    const text = SMALL.replace('C,3,red', 'C,3,rosé')
    const latin1 = Buffer.from(text, 'latin1')
    const error = await rejection('BAD_INPUT', importFile(dataDir, 'latin1.csv', latin1))
    const offset = text.indexOf('é')
    expect(error.message).toMatch(
      new RegExp(`^latin1\\.csv: line 4 is not UTF-8 \\(byte 0xE9 at offset ${offset} .*save it as UTF-8`),
    )
    expect(error.details).toEqual({ file: 'latin1.csv', line: 4, offset })
    expect(await storedIds(dataDir)).toEqual([])

    const withMark = await importFile(dataDir, 'mark.csv', Buffer.from(`\uFEFF${text}`))
    expect(withMark.encoding?.categorical[0]?.categories).toContain('rosé')
  })

  it('decodes a request CSV file the same way', async () => {
    const file = path.join(folder(), 'requests.csv')
    const text = 'name,subject_ids,jurisdiction,received\nJosé,customer-id:1,gdpr,2026-03-01\n'
    await writeFile(file, Buffer.from(text, 'latin1'))
    const latin1 = await readFile(file)
    expect(letheError('BAD_INPUT', () => decodeUtf8(latin1, 'requests.csv')).message).toMatch(
      /^requests\.csv: line 2 is not UTF-8 \(byte 0xE9 at offset 42 /,
    )
    await writeFile(file, text)
    const decoded = decodeUtf8(await readFile(file), 'requests.csv')
    expect(parseRequestsCsv(decoded, TODAY)[0]?.requester.name).toBe('José')
  })
})

describe('control characters in names and fields', () => {
  it('refuses a NUL in a header name or a field of a dataset CSV, at its line and column', async () => {
    const dataDir = folder()
    let error = await rejection(
      'BAD_INPUT',
      importFile(dataDir, 'nul.csv', Buffer.from(SMALL.replace('colour', 'col\0our'))),
    )
    expect(error.message).toMatch(
      /^nul\.csv: line 1, column 9: control character U\+0000; a field may hold tab/,
    )
    error = await rejection(
      'BAD_INPUT',
      importFile(dataDir, 'nul.csv', Buffer.from(SMALL.replace('B,2,', 'B\u0007,2,'))),
    )
    expect(error.details).toMatchObject({ line: 3, column: 2 })
    expect(await storedIds(dataDir)).toEqual([])
  })

  it('refuses a dataset name with a control character', async () => {
    const dataDir = folder()
    const error = await rejection(
      'BAD_INPUT',
      importFile(dataDir, 'small.csv', Buffer.from(SMALL), { name: 'Q1\0' }),
    )
    expect(error.message).toMatch(/^The dataset name "Q1\\u0000" holds the control character U\+0000/)
    expect(await storedIds(dataDir)).toEqual([])
  })

  it('refuses a NUL in a request, typed or imported, naming the field, before any service runs', async () => {
    const result = await dispatch(
      recordingHandlers().handlers,
      'requests.create',
      {
        requester: { name: 'Jane\0Doe' },
        subjectIds: [{ type: 'customer-id', value: 'C-1' }],
        jurisdiction: 'gdpr',
        received: '2026-03-01',
      },
      { transport: 'cli' },
    )
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'BAD_INPUT',
        message:
          'Invalid input for requests.create at "requester.name": holds the control character U+0000; only tab and line breaks are allowed',
      },
    })
    const csv = 'name,subject_ids,jurisdiction,received\n"Jane\0Doe",customer-id:1,gdpr,2026-03-01\n'
    expect(() => parseRequestsCsv(csv, TODAY)).toThrow(/line 2, column #6: control character U\+0000/)
  })
})

describe('inferring column kinds', () => {
  /** 200 rows whose `x` is a number, except on the line given. */
  const numbersWith = (cell: string, atLine: number) =>
    [
      'id,x,label',
      ...Array.from(
        { length: 200 },
        (_, i) => `S${i},${i + 2 === atLine ? cell : i * 0.5},${i % 2 ? 'a' : 'b'}`,
      ),
    ].join('\n')

  it('refuses a numeric column with a stray missing-value marker, naming the column and the line', () => {
    const mapping = { subjectColumn: 'id', labelColumn: 'label' }
    for (const marker of ['NaN', 'nan', 'NULL', '', 'NA']) {
      const error = letheError('BAD_INPUT', () =>
        importCsvDataset(numbersWith(marker, 150), { file: 'm.csv', mapping }),
      )
      expect(error.details).toEqual({ file: 'm.csv', line: 150, column: 2, columnName: 'x' })
      const cell = marker === '' ? 'the value is empty' : `"${marker}" is not a finite number`
      expect(error.message).toBe(
        `m.csv: line 150, column 2 (x): ${cell}, but 199 of the column's 200 values are; missing values are not supported, so fix the cell, or if the column really is categorical, declare it so (--categorical "x")`,
      )
    }
    // Declared, the column is read as the person says.
    const declared = importCsvDataset(numbersWith('NaN', 150), {
      file: 'm.csv',
      mapping: { ...mapping, categorical: ['x'] },
    })
    expect(declared.manifest.encoding?.categorical[0]?.categories).toHaveLength(200)
  })
})

describe('IDX files', () => {
  it('caps what a gzip may inflate to, refusing past the limit with TOO_LARGE', () => {
    const images = writeIdx([8, 512, 512], new Uint8Array(8 * 512 * 512)) // 2 MiB of zeros
    const bomb = gzipSync(images)
    expect(bomb.length).toBeLessThan(8 * 1024)
    const error = letheError('TOO_LARGE', () => parseIdx(bomb, 'bomb.idx.gz', 1024 ** 2))
    expect(error.message).toBe('bomb.idx.gz: the IDX data is larger than 1 MiB, the most an import takes.')
    expect(parseIdx(bomb, 'bomb.idx.gz', 4 * 1024 ** 2).dims).toEqual([8, 512, 512])
  })

  it('tells an IDX images file given without --labels by its magic number, gzipped or not', async () => {
    const dataDir = folder()
    const plain = writeIdx(
      [4, 2, 2],
      Uint8Array.from({ length: 16 }, (_, i) => i),
    )
    for (const [name, bytes] of [
      ['images.csv', plain],
      ['t10k-images.gz', await readFile(FASHION_IMAGES)],
    ] as const) {
      const file = path.join(dataDir, name)
      await writeFile(file, bytes)
      const error = await rejection(
        'BAD_INPUT',
        importDataset({ dataDir, path: file, testFraction: 0.2, seed: 42 }),
      )
      expect(error.message.startsWith(`${name} is `)).toBe(true)
      expect(error.message).toContain('an IDX images file needs its labels file (--labels)')
    }
  })
})

describe('request CSV import', () => {
  const header = 'name,email,subject_ids,jurisdiction,received,note'
  const rows = (count: number, bad: (i: number) => boolean) =>
    [
      header,
      ...Array.from(
        { length: count },
        (_, i) =>
          `Person ${i},p${i}@example.com,customer-id:C-${i},${bad(i) ? 'mars' : 'gdpr'},2026-03-01,"checked, nothing unusual"`,
      ),
    ].join('\n')

  it('refuses a file whose last row is bad, naming that line', async () => {
    const file = path.join(folder(), 'requests.csv')
    await writeFile(
      file,
      rows(2000, (i) => i === 1999),
    )
    const text = decodeUtf8(await readFile(file), 'requests.csv')
    const error = letheError('BAD_INPUT', () => parseRequestsCsv(text, TODAY))
    expect(error.message).toMatch(/^Nothing was imported: line 2001, column jurisdiction: /)
    expect(error.details).toMatchObject({ errors: [{ line: 2001, column: 'jurisdiction' }] })
  })

  it('stops checking after 100 problems', () => {
    const error = letheError('BAD_INPUT', () =>
      parseRequestsCsv(
        rows(300, () => true),
        TODAY,
      ),
    )
    expect((error.details as { errors: unknown[] }).errors).toHaveLength(100)
    expect(error.message).toMatch(/\(and 99 more, then checking stopped\)\.$/)
  })
})
