import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  StatisticsFile,
  writeStatistics,
  type StatisticsHeader,
} from '../../electron/engine/methods/hf-store'
import { Random } from '../../electron/engine/random'
import { tempDir } from '../support/fixtures'

const DIM = 37
const COUNT = 11
const PARAMS = 'a'.repeat(64)
const RUN = 'run-1'

function header(dtype: StatisticsHeader['dtype']): Omit<StatisticsHeader, 'format' | 'version'> {
  return {
    modelId: 'model-1',
    paramsSha256: PARAMS,
    runId: RUN,
    dim: DIM,
    count: COUNT,
    dtype,
    trainRowsSha256: 'b'.repeat(64),
    createdAt: '2025-01-01T00:00:00.000Z',
  }
}

function sampleRows(seed = 7): Float32Array {
  const random = new Random(seed)
  return new Float32Array(DIM * COUNT).map(() => random.normal() * 10)
}

const expectation = { paramsSha256: PARAMS, runId: RUN, dim: DIM, count: COUNT }

let opened: StatisticsFile[] = []
const openStore = (file: string, expect = expectation) => {
  const store = StatisticsFile.open(file, expect)
  opened.push(store)
  return store
}
afterEach(() => {
  for (const store of opened) store.close()
  opened = []
})

/** Byte offset of the rows: 16-byte prefix, header JSON padded to 8, one u32 checksum per row. */
function rowsOffsetOf(file: string): number {
  const headerBytes = readFileSync(file).readUInt32LE(8)
  return Math.ceil((16 + headerBytes) / 8) * 8 + 4 * COUNT
}

async function written(dtype: StatisticsHeader['dtype'], rows = sampleRows()): Promise<string> {
  const file = path.join(tempDir(), `statistics-${dtype}.bin`)
  await writeStatistics(file, header(dtype), rows)
  return file
}

