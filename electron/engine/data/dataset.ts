/**
 * The engine's datasets: encoded features, class labels and the subject id of every row, plus a
 * manifest that says where they came from and how they were encoded.
 *
 * A row's id is its 0-based index in the source file and never changes: unlearning requests name
 * subjects, `rowsOfSubjects` turns them into row ids, and every later step (split, training,
 * certificates) speaks in those ids.
 *
 * On disk a dataset is a folder `<id>/` holding raw little-endian `features.f32` and `labels.i32`,
 * `subjects.json` and `manifest.json`, which records the SHA-256 of the other three. The manifest is
 * written last, so a folder without one is an interrupted save. The train/test split is not stored:
 * it is recomputed from `manifest.split` (seeded, deterministic).
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../../contract/errors'
import { sha256Hex } from '../../lib/digest'
import { removeStaleTempFiles, shredFile, syncFolder, writeFileDurably } from '../../lib/files'
import { controlCharacterIn } from '../../contract/text'
import { Random } from '../random'

export interface DatasetManifest {
  /** 'ds-' + the first 12 hex digits of `contentHash`. */
  id: string
  name: string
  kind: 'tabular' | 'image'
  /** `file` is a base name only; the source's folder is nobody's business once imported. */
  source: { file: string; format: 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'idx' }
  /**
   * SHA-256 (hex) of the source bytes as given (for CSV / TSV, after any byte order mark); for IDX,
   * of the images file then the labels file.
   */
  contentHash: string
  rows: number
  featureDim: number
  /** [height, width, channels] when the features are an image's pixels (IDX, or a CSV imported with an image shape); null otherwise. */
  shape: number[] | null
  /** Label names; a class id is an index into this list. */
  classes: string[]
  /**
   * How tabular columns became features: numeric columns first (standardised with these training-split
   * statistics), then one-hot blocks for categorical columns, each in header order. Null for images,
   * whose pixels are scaled to [0, 1] instead.
   */
  encoding: {
    numeric: { name: string; mean: number; std: number }[]
    categorical: { name: string; categories: string[] }[]
  } | null
  columns: { subject: string; label: string } | null
  split: { seed: number; testFraction: number; train: number; test: number }
  /** Distinct subject ids. */
  subjects: number
  /** Integrity of the stored files. */
  filesSha256: { features: string; labels: string; subjects: string }
  createdAt: string
  /** The version this one was made from by removing subjects' rows; absent for an import. */
  replaces?: string
  /** Set once the data files were shredded: the manifest stays as the tombstone. */
  deleted?: DatasetDeletion
}

export interface DatasetDeletion {
  at: string
  reason: string
  requestId: string | null
  replacedBy: string
  /** The training rows removed, so the models still trained on them can be found once the subject ids are gone. */
  removedTrainRows: number[]
}

export interface Dataset {
  manifest: DatasetManifest
  /** rows × featureDim, row-major, already encoded. */
  features: Float32Array
  /** Class id per row. */
  labels: Int32Array
  /** Subject id per row. */
  subjects: string[]
  /** Row ids of the training split, ascending. */
  train: Int32Array
  /** Row ids of the test split (all the others), ascending. */
  test: Int32Array
}

export const FEATURES_FILE = 'features.f32'
export const LABELS_FILE = 'labels.i32'
export const SUBJECTS_FILE = 'subjects.json'
export const MANIFEST_FILE = 'manifest.json'

/** Split defaults for importers: a fifth of each class held out, with a fixed seed. */
export const DEFAULT_TEST_FRACTION = 0.2
export const DEFAULT_SPLIT_SEED = 42

/** Fewest rows an importer accepts: two classes, each with a training row and a test row. */
export const MIN_ROWS = 4

const ID_PATTERN = /^ds-[0-9a-f]{12}$/

/** A file's base name, from a POSIX or a Windows path. */
export function baseName(file: string): string {
  return file.split(/[\\/]/).pop() ?? file
}

/** An importer's display name, once checked: lists, reports and certificates show it. */
export function datasetName(name: string): string {
  const control = controlCharacterIn(name)
  if (control !== undefined) {
    throw new LetheError(
      'BAD_INPUT',
      `The dataset name ${JSON.stringify(name)} holds the control character ${control}; a name may not hold control characters (--name gives another).`,
      { field: 'name', name },
    )
  }
  return name
}

