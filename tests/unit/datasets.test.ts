import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importCsvDataset, type ColumnMapping } from '../../electron/engine/data/csv-dataset'
import {
  listDatasets,
  loadDataset,
  rowsOfSubjects,
  saveDataset,
  splitRows,
  subjectIndex,
  type Dataset,
} from '../../electron/engine/data/dataset'
import { parseCsv } from '../../electron/lib/csv'
import { importIdxDataset, parseIdx, writeIdx } from '../../electron/engine/data/idx'
import { letheError, rejection } from '../support/errors'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const demo = (name: string) => path.join(root, 'resources/datasets', name)
const FASHION_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'
const FASHION_LABELS = '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'

/** Per-feature mean and (population) std over the given rows. */
function columnStats(dataset: Dataset, rows: ArrayLike<number>): { mean: number; std: number }[] {
  const dim = dataset.manifest.featureDim
  return Array.from({ length: dim }, (_, k) => {
    let sum = 0
    for (let i = 0; i < rows.length; i++) sum += dataset.features[(rows[i] ?? 0) * dim + k] ?? 0
    const mean = sum / rows.length
    let squares = 0
    for (let i = 0; i < rows.length; i++)
      squares += ((dataset.features[(rows[i] ?? 0) * dim + k] ?? 0) - mean) ** 2
    return { mean, std: Math.sqrt(squares / rows.length) }
  })
}

const bytesOf = (array: Float32Array | Int32Array) =>
  Buffer.from(array.buffer, array.byteOffset, array.byteLength)

