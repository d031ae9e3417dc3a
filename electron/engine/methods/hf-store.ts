/**
 * The on-disk store of HF's per-sample vectors (n rows × d values, ALGORITHMS.md §2.4). A deletion
 * reads only the rows it removes, each by its offset, and checks each against its own CRC32.
 *
 * Layout (little-endian):
 *   8 bytes  magic "LETHEHF1"
 *   u32      header length L
 *   u32      CRC32 of (header JSON ‖ checksum table)
 *   L bytes  header JSON (utf8), then zero padding to a multiple of 8
 *   count × u32  checksum table: CRC32 of each row's stored bytes
 *   count × dim × (4 | 2) bytes  the rows, float32 or float16
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { LetheError } from '../../contract/errors'
import { addFloat16Bits, toFloat16Bits } from '../../lib/float16'
import { syncFolder } from '../../lib/files'

export interface StatisticsHeader {
  format: 'lethe-hf-statistics'
  version: 1
  modelId: string
  paramsSha256: string
  runId: string
  dim: number
  count: number
  dtype: 'float32' | 'float16'
  trainRowsSha256: string
  createdAt: string
}

const MAGIC = Buffer.from('LETHEHF1', 'latin1')
const PREFIX_BYTES = 16
/** Real headers are a few hundred bytes; a larger length field is damage, not a header to allocate. */
const MAX_HEADER_BYTES = 1 << 20
/** Rows are written in chunks of about this size, so a 1.6 GB store never sits in one buffer. */
const CHUNK_BYTES = 4 << 20

// Rows are stored little-endian and viewed in place as typed arrays, which use the host's order.
if (os.endianness() !== 'LE') throw new Error('HF statistics need a little-endian host.')

const bytesPerValue = (dtype: StatisticsHeader['dtype']): number => (dtype === 'float32' ? 4 : 2)

/** Where the table and the rows start, and how long the whole file is. */
function layoutOf(headerBytes: number, dim: number, count: number, dtype: StatisticsHeader['dtype']) {
  const tableOffset = Math.ceil((PREFIX_BYTES + headerBytes) / 8) * 8
  const rowsOffset = tableOffset + 4 * count
  const rowBytes = dim * bytesPerValue(dtype)
  return { tableOffset, rowsOffset, rowBytes, fileBytes: rowsOffset + count * rowBytes }
}

/** A positioned write may be short (a full disk, a signal): repeat until every byte is out. */
async function writeAll(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done)
    done += bytesWritten
  }
}

/**
 * Writes the store crash-safely (temporary file, fsync, rename, folder sync), streaming the rows in
 * chunks: the rows go first, then the checksum table and the header that covers it.
 */
export async function writeStatistics(
  file: string,
  header: Omit<StatisticsHeader, 'format' | 'version'>,
  rows: Float32Array,
): Promise<{ bytes: number }> {
  const { dim, count, dtype } = header
  if (!Number.isSafeInteger(dim) || dim < 1 || !Number.isSafeInteger(count) || count < 0) {
    throw new LetheError(
      'BAD_INPUT',
      `HF statistics need dim ≥ 1 and count ≥ 0 whole numbers, not ${dim} and ${count}.`,
    )
  }
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new LetheError('BAD_INPUT', `HF statistics are stored as float32 or float16, not ${String(dtype)}.`)
  }
  if (rows.length !== dim * count) {
    throw new LetheError(
      'BAD_INPUT',
      `${count} rows of ${dim} values need ${dim * count} values, not ${rows.length}.`,
    )
  }
  const full: StatisticsHeader = {
    format: 'lethe-hf-statistics',
    version: 1,
    modelId: header.modelId,
    paramsSha256: header.paramsSha256,
    runId: header.runId,
    dim,
    count,
    dtype,
    trainRowsSha256: header.trainRowsSha256,
    createdAt: header.createdAt,
  }
  const json = Buffer.from(JSON.stringify(full), 'utf8')
  const { tableOffset, rowsOffset, rowBytes, fileBytes } = layoutOf(json.length, dim, count, dtype)
  const table = new Uint32Array(count)

  const temp = `${file}.${process.pid}.tmp`
  const handle = await open(temp, 'w', 0o600)
  try {
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes))
    const halves = dtype === 'float16' ? new Uint16Array(Math.min(count, rowsPerChunk) * dim) : undefined
    for (let first = 0; first < count; first += rowsPerChunk) {
      const chunkRows = Math.min(rowsPerChunk, count - first)
      const values = rows.subarray(first * dim, (first + chunkRows) * dim)
      let stored: Buffer
      if (halves) {
        const target = halves.subarray(0, values.length)
        toFloat16Bits(values, target)
        stored = Buffer.from(target.buffer, target.byteOffset, target.byteLength)
      } else {
        stored = Buffer.from(values.buffer, values.byteOffset, values.byteLength)
      }
      for (let r = 0; r < chunkRows; r++)
        table[first + r] = crc32(stored.subarray(r * rowBytes, (r + 1) * rowBytes))
      await writeAll(handle, stored, rowsOffset + first * rowBytes)
    }

    const head = Buffer.alloc(rowsOffset) // zero-filled, so the padding is zeros
    MAGIC.copy(head, 0)
    head.writeUInt32LE(json.length, 8)
    const tableBytes = Buffer.from(table.buffer, table.byteOffset, table.byteLength)
    head.writeUInt32LE(crc32(tableBytes, crc32(json)), 12)
    json.copy(head, PREFIX_BYTES)
    tableBytes.copy(head, tableOffset)
    await writeAll(handle, head, 0)
    await handle.sync()
  } catch (error) {
    await handle.close()
    await rm(temp, { force: true })
    throw error
  }
  await handle.close()
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  syncFolder(path.dirname(file))
  return { bytes: fileBytes }
}