export function datasetId(contentHash: string): string {
  return `ds-${contentHash.slice(0, 12)}`
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** An array's little-endian bytes: on a little-endian host its own memory, not a copy (features can be gigabytes). */
function littleEndianBytes(array: Float32Array | Int32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
  const bytes = new Uint8Array(array.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < array.length; i++) {
    if (array instanceof Float32Array) view.setFloat32(i * 4, array[i] ?? 0, true)
    else view.setInt32(i * 4, array[i] ?? 0, true)
  }
  return bytes
}

/** The bytes of the three stored data files. Explicitly little-endian, whatever the host's order. */
export function encodeDatasetFiles(
  features: Float32Array,
  labels: Int32Array,
  subjects: readonly string[],
): { features: Uint8Array; labels: Uint8Array; subjects: Uint8Array } {
  return {
    features: littleEndianBytes(features),
    labels: littleEndianBytes(labels),
    subjects: new TextEncoder().encode(JSON.stringify(subjects) + '\n'),
  }
}

/** SHA-256 of each stored file, as recorded in `manifest.filesSha256`. */
export function hashDatasetFiles(
  features: Float32Array,
  labels: Int32Array,
  subjects: readonly string[],
): DatasetManifest['filesSha256'] {
  const files = encodeDatasetFiles(features, labels, subjects)
  return {
    features: sha256Hex(files.features),
    labels: sha256Hex(files.labels),
    subjects: sha256Hex(files.subjects),
  }
}

/**
 * Seeded, stratified split: within each class (in class-id order) the rows are shuffled and the first
 * round(size × testFraction) go to the test split, but every class keeps at least one training row
 * so that the model sees every class. Same labels, fraction and seed → same split.
 */
export function splitRows(
  labels: Int32Array,
  testFraction: number,
  seed: number,
): { train: Int32Array; test: Int32Array } {
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new LetheError('BAD_INPUT', `testFraction must be at least 0 and below 1, got ${testFraction}`)
  }
  const byClass = new Map<number, number[]>()
  labels.forEach((label, row) => {
    const rows = byClass.get(label)
    if (rows) rows.push(row)
    else byClass.set(label, [row])
  })
  const random = new Random(seed)
  const isTest = new Uint8Array(labels.length)
  let testCount = 0
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = random.shuffle(byClass.get(label) ?? [])
    const count = Math.min(Math.round(rows.length * testFraction), rows.length - 1)
    for (let k = 0; k < count; k++) isTest[rows[k] ?? 0] = 1
    testCount += count
  }
  const train = new Int32Array(labels.length - testCount)
  const test = new Int32Array(testCount)
  let t = 0
  let s = 0
  for (let row = 0; row < labels.length; row++) {
    if (isTest[row]) test[s++] = row
    else train[t++] = row
  }
  return { train, test }
}

/** Subject id → its row ids, ascending. */
export function subjectIndex(subjects: readonly string[]): Map<string, number[]> {
  const index = new Map<string, number[]>()
  subjects.forEach((subject, row) => {
    const rows = index.get(subject)
    if (rows) rows.push(row)
    else index.set(subject, [row])
  })
  return index
}

/** The rows of the named subjects (ascending, no repeats) and the ids that match no row. */
export function rowsOfSubjects(
  dataset: Dataset,
  subjectIds: readonly string[],
): { rows: number[]; unknown: string[] } {
  const index = subjectIndex(dataset.subjects)
  const rows = new Set<number>()
  const unknown = new Set<string>()
  for (const id of subjectIds) {
    const found = index.get(id)
    if (found) for (const row of found) rows.add(row)
    else unknown.add(id)
  }
  return { rows: [...rows].sort((a, b) => a - b), unknown: [...unknown] }
}

/**
 * Writes `folder/<id>/`. The recorded `filesSha256` is computed from the data being written, so the
 * stored manifest always describes the stored files.
 */
export async function saveDataset(folder: string, dataset: Dataset): Promise<void> {
  const { manifest } = dataset
  if (!ID_PATTERN.test(manifest.id)) throw new LetheError('BAD_INPUT', `bad dataset id ${manifest.id}`)
  const dir = path.join(folder, manifest.id)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  // Re-saving: drop the old manifest first, so a crash part-way leaves an interrupted save (no
  // manifest) rather than an old manifest over new files.
  await rm(path.join(dir, MANIFEST_FILE), { force: true })
  const files = encodeDatasetFiles(dataset.features, dataset.labels, dataset.subjects)
  const stored: DatasetManifest = {
    ...manifest,
    filesSha256: {
      features: sha256Hex(files.features),
      labels: sha256Hex(files.labels),
      subjects: sha256Hex(files.subjects),
    },
  }
  await writeFileDurably(path.join(dir, FEATURES_FILE), files.features)
  await writeFileDurably(path.join(dir, LABELS_FILE), files.labels)
  await writeFileDurably(path.join(dir, SUBJECTS_FILE), files.subjects)
  // Last: a manifest on disk promises that the files it hashes are complete.
  await writeFileDurably(
    path.join(dir, MANIFEST_FILE),
    new TextEncoder().encode(JSON.stringify(stored, null, 2) + '\n'),
  )
  syncFolder(folder)
}