describe('demo datasets', () => {
  let cancer: Dataset
  let digits: Dataset

  beforeAll(async () => {
    cancer = importCsvDataset(await readFile(demo('breast-cancer.csv'), 'utf8'), {
      file: demo('breast-cancer.csv'),
      mapping: { subjectColumn: 'patient_id', labelColumn: 'diagnosis' },
      createdAt: '2025-01-01T00:00:00.000Z',
    })
    digits = importCsvDataset(await readFile(demo('digits.csv'), 'utf8'), {
      file: 'digits.csv',
      mapping: { subjectColumn: 'subject_id', labelColumn: 'digit' },
      imageShape: [8, 8, 1],
      createdAt: '2025-01-01T00:00:00.000Z',
    })
  })

  it('breast cancer: 569 patients, 30 numeric features, 2 classes', () => {
    const m = cancer.manifest
    expect(m).toMatchObject({
      name: 'breast-cancer',
      kind: 'tabular',
      source: { file: 'breast-cancer.csv', format: 'csv' },
      rows: 569,
      featureDim: 30,
      shape: null,
      classes: ['benign', 'malignant'],
      columns: { subject: 'patient_id', label: 'diagnosis' },
      subjects: 569,
      split: { seed: 42, testFraction: 0.2 },
    })
    expect(m.id).toBe(`ds-${m.contentHash.slice(0, 12)}`)
    expect(m.contentHash).toMatch(/^[0-9a-f]{64}$/)
    expect(m.encoding?.numeric.map((c) => c.name)).toContain('mean_radius')
    expect(m.encoding?.numeric).toHaveLength(30)
    expect(m.encoding?.categorical).toEqual([])
    expect(cancer.features).toHaveLength(569 * 30)
    expect([...cancer.labels].filter((l) => l === 1)).toHaveLength(212) // malignant
    expect(cancer.train.length + cancer.test.length).toBe(569)
    expect(m.split.train).toBe(cancer.train.length)
    expect(cancer.subjects).toContain('P-0001')
    expect(cancer.subjects).toContain('P-0569')
  })

  it('digits: 1797 images of 64 pixels, 10 classes, writers with several rows each', () => {
    const m = digits.manifest
    expect(m).toMatchObject({
      rows: 1797,
      featureDim: 64,
      shape: [8, 8, 1],
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    })
    expect(cancer.manifest.shape).toBeNull()
    expect(m.subjects).toBe(180)
    const index = subjectIndex(digits.subjects)
    expect(index.size).toBe(180)
    for (const rows of index.values()) {
      expect(rows.length).toBeGreaterThanOrEqual(9)
      expect(rows.length).toBeLessThanOrEqual(10)
      expect([...rows].sort((a, b) => a - b)).toEqual(rows)
    }
    const w1 = index.get('W-001') ?? []
    for (const row of w1) expect(digits.subjects[row]).toBe('W-001')
  })

  it('standardises numeric features with training-split statistics: mean 0, std 1 on the training rows', async () => {
    for (const stats of columnStats(cancer, cancer.train)) {
      expect(stats.mean).toBeCloseTo(0, 4)
      expect(stats.std).toBeCloseTo(1, 4)
    }
    // Test rows do not take part: the stored mean is the training mean of the raw values.
    const { rows } = parseCsv(await readFile(demo('breast-cancer.csv'), 'utf8'))
    const raw = (row: number) => Number(rows[row]?.[1])
    const trainMean = [...cancer.train].reduce((s, r) => s + raw(r), 0) / cancer.train.length
    const allMean = rows.reduce((s, _, r) => s + raw(r), 0) / rows.length
    expect(cancer.manifest.encoding?.numeric[0]?.mean).toBeCloseTo(trainMean, 10)
    expect(trainMean).not.toBeCloseTo(allMean, 10)
    // Digits has pixels that are always 0: std 0 becomes 1, so they stay 0 rather than NaN.
    const pixel0 = digits.manifest.encoding?.numeric[0]
    expect(pixel0).toEqual({ name: 'pixel_0', mean: 0, std: 1 })
    for (const stats of columnStats(digits, digits.train)) {
      expect(stats.mean).toBeCloseTo(0, 4)
      if (stats.std > 0) expect(stats.std).toBeCloseTo(1, 4)
    }
    expect(digits.features.every(Number.isFinite)).toBe(true)
  })

  it('rowsOfSubjects gathers the rows of the named subjects and reports unknown ids', () => {
    const index = subjectIndex(digits.subjects)
    const w1 = index.get('W-001') ?? []
    const w2 = index.get('W-002') ?? []
    const found = rowsOfSubjects(digits, ['W-002', 'nobody', 'W-001', 'W-001', 'W-999'])
    expect(found.rows).toEqual([...w1, ...w2].sort((a, b) => a - b))
    expect(found.unknown).toEqual(['nobody', 'W-999'])
    expect(rowsOfSubjects(digits, [])).toEqual({ rows: [], unknown: [] })
  })

  describe('on disk', () => {
    let folder: string
    beforeAll(async () => {
      folder = await mkdtemp(path.join(os.tmpdir(), 'lethe-datasets-'))
    })
    afterAll(async () => {
      await rm(folder, { recursive: true, force: true })
    })

    it('saves and loads bit-identically, and lists the manifests', async () => {
      await saveDataset(folder, digits)
      await saveDataset(folder, cancer)
      const id = digits.manifest.id
      expect((await readdir(path.join(folder, id))).sort()).toEqual([
        'features.f32',
        'labels.i32',
        'manifest.json',
        'subjects.json',
      ])
      const loaded = await loadDataset(folder, id)
      expect(loaded.manifest).toEqual(digits.manifest)
      expect(bytesOf(loaded.features).equals(bytesOf(digits.features))).toBe(true)
      expect(bytesOf(loaded.labels).equals(bytesOf(digits.labels))).toBe(true)
      expect(loaded.subjects).toEqual(digits.subjects)
      expect(loaded.train).toEqual(digits.train)
      expect(loaded.test).toEqual(digits.test)
      // Raw little-endian float32 on disk.
      const raw = await readFile(path.join(folder, id, 'features.f32'))
      expect(raw.length).toBe(1797 * 64 * 4)
      expect(raw.readFloatLE(4 * 2)).toBe(digits.features[2])

      const listed = await listDatasets(folder)
      expect(listed.map((m) => m.id).sort()).toEqual([cancer.manifest.id, digits.manifest.id].sort())
      expect(await listDatasets(path.join(folder, 'nowhere'))).toEqual([])
    })

    it('a flipped byte or a truncated file is CORRUPT, naming the file; an unknown id is NOT_FOUND', async () => {
      const id = cancer.manifest.id
      const file = path.join(folder, id, 'features.f32')
      const original = await readFile(file)
      const flipped = Buffer.from(original)
      flipped[1000] = (flipped[1000] ?? 0) ^ 0x01
      await writeFile(file, flipped)
      let error = await rejection('CORRUPT', loadDataset(folder, id))
      expect(error.message).toContain('features.f32')
      expect(error.details).toMatchObject({ dataset: id, file })

      await writeFile(file, original.subarray(0, original.length - 4))
      error = await rejection('CORRUPT', loadDataset(folder, id))
      expect(error.message).toMatch(/features\.f32 has 68276 bytes but the manifest expects 68280/)

      await writeFile(file, original)
      await writeFile(path.join(folder, id, 'subjects.json'), '["P-0001"]\n')
      error = await rejection('CORRUPT', loadDataset(folder, id))
      expect(error.message).toContain('subjects.json')

      await writeFile(path.join(folder, id, 'manifest.json'), '{"id": "ds-')
      error = await rejection('CORRUPT', loadDataset(folder, id))
      expect(error.message).toContain('manifest.json')

      await rejection('NOT_FOUND', loadDataset(folder, 'ds-000000000000'))
      await rejection('NOT_FOUND', loadDataset(folder, '../etc'))
    })
  })
})

