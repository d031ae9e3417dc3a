/**
 * Model versions on disk: `models/<id>/params.f32` (the flat vector, little-endian float32)
 * and `manifest.json` (architecture, training configuration, dataset hash, SHA-256 of the
 * parameters, parent version and the method that produced it). The id comes from the
 * parameters' hash, so a version is its content.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../../contract'
import { DurableJsonFile, parseStored } from '../../ledger/durable'
import type { z } from 'zod'
import type {
  ModelOrigin as ModelOriginSchema,
  Preparation as PreparationSchema,
} from '../../contract/engine'
import type { TrainConfig } from '../train'
import type { DatasetManifest } from '../data/dataset'
import { specOf, type Architecture } from './spec'
import { removeStaleTempFiles, shredFile, writeFileDurably } from '../../lib/files'
import { sha256Hex } from '../../lib/digest'

export type Preparation = z.infer<typeof PreparationSchema>

export interface ModelManifest {
  format: 'lethe-model'
  id: string
  name: string
  arch: Architecture
  parameters: number
  paramsSha256: string
  datasetId: string
  datasetHash: string
  /** The recipe, with the initialisation seed, so the run can be replayed. */
  training: TrainConfig & { initSeed: number; trainRows: number }
  /** The version this one was derived from, and how. */
  parentId: string | null
  method: string
  requestId: string | null
  /** Rows of the dataset this version was trained or unlearned without. */
  forgottenRows: number[]
  /** What a research method recorded while this version trained (HF statistics); absent otherwise. */
  preparation?: Preparation
  backend: string
  createdAt: string
  /** Set once the version's parameters and per-row files were shredded: the manifest stays as its tombstone. */
  deleted?: Deletion
  /**
   * Where an imported version came from (the file, its format and SHA-256); absent on versions
   * Lethe trained. Versions unlearned from it keep their root's origin.
   */
  origin?: ModelOrigin
}

export type ModelOrigin = z.infer<typeof ModelOriginSchema>

export interface Deletion {
  at: string
  reason: string
  requestId: string | null
}

const bytesOf = (params: Float32Array) => new Uint8Array(params.buffer, params.byteOffset, params.byteLength)

/** A model version before its parameters give it an identity. */
export type ModelDraft = Omit<ModelManifest, 'format' | 'id' | 'paramsSha256' | 'parameters'>

/** The draft of a freshly trained version (no parent, nothing forgotten). */
export function trainedDraft(args: {
  name: string
  arch: Architecture
  dataset: DatasetManifest
  training: ModelManifest['training']
  backend: string
  createdAt?: string
}): ModelDraft {
  return {
    name: args.name,
    arch: args.arch,
    datasetId: args.dataset.id,
    datasetHash: args.dataset.contentHash,
    training: args.training,
    parentId: null,
    method: 'train',
    requestId: null,
    forgottenRows: [],
    backend: args.backend,
    createdAt: args.createdAt ?? new Date().toISOString(),
  }
}

/** The manifest of a version: its content (the parameters' hash) decides its id. */
export function identify(draft: ModelDraft & Partial<ModelManifest>, params: Float32Array): ModelManifest {
  const spec = specOf(draft.arch)
  if (params.length !== spec.size) {
    throw new LetheError(
      'INTERNAL',
      `The parameters have ${params.length} values; ${draft.name} needs ${spec.size}.`,
    )
  }
  // NaN or infinity is a run that diverged, never a model: refused before anything is written.
  const nonFinite = params.reduce((count, value) => (Number.isFinite(value) ? count : count + 1), 0)
  if (nonFinite > 0) {
    const run = draft.method === 'train' ? 'Training' : `Unlearning by ${draft.method}`
    throw new LetheError(
      'BAD_INPUT',
      `${run} diverged: ${nonFinite} of ${params.length} parameters are NaN or infinite. Nothing was saved or registered; run it again with a lower learning rate.`,
      { nonFinite, parameters: params.length },
    )
  }
  const hash = sha256Hex(bytesOf(params))
  return {
    ...draft,
    format: 'lethe-model',
    id: `m-${hash.slice(0, 12)}`,
    parameters: spec.size,
    paramsSha256: hash,
  }
}

export async function saveModel(
  folder: string,
  draft: ModelDraft & Partial<ModelManifest>,
  params: Float32Array,
): Promise<ModelManifest> {
  const full = identify(draft, params)
  const dir = path.join(folder, full.id)
  // The same parameters are the same version: training it again without recording keeps the recording.
  if (existsSync(path.join(dir, 'manifest.json'))) {
    const existing = await readManifest(folder, full.id)
    // A deleted version stays deleted: the same parameters made again would bring it back.
    if (existing.deleted) throw deletedError(existing)
    if (!full.preparation && existing.preparation) full.preparation = existing.preparation
  }
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeFileDurably(path.join(dir, 'params.f32'), bytesOf(params))
  await new DurableJsonFile<ModelManifest>(path.join(dir, 'manifest.json')).write(full)
  return full
}