function corrupt(id: string, file: string, problem: string): LetheError {
  return new LetheError('CORRUPT', `Dataset ${id}: ${path.basename(file)} ${problem}.`, { dataset: id, file })
}

/** Reads a stored data file; a missing one is damage (the manifest promised it). */
async function readStored(id: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(id, file, 'is missing')
    throw error
  }
}

function checkFile(id: string, file: string, bytes: Uint8Array, size: number, sha256: string): void {
  if (bytes.length !== size) {
    throw corrupt(
      id,
      file,
      `has ${bytes.length} bytes but the manifest expects ${size} (truncated or damaged)`,
    )
  }
  if (sha256Hex(bytes) !== sha256)
    throw corrupt(id, file, 'does not match its SHA-256 in the manifest (damaged)')
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isHex64 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)

/** Just enough shape checking that the loader cannot be led astray by an edited manifest. */
function checkManifest(id: string, file: string, value: unknown): DatasetManifest {
  const m = value as Partial<DatasetManifest> | null
  const ok =
    typeof m === 'object' &&
    m !== null &&
    m.id === id &&
    typeof m.name === 'string' &&
    typeof m.createdAt === 'string' &&
    isCount(m.rows) &&
    isCount(m.featureDim) &&
    Array.isArray(m.classes) &&
    m.classes.every((c) => typeof c === 'string') &&
    typeof m.split === 'object' &&
    m.split !== null &&
    typeof m.split.seed === 'number' &&
    typeof m.split.testFraction === 'number' &&
    typeof m.filesSha256 === 'object' &&
    m.filesSha256 !== null &&
    isHex64(m.filesSha256.features) &&
    isHex64(m.filesSha256.labels) &&
    isHex64(m.filesSha256.subjects)
  if (!ok) throw corrupt(id, file, 'is not a valid dataset manifest')
  return m as DatasetManifest
}

function parseManifest(id: string, file: string, text: string): DatasetManifest {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw corrupt(id, file, 'is not valid JSON (truncated or damaged)')
  }
  return checkManifest(id, file, parsed)
}

export async function loadDataset(folder: string, id: string): Promise<Dataset> {
  // The id becomes a path: anything but the exact shape could escape `folder`.
  if (!ID_PATTERN.test(id)) throw new LetheError('NOT_FOUND', `No dataset ${JSON.stringify(id)}.`, { id })
  const dir = path.join(folder, id)
  const manifestFile = path.join(dir, MANIFEST_FILE)
  let text: string
  try {
    text = await readFile(manifestFile, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LetheError('NOT_FOUND', `No dataset ${id}.`, { id })
    }
    throw error
  }
  const manifest = parseManifest(id, manifestFile, text)
  if (manifest.deleted) throw deletedDatasetError(manifest)
  const { rows, featureDim } = manifest

  const featuresFile = path.join(dir, FEATURES_FILE)
  const featureBytes = await readStored(id, featuresFile)
  checkFile(id, featuresFile, featureBytes, rows * featureDim * 4, manifest.filesSha256.features)
  const labelsFile = path.join(dir, LABELS_FILE)
  const labelBytes = await readStored(id, labelsFile)
  checkFile(id, labelsFile, labelBytes, rows * 4, manifest.filesSha256.labels)
  const subjectsFile = path.join(dir, SUBJECTS_FILE)
  const subjectBytes = await readStored(id, subjectsFile)
  if (sha256Hex(subjectBytes) !== manifest.filesSha256.subjects) {
    throw corrupt(id, subjectsFile, 'does not match its SHA-256 in the manifest (damaged)')
  }

  const features = new Float32Array(rows * featureDim)
  const fView = new DataView(featureBytes.buffer, featureBytes.byteOffset, featureBytes.byteLength)
  for (let i = 0; i < features.length; i++) features[i] = fView.getFloat32(i * 4, true)
  const labels = new Int32Array(rows)
  const lView = new DataView(labelBytes.buffer, labelBytes.byteOffset, labelBytes.byteLength)
  for (let i = 0; i < rows; i++) {
    const label = lView.getInt32(i * 4, true)
    if (label < 0 || label >= manifest.classes.length) {
      throw corrupt(id, labelsFile, `holds class id ${label} at row ${i}, outside the manifest's classes`)
    }
    labels[i] = label
  }
  // The hash matched, so this is the JSON we wrote; still check it is what we expect.
  const subjects: unknown = JSON.parse(subjectBytes.toString('utf8'))
  if (!Array.isArray(subjects) || subjects.length !== rows || !subjects.every((s) => typeof s === 'string')) {
    throw corrupt(id, subjectsFile, `is not a list of ${rows} subject ids`)
  }

  const { train, test } = splitRows(labels, manifest.split.testFraction, manifest.split.seed)
  if (train.length !== manifest.split.train || test.length !== manifest.split.test) {
    throw corrupt(id, manifestFile, 'records a split that its seed no longer reproduces')
  }
  return { manifest, features, labels, subjects: subjects as string[], train, test }
}