describe('splitRows', () => {
  const labels = Int32Array.from({ length: 103 }, (_, i) => (i < 50 ? 0 : i < 90 ? 1 : 2))

  it('is deterministic for a seed, stratified per class, and differs for another seed', () => {
    const a = splitRows(labels, 0.2, 7)
    expect(splitRows(labels, 0.2, 7)).toEqual(a)
    // Every row exactly once, each list ascending.
    expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual([...labels.keys()])
    expect([...a.train]).toEqual([...a.train].sort((x, y) => x - y))
    expect([...a.test]).toEqual([...a.test].sort((x, y) => x - y))
    // round(50 × 0.2) = 10, round(40 × 0.2) = 8, round(13 × 0.2) = 3.
    const perClass = (rows: Int32Array) =>
      [0, 1, 2].map((c) => [...rows].filter((r) => labels[r] === c).length)
    expect(perClass(a.test)).toEqual([10, 8, 3])
    expect(perClass(a.train)).toEqual([40, 32, 10])
    const b = splitRows(labels, 0.2, 8)
    expect(perClass(b.test)).toEqual([10, 8, 3])
    expect(b.test).not.toEqual(a.test)
  })

  it('keeps at least one training row in every class', () => {
    const few = Int32Array.from([0, 0, 1, 2, 2, 2])
    const { train, test } = splitRows(few, 0.9, 1)
    expect(new Set([...train].map((r) => few[r]))).toEqual(new Set([0, 1, 2]))
    expect(test).toHaveLength(1 + 0 + 2)
    expect(splitRows(few, 0, 1).test).toHaveLength(0)
    letheError('BAD_INPUT', () => splitRows(few, 1, 1))
  })
})

