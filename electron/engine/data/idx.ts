/**
 * IDX files (the MNIST / Fashion-MNIST format): a 4-byte magic `00 00 <type> <ndim>`, then ndim
 * big-endian uint32 dimensions, then the values, big-endian, row-major. Often gzipped.
 * http://yann.lecun.com/exdb/mnist/ describes the format.
 */
import { gunzipSync } from 'node:zlib'
import { sha256Hex } from '../../lib/digest'
import { LetheError } from '../../contract/errors'
import {
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
  MIN_ROWS,
  datasetId,
  datasetName,
  hashDatasetFiles,
  splitRows,
  type Dataset,
  baseName,
  type DatasetManifest,
} from './dataset'

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array

/** Type byte → element name and size in bytes. */
const TYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: 'unsigned byte', size: 1 },
  0x09: { name: 'signed byte', size: 1 },
  0x0b: { name: 'short', size: 2 },
  0x0c: { name: 'int', size: 4 },
  0x0d: { name: 'float', size: 4 },
  0x0e: { name: 'double', size: 8 },
}

const hex = (b: number | undefined): string => `0x${(b ?? 0).toString(16).padStart(2, '0')}`

function badIdx(file: string, problem: string): LetheError {
  return new LetheError('BAD_INPUT', `${file}: ${problem}`, { file })
}

export const isGzip = (bytes: Uint8Array): boolean => bytes[0] === 0x1f && bytes[1] === 0x8b

/** Whether `bytes` start as an IDX file of unsigned bytes with 1 or 3 dimensions: labels or images. */
export const hasIdxMagic = (bytes: Uint8Array): boolean =>
  bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0x08 && (bytes[3] === 1 || bytes[3] === 3)

/** Largest IDX file taken, inflated: room for EMNIST's 814,255 images, not for a gzip bomb. */
const MAX_IDX_BYTES = 1024 ** 3

function tooLarge(file: string, maxBytes: number): LetheError {
  return new LetheError(
    'TOO_LARGE',
    `${file}: the IDX data is larger than ${maxBytes / 1024 ** 2} MiB, the most an import takes.`,
    { file, maxBytes },
  )
}

/** An IDX file's dimensions and values, gzipped or not; refused when its data exceeds `maxBytes`. */
export function parseIdx(
  bytes: Uint8Array,
  file: string,
  maxBytes = MAX_IDX_BYTES,
): { dims: number[]; data: IdxData } {
  let raw = bytes
  if (isGzip(bytes)) {
    try {
      // Capped: a small gzip can inflate to gigabytes, and would be refused only after taking them.
      raw = gunzipSync(bytes, { maxOutputLength: maxBytes })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(file, maxBytes)
      throw badIdx(file, `the gzip data is damaged (${(error as Error).message}); download the file again`)
    }
  } else if (bytes.length > maxBytes) throw tooLarge(file, maxBytes)
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) {
    const start = Array.from(raw.subarray(0, 4), hex).join(' ')
    throw badIdx(
      file,
      `not an IDX file: it starts with ${start || 'nothing'}, expected 0x00 0x00 <type> <dimensions>`,
    )
  }
  const typeByte = raw[2] ?? 0
  const type = TYPES[typeByte]
  if (!type) {
    throw badIdx(
      file,
      `unknown IDX element type ${hex(typeByte)} (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)`,
    )
  }
  const ndim = raw[3] ?? 0
  if (ndim === 0) throw badIdx(file, 'the IDX header declares 0 dimensions')
  const headerBytes = 4 + 4 * ndim
  if (raw.length < headerBytes) {
    throw badIdx(file, `truncated: the header needs ${headerBytes} bytes but the file has ${raw.length}`)
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const dims: number[] = []
  for (let k = 0; k < ndim; k++) dims.push(view.getUint32(4 + 4 * k, false))
  const count = dims.reduce((a, b) => a * b, 1)
  const expected = count * type.size
  const actual = raw.length - headerBytes
  if (actual < expected) {
    throw badIdx(
      file,
      `truncated: dimensions [${dims.join(', ')}] of ${type.name} need ${expected} data bytes, but only ${actual} follow the header`,
    )
  }
  if (actual > expected) {
    throw badIdx(
      file,
      `${actual - expected} unexpected bytes after the data: dimensions [${dims.join(', ')}] of ${type.name} need ${expected} data bytes, but ${actual} follow the header`,
    )
  }

  let data: IdxData
  const at = (i: number) => headerBytes + i * type.size
  switch (typeByte) {
    // Copies, never views: `raw` may be a Buffer over a shared pool (Buffer#slice does not copy).
    case 0x08:
      data = new Uint8Array(raw.subarray(headerBytes))
      break
    case 0x09:
      data = new Int8Array(new Uint8Array(raw.subarray(headerBytes)).buffer)
      break
    case 0x0b:
      data = new Int16Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getInt16(at(i), false)
      break
    case 0x0c:
      data = new Int32Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getInt32(at(i), false)
      break
    case 0x0d:
      data = new Float32Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at(i), false)
      break
    default:
      data = new Float64Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(at(i), false)
  }
  return { dims, data }
}