function readExactly(fd: number, buffer: Uint8Array, position: number): number {
  let done = 0
  while (done < buffer.length) {
    const read = readSync(fd, buffer, done, buffer.length - done, position + done)
    if (read === 0) break
    done += read
  }
  return done
}

function parseHeader(file: string, json: Buffer): StatisticsHeader {
  let header: unknown
  try {
    header = JSON.parse(json.toString('utf8'))
  } catch {
    throw new LetheError('CORRUPT', `The header of ${file} is damaged: it is not valid JSON.`, { file })
  }
  const h = header as Partial<Record<keyof StatisticsHeader, unknown>>
  const wholeNumber = (value: unknown) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
  const valid =
    typeof header === 'object' &&
    header !== null &&
    h.format === 'lethe-hf-statistics' &&
    typeof h.version === 'number' &&
    ['modelId', 'paramsSha256', 'runId', 'trainRowsSha256', 'createdAt'].every(
      (key) => typeof h[key as keyof StatisticsHeader] === 'string',
    ) &&
    wholeNumber(h.dim) &&
    (h.dim as number) > 0 &&
    wholeNumber(h.count) &&
    (h.dtype === 'float32' || h.dtype === 'float16')
  if (!valid)
    throw new LetheError('CORRUPT', `The header of ${file} is damaged: fields are missing.`, { file })
  return header as StatisticsHeader
}

const short = (sha: string) => sha.slice(0, 12)

/** An open store: rows are read on demand, one positioned read each, into one reusable buffer. */
export class StatisticsFile {
  private readonly rowBuffer: Buffer
  private readonly rowFloats: Float32Array | undefined
  private readonly rowHalves: Uint16Array | undefined
  private fd: number | undefined

  private constructor(
    readonly file: string,
    fd: number,
    readonly header: StatisticsHeader,
    readonly bytes: number,
    private readonly table: Uint32Array,
    private readonly rowsOffset: number,
    private readonly rowBytes: number,
  ) {
    this.fd = fd
    // An ArrayBuffer of our own, so the typed views over it are aligned.
    const storage = new ArrayBuffer(rowBytes)
    this.rowBuffer = Buffer.from(storage)
    this.rowFloats = header.dtype === 'float32' ? new Float32Array(storage) : undefined
    this.rowHalves = header.dtype === 'float16' ? new Uint16Array(storage) : undefined
  }

  /**
   * Opens and checks a store: magic, header checksum, exact size, and that it belongs to the model
   * parameters and training run the caller expects.
   */
  static open(
    file: string,
    expect: { paramsSha256: string; runId: string; dim: number; count: number },
  ): StatisticsFile {
    let fd: number
    try {
      fd = openSync(file, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new LetheError('NOT_FOUND', `No HF statistics at ${file}.`, { file })
      }
      throw error
    }
    try {
      return StatisticsFile.check(file, fd, expect)
    } catch (error) {
      closeSync(fd)
      throw error
    }
  }