describe('importCsvDataset', () => {
  const mapping: ColumnMapping = { subjectColumn: 'id', labelColumn: 'label' }
  const load = (text: string, m: ColumnMapping = mapping) =>
    importCsvDataset(text, { file: '/tmp/in/small.csv', mapping: m })
  const good = 'id,x,colour,label\nA,1,red,yes\nB,2,blue,no\nC,3,red,yes\nD,4,green,no\nE,5,red,yes\n'

  /** Expects a BAD_INPUT error at the given place, with that message prefix. */
  function errorAt(
    text: string,
    where: { line: number; column: number | null; columnName: string | null },
    message: string | RegExp,
    m = mapping,
  ) {
    const error = letheError('BAD_INPUT', () => load(text, m))
    expect(error.details).toEqual({ file: 'small.csv', ...where })
    if (typeof message === 'string') expect(error.message).toBe(message)
    else expect(error.message).toMatch(message)
    return error
  }

  it('infers numeric and categorical columns and encodes them (numeric first, then one-hot)', () => {
    const d = load(good)
    expect(d.manifest.source).toEqual({ file: 'small.csv', format: 'csv' })
    expect(d.manifest.name).toBe('small')
    expect(d.manifest.classes).toEqual(['no', 'yes'])
    expect([...d.labels]).toEqual([1, 0, 1, 0, 1])
    expect(d.manifest.encoding?.numeric.map((c) => c.name)).toEqual(['x'])
    expect(d.manifest.encoding?.categorical).toEqual([
      { name: 'colour', categories: ['blue', 'green', 'red'] },
    ])
    expect(d.manifest.featureDim).toBe(4)
    // Row B: x standardised, then colour one-hot 'blue'.
    const { mean, std } = d.manifest.encoding?.numeric[0] ?? { mean: NaN, std: NaN }
    expect(Array.from(d.features.subarray(4, 8))).toEqual([Math.fround((2 - mean) / std), 1, 0, 0])
    expect(d.manifest.subjects).toBe(5)
  })

  it('honours declared kinds and ignored columns, reads TSV, and trims values', () => {
    const d = load(good, { ...mapping, categorical: ['x'], ignore: ['colour'] })
    expect(d.manifest.encoding?.numeric).toEqual([])
    expect(d.manifest.encoding?.categorical).toEqual([{ name: 'x', categories: ['1', '2', '3', '4', '5'] }])
    const tsv = load('id\tx\tlabel\n A \t1\tp\nB\t2\tq\nC\t3\tp\nD\t 4 \tq\n')
    expect(tsv.manifest.source.format).toBe('tsv')
    expect(tsv.subjects).toEqual(['A', 'B', 'C', 'D'])
    expect(tsv.manifest.encoding?.numeric.map((c) => c.name)).toEqual(['x'])
  })

  it('reports CSV syntax errors with the parser line and column', () => {
    errorAt(
      'id,x,label\nA,1,a\nB,2"0,b\n',
      { line: 3, column: 4, columnName: null },
      /^small\.csv: line 3, column 4: quote inside an unquoted field/,
    )
    errorAt(
      'id,x,label\nA,1,a\nB,"2,b\n',
      { line: 3, column: 3, columnName: null },
      /^small\.csv: line 3, column 3: unterminated/,
    )
  })

  it('reports a mapping that names a missing column, listing the header', () => {
    errorAt(
      good,
      { line: 1, column: null, columnName: 'who' },
      'small.csv: line 1: the subject column "who" is not in the header; the columns are: id, x, colour, label',
      { subjectColumn: 'who', labelColumn: 'label' },
    )
    errorAt(
      '\n\n' + good,
      { line: 3, column: null, columnName: 'size' },
      /^small\.csv: line 3: the numeric column "size" is not in the header/,
      { ...mapping, numeric: ['size'] },
    )
    errorAt(
      good,
      { line: 1, column: 1, columnName: 'id' },
      /^small\.csv: line 1, column 1 \(id\): the subject and the label/,
      {
        subjectColumn: 'id',
        labelColumn: 'id',
      },
    )
  })

  it('reports an empty subject id or label at its line and column', () => {
    errorAt(
      'id,x,colour,label\nA,1,red,yes\nB,2,blue,no\n\n"",3,red,yes\nD,4,green,no\n',
      { line: 5, column: 1, columnName: 'id' },
      'small.csv: line 5, column 1 (id): the subject id is empty; every row needs one',
    )
    errorAt(
      'id,x,colour,label\nA,1,"multi\nline",yes\nB,2,blue,no\nC,3,red,  \nD,4,green,no\n',
      { line: 5, column: 4, columnName: 'label' },
      'small.csv: line 5, column 4 (label): the label is empty; every row needs one',
    )
  })

  it('reports a non-number in a numeric column', () => {
    errorAt(
      good.replace('C,3,', 'C,3x,'),
      { line: 4, column: 2, columnName: 'x' },
      'small.csv: line 4, column 2 (x): "3x" is not a finite number, but the column is numeric',
      { ...mapping, numeric: ['x'] },
    )
    errorAt(
      good.replace('D,4,', 'D,,'),
      { line: 5, column: 2, columnName: 'x' },
      /^small\.csv: line 5, column 2 \(x\): the value is empty/,
      { ...mapping, numeric: ['x'] },
    )
    errorAt(
      good.replace('B,2,', 'B,1e999,'),
      { line: 3, column: 2, columnName: 'x' },
      /"1e999" is not a finite number/,
      {
        ...mapping,
        numeric: ['x'],
      },
    )
    // Without a declaration a column of numbers is not guessed categorical for one stray cell.
    errorAt(
      good.replace('C,3,', 'C,3x,'),
      { line: 4, column: 2, columnName: 'x' },
      /"3x" is not a finite number, but 4 of the column's 5 values are; .*--categorical "x"/,
    )
  })

  it('takes an image shape for pixel columns, and refuses one the columns do not fit', () => {
    const pixels = 'id,p0,p1,p2,p3,label\nA,0,1,2,3,yes\nB,3,2,1,0,no\nC,1,1,1,1,yes\nD,0,0,0,0,no\n'
    const withShape = (text: string, imageShape: [number, number, number]) =>
      importCsvDataset(text, { file: 'small.csv', mapping, imageShape })
    expect(withShape(pixels, [2, 2, 1]).manifest).toMatchObject({
      shape: [2, 2, 1],
      featureDim: 4,
      kind: 'tabular',
    })
    expect(letheError('BAD_INPUT', () => withShape(pixels, [2, 3, 1])).message).toBe(
      'An image of 2×3×1 has 6 pixels, but the file has 4 feature columns.',
    )
    expect(
      letheError('BAD_INPUT', () => withShape(pixels.replace(/^(\w),\d,/gm, '$1,dark,'), [2, 2, 1])).message,
    ).toBe('Image pixels must all be numbers, but "p0" is not.')
  })

  it('rejects fewer than 2 classes or fewer than 4 rows', () => {
    errorAt(
      good.replaceAll(',no\n', ',yes\n'),
      { line: 1, column: 4, columnName: 'label' },
      'small.csv: line 1, column 4 (label): the label column has 1 class ("yes"); a classifier needs at least 2',
    )
    errorAt(
      'id,x,label\nA,1,a\nB,2,b\nC,3,a\n',
      { line: 1, column: null, columnName: null },
      'small.csv: line 1: the file has 3 data rows; a dataset needs at least 4',
    )
  })
})