/** An uncompressed unsigned-byte IDX file (for tests and fixtures). */
export function writeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1)
  if (count !== data.length)
    throw new RangeError(`dimensions [${dims.join(', ')}] need ${count} values, got ${data.length}`)
  const out = new Uint8Array(4 + 4 * dims.length + data.length)
  const view = new DataView(out.buffer)
  out[2] = 0x08
  out[3] = dims.length
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false))
  out.set(data, 4 + 4 * dims.length)
  return out
}

export interface IdxImportOptions {
  /** Display name; defaults to the images file's base name without `.gz`. */
  name?: string
  testFraction?: number
  seed?: number
  createdAt?: string
}

const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']

/**
 * An image dataset from an IDX images file ([n, h, w] unsigned bytes) and labels file ([n] unsigned
 * bytes, 0..9). Pixels are scaled to [0, 1].
 */
export function importIdxDataset(
  images: { bytes: Uint8Array; file: string },
  labels: { bytes: Uint8Array; file: string },
  options: IdxImportOptions = {},
): Dataset {
  const imageFile = baseName(images.file)
  const labelFile = baseName(labels.file)
  const img = parseIdx(images.bytes, imageFile)
  const lab = parseIdx(labels.bytes, labelFile)
  if (img.dims.length !== 3 || !(img.data instanceof Uint8Array)) {
    throw badIdx(
      imageFile,
      `expected images: 3 dimensions [count, height, width] of unsigned bytes, got [${img.dims.join(', ')}]`,
    )
  }
  if (lab.dims.length !== 1 || !(lab.data instanceof Uint8Array)) {
    throw badIdx(
      labelFile,
      `expected labels: 1 dimension [count] of unsigned bytes, got [${lab.dims.join(', ')}]`,
    )
  }
  const [n = 0, height = 0, width = 0] = img.dims
  const pixels = img.data
  const labelBytes = lab.data
  if (labelBytes.length !== n) {
    throw new LetheError(
      'BAD_INPUT',
      `${imageFile} has ${n} images but ${labelFile} has ${labelBytes.length} labels; they must be a matching pair`,
      { file: labelFile, images: n, labels: labelBytes.length },
    )
  }
  if (n < MIN_ROWS) throw badIdx(imageFile, `${n} images; a dataset needs at least ${MIN_ROWS}`)
  const bad = labelBytes.findIndex((label) => label >= DIGIT_CLASSES.length)
  if (bad >= 0) throw badIdx(labelFile, `label ${labelBytes[bad]} at row ${bad} is not a class 0-9`)
  const labelIds = Int32Array.from(labelBytes)
  if (new Set(labelIds).size < 2)
    throw badIdx(labelFile, 'all labels are the same class; a classifier needs at least 2')

  const features = new Float32Array(pixels.length)
  for (let i = 0; i < pixels.length; i++) features[i] = (pixels[i] ?? 0) / 255

  // IDX files carry no subject ids. We generate one subject per row, `S-` + the zero-padded row
  // index, so that single images can still be forgotten; the ids are deterministic, not real people.
  const width10 = String(n - 1).length
  const subjects = Array.from({ length: n }, (_, row) => `S-${String(row).padStart(width10, '0')}`)

  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION
  const seed = options.seed ?? DEFAULT_SPLIT_SEED
  const { train, test } = splitRows(labelIds, testFraction, seed)
  const contentHash = sha256Hex(images.bytes, labels.bytes)
  const manifest: DatasetManifest = {
    id: datasetId(contentHash),
    name: datasetName(options.name ?? imageFile.replace(/\.gz$/i, '')),
    kind: 'image',
    source: { file: imageFile, format: 'idx' },
    contentHash,
    rows: n,
    featureDim: height * width,
    shape: [height, width, 1],
    classes: [...DIGIT_CLASSES],
    encoding: null,
    columns: null,
    split: { seed, testFraction, train: train.length, test: test.length },
    subjects: n,
    filesSha256: hashDatasetFiles(features, labelIds, subjects),
    createdAt: options.createdAt ?? new Date().toISOString(),
  }
  return { manifest, features, labels: labelIds, subjects, train, test }
}