/** A version's manifest alone (lineage walks need no parameters). */
export async function readManifest(folder: string, id: string): Promise<ModelManifest> {
  const manifestFile = path.join(folder, path.basename(id), 'manifest.json')
  if (!existsSync(manifestFile)) throw new LetheError('NOT_FOUND', `There is no model ${id}.`, { id })
  const manifest = parseStored<ModelManifest | null>(manifestFile, await readFile(manifestFile, 'utf8'))
  if (
    manifest?.format !== 'lethe-model' ||
    manifest.id !== path.basename(id) ||
    typeof manifest.createdAt !== 'string'
  )
    throw new LetheError('CORRUPT', `${manifestFile} is not a valid Lethe model manifest: it was damaged.`, {
      file: manifestFile,
    })
  return manifest
}

/** What refuses every use of a deleted version's parameters: when, why and for which request it was deleted. */
export function deletedError(manifest: ModelManifest): LetheError {
  const deletion = manifest.deleted as Deletion
  const request = deletion.requestId ? ` for ${deletion.requestId}` : ''
  return new LetheError(
    'CONFLICT',
    `${manifest.id} (${manifest.name}) was deleted on ${deletion.at}${request} ("${deletion.reason}"): its parameters no longer exist, so nothing can be computed from it. Use a version derived from it.`,
    { id: manifest.id, deleted: deletion },
  )
}

/** Loads a version, checking that it is a Lethe model, not deleted, and that its parameters are intact. */
export async function loadModel(
  folder: string,
  id: string,
): Promise<{ manifest: ModelManifest; params: Float32Array }> {
  const manifest = await readManifest(folder, id)
  if (manifest.deleted) throw deletedError(manifest)
  const file = path.join(folder, path.basename(id), 'params.f32')
  const bytes = new Uint8Array(await readFile(file))
  if (bytes.length !== manifest.parameters * 4) {
    throw new LetheError(
      'CORRUPT',
      `${file} holds ${bytes.length} bytes; the model needs ${manifest.parameters * 4}.`,
      { file },
    )
  }
  if (sha256Hex(bytes) !== manifest.paramsSha256) {
    throw new LetheError(
      'CORRUPT',
      `${file} does not match the SHA-256 in its manifest: the parameters were altered or damaged.`,
      { file },
    )
  }
  return { manifest, params: new Float32Array(bytes.buffer, bytes.byteOffset, manifest.parameters) }
}

/** Every version, oldest first; a damaged manifest is CORRUPT. Temporary files of killed writers go. */
export async function listModels(folder: string): Promise<ModelManifest[]> {
  if (!existsSync(folder)) return []
  await removeStaleTempFiles(folder)
  const out: ModelManifest[] = []
  for (const id of await readdir(folder)) {
    if (existsSync(path.join(folder, id, 'manifest.json'))) out.push(await readManifest(folder, id))
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
}

/**
 * The noiseless estimate behind a noisy certified release: the next request in the chain starts
 * from it (ALGORITHMS.md §3.4), so noise never compounds into the Newton steps. It stays beside
 * the version and is never published; the run record keeps its SHA-256.
 */
const NOISELESS_FILE = 'noiseless.f32'

export async function saveNoiseless(folder: string, id: string, params: Float32Array): Promise<string> {
  await writeFileDurably(path.join(folder, path.basename(id), NOISELESS_FILE), bytesOf(params))
  return sha256Hex(bytesOf(params))
}

export async function loadNoiseless(
  folder: string,
  manifest: ModelManifest,
  sha256: string,
): Promise<Float32Array> {
  if (manifest.deleted) throw deletedError(manifest)
  const file = path.join(folder, path.basename(manifest.id), NOISELESS_FILE)
  if (!existsSync(file))
    throw new LetheError(
      'CORRUPT',
      `${manifest.id} is a noisy release whose noiseless estimate (${file}) is missing: the chain of requests cannot go on from it. Retrain the model without the rows instead.`,
      { file },
    )
  const bytes = new Uint8Array(await readFile(file))
  if (bytes.length !== manifest.parameters * 4 || sha256Hex(bytes) !== sha256)
    throw new LetheError(
      'CORRUPT',
      `${file} does not match the SHA-256 in its run record: the noiseless estimate of ${manifest.id} was altered or damaged.`,
      { file },
    )
  return new Float32Array(bytes.buffer, bytes.byteOffset, manifest.parameters)
}

/**
 * Files a tombstone keeps: the manifest (with the parameters' hash), the run's evidence and the
 * record of exports (the deployed files' hashes), which hold no parameters or row values.
 */
const TOMBSTONE_FILES = new Set(['manifest.json', 'unlearning.json', 'exports.json'])

/**
 * Deletes a version's data for good: the tombstone manifest (marked deleted, hash kept) is written
 * first, so a crash part-way leaves a version nothing will use, and running it again shreds the rest.
 * Every other file (parameters, HF statistics and recording, noiseless estimate) is shredded.
 */
export async function shredModel(
  folder: string,
  manifest: ModelManifest,
  deletion: Deletion,
): Promise<{ manifest: ModelManifest; shredded: string[] }> {
  const dir = path.join(folder, path.basename(manifest.id))
  const tombstone: ModelManifest = { ...manifest, deleted: manifest.deleted ?? deletion }
  await new DurableJsonFile<ModelManifest>(path.join(dir, 'manifest.json')).write(tombstone)
  const shredded: string[] = []
  for (const name of (await readdir(dir)).sort()) {
    if (!TOMBSTONE_FILES.has(name) && (await shredFile(path.join(dir, name)))) shredded.push(name)
  }
  return { manifest: tombstone, shredded }
}