describe('IDX', () => {
  const images = Uint8Array.from({ length: 6 * 2 * 3 }, (_, i) => (i * 37) % 256)
  const labels = Uint8Array.from([3, 1, 3, 1, 0, 3])

  it('round-trips through writeIdx, plain and gzipped', () => {
    const file = writeIdx([6, 2, 3], images)
    expect(Array.from(file.subarray(0, 8))).toEqual([0, 0, 0x08, 3, 0, 0, 0, 6])
    expect(parseIdx(file, 'a.idx')).toEqual({ dims: [6, 2, 3], data: images })
    expect(parseIdx(gzipSync(file), 'a.idx.gz')).toEqual({ dims: [6, 2, 3], data: images })
  })

  it('reads the other element types big-endian', () => {
    const bytes = Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe])
    expect(parseIdx(bytes, 's.idx')).toEqual({ dims: [2], data: Int16Array.from([0x0102, -2]) })
    const doubles = new Uint8Array(8 + 8)
    doubles.set([0, 0, 0x0e, 1, 0, 0, 0, 1])
    new DataView(doubles.buffer).setFloat64(8, 1.5, false)
    expect(parseIdx(doubles, 'd.idx').data).toEqual(Float64Array.from([1.5]))
  })

  it('names the file for bad magic, unknown types, truncation and gzip damage', () => {
    let error = letheError('BAD_INPUT', () => parseIdx(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]), 'x.zip'))
    expect(error.message).toBe(
      'x.zip: not an IDX file: it starts with 0x50 0x4b 0x03 0x04, expected 0x00 0x00 <type> <dimensions>',
    )
    error = letheError('BAD_INPUT', () => parseIdx(Uint8Array.from([0, 0, 0x07, 1, 0, 0, 0, 0]), 't.idx'))
    expect(error.message).toMatch(/^t\.idx: unknown IDX element type 0x07/)
    const file = writeIdx([6, 2, 3], images)
    error = letheError('BAD_INPUT', () => parseIdx(file.subarray(0, file.length - 5), 'short.idx'))
    expect(error.message).toBe(
      'short.idx: truncated: dimensions [6, 2, 3] of unsigned byte need 36 data bytes, but only 31 follow the header',
    )
    error = letheError('BAD_INPUT', () => parseIdx(file.subarray(0, 10), 'head.idx'))
    expect(error.message).toBe('head.idx: truncated: the header needs 16 bytes but the file has 10')
    const gz = gzipSync(file)
    error = letheError('BAD_INPUT', () => parseIdx(gz.subarray(0, gz.length - 12), 'cut.gz'))
    expect(error.message).toMatch(/^cut\.gz: the gzip data is damaged/)
    expect(error.details).toEqual({ file: 'cut.gz' })
  })

  it('imports images and labels as a dataset, with generated per-row subjects', () => {
    const d = importIdxDataset(
      { bytes: writeIdx([6, 2, 3], images), file: '/x/imgs-idx3-ubyte' },
      { bytes: writeIdx([6], labels), file: 'lbls-idx1-ubyte' },
      { testFraction: 0.3, createdAt: '2025-01-01T00:00:00.000Z' },
    )
    expect(d.manifest).toMatchObject({
      kind: 'image',
      source: { file: 'imgs-idx3-ubyte', format: 'idx' },
      rows: 6,
      featureDim: 6,
      shape: [2, 3, 1],
      encoding: null,
      columns: null,
      subjects: 6,
    })
    expect(d.manifest.classes).toHaveLength(10)
    expect(d.subjects).toEqual(['S-0', 'S-1', 'S-2', 'S-3', 'S-4', 'S-5'])
    expect([...d.labels]).toEqual([3, 1, 3, 1, 0, 3])
    expect(d.features[1]).toBeCloseTo(37 / 255, 6)
    expect(Math.max(...d.features)).toBeLessThanOrEqual(1)
  })

  it('rejects a label file whose count does not match the images', () => {
    const error = letheError('BAD_INPUT', () =>
      importIdxDataset(
        { bytes: writeIdx([6, 2, 3], images), file: 'imgs' },
        { bytes: writeIdx([5], labels.subarray(0, 5)), file: 'lbls' },
        {},
      ),
    )
    expect(error.message).toBe('imgs has 6 images but lbls has 5 labels; they must be a matching pair')
  })

  it.skipIf(!existsSync(FASHION_IMAGES) || !existsSync(FASHION_LABELS))(
    'imports the real Fashion-MNIST test set (10,000 × 28×28, 10 classes)',
    async () => {
      const d = importIdxDataset(
        { bytes: await readFile(FASHION_IMAGES), file: FASHION_IMAGES },
        { bytes: await readFile(FASHION_LABELS), file: FASHION_LABELS },
      )
      expect(d.manifest).toMatchObject({
        name: 't10k-images-idx3-ubyte',
        rows: 10_000,
        featureDim: 784,
        shape: [28, 28, 1],
        subjects: 10_000,
      })
      expect(d.subjects[0]).toBe('S-0000')
      expect(d.subjects[9999]).toBe('S-9999')
      expect(new Set(d.labels).size).toBe(10)
      // Fashion-MNIST's test set has exactly 1000 images per class; a 0.2 split holds out 200 of each.
      expect(d.test).toHaveLength(2000)
      let max = 0
      for (const v of d.features) if (v > max) max = v
      expect(max).toBe(1)
    },
  )
})