describe('HF statistics store', () => {
  it('round-trips float32 rows exactly, at the size the layout predicts', async () => {
    const rows = sampleRows()
    const file = path.join(tempDir(), 'statistics.bin')
    const { bytes } = await writeStatistics(file, header('float32'), rows)
    expect(bytes).toBe(statSync(file).size)
    expect(bytes).toBe(rowsOffsetOf(file) + COUNT * DIM * 4)
    const store = openStore(file)
    expect(store.bytes).toBe(bytes)
    expect(store.header).toMatchObject({ format: 'lethe-hf-statistics', version: 1, ...header('float32') })
    for (let i = 0; i < COUNT; i++) expect(store.readRow(i)).toEqual(rows.subarray(i * DIM, (i + 1) * DIM))
  })

  it('round-trips float16 rows within half-precision rounding, at half the row bytes', async () => {
    const rows = sampleRows()
    const file = await written('float16', rows)
    expect(statSync(file).size).toBe(rowsOffsetOf(file) + COUNT * DIM * 2)
    const store = openStore(file)
    for (let i = 0; i < COUNT; i++) {
      const row = store.readRow(i)
      for (let j = 0; j < DIM; j++) {
        const value = rows[i * DIM + j] as number
        expect(Math.abs((row[j] as number) - value)).toBeLessThanOrEqual(1e-3 * Math.abs(value) + 2 ** -24)
      }
    }
  })

  it('adds the chosen rows, scaled, into float32 and float64 targets', async () => {
    const rows = sampleRows()
    const store = openStore(await written('float32', rows))
    const wide = new Float64Array(DIM).fill(1)
    store.addRows([2, 5, 9], wide, -0.5)
    const narrow = new Float32Array(DIM)
    store.addRows(Uint32Array.of(4), narrow, 2)
    for (let j = 0; j < DIM; j++) {
      const at = (i: number) => rows[i * DIM + j] as number
      expect(wide[j]).toBeCloseTo(1 - 0.5 * (at(2) + at(5) + at(9)), 12)
      expect(narrow[j]).toBe(Math.fround(2 * at(4)))
    }
    const untouched = new Float64Array(DIM)
    store.addRows([], untouched)
    expect(untouched.every((value) => value === 0)).toBe(true)
  })

  it('rejects rows out of range and targets of the wrong size', async () => {
    const store = openStore(await written('float32'))
    const target = new Float64Array(DIM)
    for (const index of [-1, COUNT, 1.5, NaN]) {
      expect(() => store.addRows([index], target)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    }
    expect(() => store.addRows([0], new Float64Array(DIM + 1))).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    )
  })

  it('refuses statistics of another model or run, naming both', async () => {
    const file = await written('float32')
    const otherParams = 'c'.repeat(64)
    expect(() => openStore(file, { ...expectation, paramsSha256: otherParams })).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringMatching(
          new RegExp(`recorded for model model-1 .*${PARAMS.slice(0, 12)}.*${otherParams.slice(0, 12)}`),
        ),
      }),
    )
    expect(() => openStore(file, { ...expectation, runId: 'run-2' })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/run run-1.*run run-2/) }),
    )
    expect(() => openStore(file, { ...expectation, count: COUNT + 1 })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    )
  })

  it('reports a truncated file with both sizes', async () => {
    const file = await written('float32')
    const size = statSync(file).size
    truncateSync(file, size - 100)
    expect(() => openStore(file)).toThrow(
      expect.objectContaining({
        code: 'CORRUPT',
        message: expect.stringContaining(
          `is truncated: it holds ${size - 100} bytes, the header says ${size}`,
        ),
      }),
    )
  })

  it('names a damaged row and still reads the others', async () => {
    const rows = sampleRows()
    const file = await written('float16', rows)
    const bytes = readFileSync(file)
    const rowBytes = DIM * 2
    const at = rowsOffsetOf(file) + 3 * rowBytes + 5
    bytes[at] = (bytes[at] as number) ^ 0x01
    writeFileSync(file, bytes)
    const store = openStore(file)
    const target = new Float64Array(DIM)
    expect(() => store.addRows([3], target)).toThrow(
      expect.objectContaining({ code: 'CORRUPT', message: expect.stringContaining('Row 3 ') }),
    )
    const fresh = new Float64Array(DIM)
    store.addRows([2], fresh)
    expect(Array.from(fresh)).toEqual(Array.from(store.readRow(2)))
  })

  it('detects a flipped byte in the header', async () => {
    const file = await written('float32')
    const original = readFileSync(file)
    // One flip keeps the JSON valid (model-1 → mndel-1), the other breaks it.
    for (const at of [original.indexOf('model-1') + 1, original.indexOf('{')]) {
      const bytes = Buffer.from(original)
      bytes[at] = (bytes[at] as number) ^ 0x01
      writeFileSync(file, bytes)
      expect(() => openStore(file)).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
    }
  })

  it('tells a foreign or missing file apart', async () => {
    const folder = tempDir()
    const foreign = path.join(folder, 'notes.txt')
    writeFileSync(foreign, 'These are not the vectors you are looking for.')
    expect(() => openStore(foreign)).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringContaining('not an HF statistics file'),
      }),
    )
    writeFileSync(foreign, '')
    expect(() => openStore(foreign)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    expect(() => openStore(path.join(folder, 'missing.bin'))).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    )
  })

  it('refuses rows that do not match the header and leaves no temporary file', async () => {
    const folder = tempDir()
    const file = path.join(folder, 'statistics.bin')
    await expect(writeStatistics(file, header('float32'), new Float32Array(DIM))).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
    await writeStatistics(file, { ...header('float16'), count: 0 }, new Float32Array(0))
    const empty = openStore(file, { ...expectation, count: 0 })
    expect(empty.header.count).toBe(0)
    expect(readFileSync(file).length).toBe(empty.bytes)
    expect(readdirSync(folder)).toEqual(['statistics.bin'])
  })

  it('streams stores larger than one write chunk', async () => {
    const dim = 100_000
    const count = 25 // 10 MB of float32: three 4 MiB chunks
    const rows = new Float32Array(dim * count).map((_, i) => Math.sin(i) * 100)
    for (const dtype of ['float32', 'float16'] as const) {
      const file = path.join(tempDir(), `large-${dtype}.bin`)
      const { bytes } = await writeStatistics(file, { ...header(dtype), dim, count }, rows)
      expect(bytes).toBe(statSync(file).size)
      const store = openStore(file, { ...expectation, dim, count })
      const tolerance = dtype === 'float32' ? 0 : 1e-3
      for (const index of [0, 9, 10, 24]) {
        const row = store.readRow(index)
        const offset = index * dim
        const close = row.every((value, j) => {
          const stored = rows[offset + j] as number
          return Math.abs(value - stored) <= tolerance * Math.abs(stored) + (tolerance && 2 ** -24)
        })
        expect(close, `row ${index} (${dtype})`).toBe(true)
      }
    }
  })
})