  private static check(
    file: string,
    fd: number,
    expect: { paramsSha256: string; runId: string; dim: number; count: number },
  ): StatisticsFile {
    const size = fstatSync(fd).size
    const prefix = Buffer.alloc(PREFIX_BYTES)
    if (readExactly(fd, prefix, 0) < PREFIX_BYTES || !prefix.subarray(0, 8).equals(MAGIC)) {
      throw new LetheError('BAD_INPUT', `${file} is not an HF statistics file.`, { file })
    }
    const headerBytes = prefix.readUInt32LE(8)
    if (headerBytes > MAX_HEADER_BYTES) {
      throw new LetheError(
        'CORRUPT',
        `The header of ${file} is damaged: its length field reads ${headerBytes}.`,
        {
          file,
        },
      )
    }
    const truncated = (needed: number) =>
      new LetheError('CORRUPT', `${file} is truncated: it holds ${size} bytes, the header says ${needed}.`, {
        file,
      })
    if (size < PREFIX_BYTES + headerBytes) throw truncated(PREFIX_BYTES + headerBytes)
    const json = Buffer.alloc(headerBytes)
    readExactly(fd, json, PREFIX_BYTES)
    const header = parseHeader(file, json)
    const { tableOffset, rowsOffset, rowBytes, fileBytes } = layoutOf(
      headerBytes,
      header.dim,
      header.count,
      header.dtype,
    )
    if (size < rowsOffset) throw truncated(fileBytes)
    const table = new Uint32Array(header.count)
    readExactly(fd, new Uint8Array(table.buffer), tableOffset)
    if (crc32(new Uint8Array(table.buffer), crc32(json)) !== prefix.readUInt32LE(12)) {
      throw new LetheError('CORRUPT', `The header of ${file} is damaged: its checksum does not match.`, {
        file,
      })
    }
    if (header.version !== 1) {
      throw new LetheError(
        'BAD_INPUT',
        `${file} is HF statistics version ${header.version}; this Lethe reads version 1.`,
      )
    }
    if (size < fileBytes) throw truncated(fileBytes)
    if (size > fileBytes) {
      throw new LetheError('CORRUPT', `${file} holds ${size} bytes, the header says ${fileBytes}.`, { file })
    }
    if (header.paramsSha256 !== expect.paramsSha256 || header.runId !== expect.runId) {
      throw new LetheError(
        'BAD_INPUT',
        `These statistics were recorded for model ${header.modelId} with parameters ${short(header.paramsSha256)} ` +
          `(run ${header.runId}), not for parameters ${short(expect.paramsSha256)} (run ${expect.runId}).`,
      )
    }
    if (header.dim !== expect.dim || header.count !== expect.count) {
      throw new LetheError(
        'BAD_INPUT',
        `These statistics hold ${header.count} rows of ${header.dim} values, not ${expect.count} rows of ${expect.dim}.`,
      )
    }
    return new StatisticsFile(file, fd, header, size, table, rowsOffset, rowBytes)
  }

  /**
   * target += scale · Σ rows[indices]. Accumulates in float64 when target is a Float64Array. A
   * damaged row stops the sum with CORRUPT and leaves target partly updated: discard it then.
   */
  addRows(indices: ArrayLike<number>, target: Float32Array | Float64Array, scale = 1): void {
    const { dim, count } = this.header
    if (target.length !== dim) {
      throw new LetheError('BAD_INPUT', `The target holds ${target.length} values; these rows hold ${dim}.`)
    }
    for (let k = 0; k < indices.length; k++) {
      const index = indices[k] as number
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new LetheError(
          'BAD_INPUT',
          `Row ${index} is out of range: ${this.file} holds rows 0 to ${count - 1}.`,
        )
      }
    }
    const fd = this.openFd()
    for (let k = 0; k < indices.length; k++) {
      const index = indices[k] as number
      const read = readExactly(fd, this.rowBuffer, this.rowsOffset + index * this.rowBytes)
      if (read < this.rowBytes) {
        throw new LetheError(
          'CORRUPT',
          `${this.file} is truncated: row ${index} ends past the end of the file.`,
          {
            file: this.file,
          },
        )
      }
      if (crc32(this.rowBuffer) !== this.table[index]) {
        throw new LetheError(
          'CORRUPT',
          `Row ${index} of ${this.file} is damaged: its checksum does not match.`,
          {
            file: this.file,
            row: index,
          },
        )
      }
      if (this.rowHalves) {
        addFloat16Bits(this.rowHalves, target, scale)
      } else {
        const row = this.rowFloats as Float32Array
        for (let i = 0; i < dim; i++) target[i] = (target[i] as number) + scale * (row[i] as number)
      }
    }
  }

  /** One row as float32 values. */
  readRow(index: number): Float32Array {
    const row = new Float32Array(this.header.dim)
    this.addRows([index], row)
    return row
  }

  close(): void {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
  }

  private openFd(): number {
    if (this.fd === undefined) throw new LetheError('INTERNAL', `${this.file} was read after it was closed.`)
    return this.fd
  }
}