/**
 * Manifests of the stored datasets, oldest first. A folder without a manifest is an interrupted
 * save and is left out; a damaged manifest is CORRUPT, as for models. Temporary files of killed
 * writers go.
 */
export async function listDatasets(folder: string): Promise<DatasetManifest[]> {
  let entries: string[]
  try {
    entries = await readdir(folder)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  await removeStaleTempFiles(folder)
  const manifests: DatasetManifest[] = []
  for (const entry of entries.filter((e) => ID_PATTERN.test(e))) {
    const file = path.join(folder, entry, MANIFEST_FILE)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw error
    }
    manifests.push(parseManifest(entry, file, text))
  }
  return manifests.sort((a, b) =>
    a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt < b.createdAt ? -1 : 1,
  )
}

/** What refuses every use of a deleted dataset's rows, naming when, why and what replaced it. */
export function deletedDatasetError(manifest: DatasetManifest): LetheError {
  const deletion = manifest.deleted as DatasetDeletion
  return new LetheError(
    'CONFLICT',
    `Dataset ${manifest.id} (${manifest.name}) was deleted on ${deletion.at} ("${deletion.reason}") and replaced by ${deletion.replacedBy}: its rows no longer exist. Train a new model on ${deletion.replacedBy}.`,
    { dataset: manifest.id, deleted: deletion },
  )
}

/**
 * A new dataset version without the given rows (its id from the stored files' hashes, its split
 * recomputed with the same seed), then the old version's files shredded, its manifest kept as a
 * tombstone. The features keep the old encoding statistics: re-encoding would change every row.
 */
export async function removeRows(
  folder: string,
  id: string,
  removed: readonly number[],
  deletion: Omit<DatasetDeletion, 'replacedBy' | 'removedTrainRows'>,
): Promise<{ manifest: DatasetManifest; removed: number }> {
  const old = await loadDataset(folder, id)
  const drop = new Set(removed)
  const kept = [...old.subjects.keys()].filter((row) => !drop.has(row))
  if (kept.length === old.manifest.rows)
    throw new LetheError('BAD_INPUT', `None of the given subjects have rows in ${id}; nothing was changed.`)
  if (kept.length < MIN_ROWS)
    throw new LetheError(
      'BAD_INPUT',
      `Only ${kept.length} rows of ${id} would remain; a dataset needs at least ${MIN_ROWS}. Nothing was changed.`,
    )
  const dim = old.manifest.featureDim
  const features = new Float32Array(kept.length * dim)
  kept.forEach((row, i) => features.set(old.features.subarray(row * dim, (row + 1) * dim), i * dim))
  const labels = Int32Array.from(kept, (row) => old.labels[row] ?? 0)
  const subjects = kept.map((row) => old.subjects[row] as string)
  const filesSha256 = hashDatasetFiles(features, labels, subjects)
  const contentHash = sha256Hex(
    new TextEncoder().encode(`${filesSha256.features}${filesSha256.labels}${filesSha256.subjects}`),
  )
  const { seed, testFraction } = old.manifest.split
  const { train, test } = splitRows(labels, testFraction, seed)
  const manifest: DatasetManifest = {
    ...old.manifest,
    id: datasetId(contentHash),
    contentHash,
    rows: kept.length,
    split: { seed, testFraction, train: train.length, test: test.length },
    subjects: new Set(subjects).size,
    filesSha256,
    createdAt: deletion.at,
    replaces: id,
  }
  await saveDataset(folder, { manifest, features, labels, subjects, train, test })
  const inTraining = new Set(old.train)
  const tombstone: DatasetManifest = {
    ...old.manifest,
    deleted: {
      ...deletion,
      replacedBy: manifest.id,
      removedTrainRows: [...drop].filter((row) => inTraining.has(row)).sort((a, b) => a - b),
    },
  }
  await shredDataset(folder, tombstone)
  return { manifest, removed: old.manifest.rows - kept.length }
}

/** Writes the tombstone manifest first (nothing will read the rows again), then shreds the data files. */
async function shredDataset(folder: string, tombstone: DatasetManifest): Promise<void> {
  const dir = path.join(folder, tombstone.id)
  await writeFileDurably(
    path.join(dir, MANIFEST_FILE),
    new TextEncoder().encode(JSON.stringify(tombstone, null, 2) + '\n'),
  )
  for (const file of [FEATURES_FILE, LABELS_FILE, SUBJECTS_FILE]) await shredFile(path.join(dir, file))
}
