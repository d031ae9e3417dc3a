/**
 * The work the engine process does on request: import datasets, train models, unlearn.
 * Plain functions over the data folder; the worker runs them and reports progress.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import type { z } from 'zod'
import { LetheError } from '../contract'
import type { CurvePoint } from '../contract/events'
import {
  certifiedConformity,
  LBFGS_DEFAULT_L2,
  lbfgsProblems,
  parseUnlearnOptions,
  TrainOptions as TrainOptionsSchema,
  type ArchitectureInput,
  type preparations,
  type TrainChoices,
  type TrainOptions,
} from '../contract/engine'
import { sha256Hex } from '../lib/digest'
import { importOnnx } from './import/onnx'
import { exportOnnx } from './export/onnx'
import { importTfjsLayersFile, isJsonText } from './import/tfjs'
import { writeTfjsLayers, type WrittenFile } from './export/tfjs'
import { writeFileDurably } from '../lib/files'
import { importTableFile } from './data/sources'
import { listDatasets, loadDataset, saveDataset, type Dataset, type DatasetManifest } from './data/dataset'
import { importIdxDataset } from './data/idx'
import { previewRows, type DatasetPreview } from './data/preview'
import { retrain, type RetrainMode } from './methods/baselines'
import { methodNamed } from './methods'
import { unlearnContext } from './methods/method'
import {
  identify,
  listModels,
  loadModel,
  readManifest,
  saveModel,
  saveNoiseless,
  trainedDraft,
  type ModelManifest,
  type Preparation,
} from './models/store'
import { initParams, inputsOf, specOf, type Architecture } from './models/spec'
import { checkTrainingFits } from './models/memory'
import { tf } from './tf'
import { train, uploadData, type TrainConfig, type TrainProgress } from './train'
import { DurableJsonFile } from '../ledger/durable'
import { folders } from './folders'
import { UNLEARNING_FILE, type UnlearnResult } from './models/runs'
import { agreement, l2Distance } from './metrics'
import { scoreModel, verificationReport, type ModelScores } from './verify'

export interface JobControl {
  signal: AbortSignal
  progress: (fraction: number | null, message: string, point?: CurvePoint) => void
}

export async function importDataset(input: {
  dataDir: string
  path: string
  labelsPath?: string
  subjectColumn?: string
  labelColumn?: string
  numeric?: string[]
  categorical?: string[]
  ignore?: string[]
  features?: string[]
  imageShape?: [number, number, number]
  name?: string
  testFraction: number
  seed: number
}): Promise<DatasetManifest> {
  const isIdx = input.labelsPath !== undefined
  if (isIdx && input.imageShape)
    throw new LetheError(
      'BAD_INPUT',
      'IDX files carry their own image shape; --image-shape is for tables (CSV, TSV, JSON Lines, Parquet).',
    )
  let dataset: Dataset
  if (isIdx) {
    const read = async (file: string) => {
      try {
        return new Uint8Array(await readFile(file))
      } catch (error) {
        throw new LetheError('BAD_INPUT', `Cannot read ${file}: ${(error as Error).message}`)
      }
    }
    dataset = importIdxDataset(
      { bytes: await read(input.path), file: input.path },
      { bytes: await read(input.labelsPath as string), file: input.labelsPath as string },
      input,
    )
  } else {
    // Read as a stream: the table is never held whole, only its encoded rows.
    dataset = await importTableFile(input.path, {
      file: input.path,
      name: input.name,
      mapping: {
        subjectColumn: input.subjectColumn ?? '',
        labelColumn: input.labelColumn ?? '',
        numeric: input.numeric,
        categorical: input.categorical,
        ignore: input.ignore,
        features: input.features,
      },
      imageShape: input.imageShape,
      testFraction: input.testFraction,
      seed: input.seed,
    })
  }
  await saveDataset(folders(input.dataDir).datasets, dataset)
  return dataset.manifest
}

export const datasetsOf = (dataDir: string) => listDatasets(folders(dataDir).datasets)
export const modelsOf = (dataDir: string) => listModels(folders(dataDir).models)

export async function subjectsOf(dataDir: string, datasetId: string): Promise<string[]> {
  return (await loadDataset(folders(dataDir).datasets, datasetId)).subjects
}

export async function previewOf(
  dataDir: string,
  datasetId: string,
  rows: number[],
  limit: number,
): Promise<DatasetPreview> {
  const dataset = await loadDataset(folders(dataDir).datasets, datasetId)
  const outside = rows.find((row) => row >= dataset.manifest.rows)
  if (outside !== undefined) {
    throw new LetheError(
      'BAD_INPUT',
      `${datasetId} has ${dataset.manifest.rows} rows; there is no row ${outside}.`,
    )
  }
  return previewRows(dataset, rows, limit)
}

function architectureFor(dataset: Dataset, input: z.infer<typeof ArchitectureInput>): Architecture {
  const classes = dataset.manifest.classes.length
  const inputs = dataset.manifest.featureDim
  switch (input.kind) {
    case 'logreg':
      return { kind: 'logreg', inputs, classes }
    case 'mlp':
      return { kind: 'mlp', inputs, hidden: input.hidden, classes }
    case 'cnn': {
      const shape = dataset.manifest.shape
      if (!shape)
        throw new LetheError(
          'BAD_INPUT',
          `${dataset.manifest.name} is tabular; a CNN needs an image dataset.`,
        )
      const [height, width, channels] = shape as [number, number, number]
      return {
        kind: 'cnn',
        height,
        width,
        channels,
        filters: input.filters,
        kernel: input.kernel,
        dense: input.dense,
        classes,
      }
    }
  }
}

const progressOf = (control: JobControl, what: string) => (p: TrainProgress) =>
  control.progress(
    p.steps ? p.step / p.steps : null,
    [
      p.fullBatch
        ? `${what}: L-BFGS iteration ${p.epoch + 1}${Number.isFinite(p.epochs) ? ` of about ${p.epochs}` : ''}`
        : `${what}: epoch ${p.epoch + 1}/${p.epochs}`,
      Number.isNaN(p.loss) ? '' : `loss ${p.loss.toFixed(4)}`,
      Number.isNaN(p.accuracy) ? '' : `batch accuracy ${(100 * p.accuracy).toFixed(1)}%`,
      p.etaMs > 0 ? `${Math.ceil(p.etaMs / 1000)} s left` : '',
    ]
      .filter(Boolean)
      .join(', '),
    Number.isNaN(p.loss)
      ? undefined
      : {
          phase: what,
          step: p.step,
          steps: p.steps,
          loss: p.loss,
          accuracy: Number.isNaN(p.accuracy) ? null : p.accuracy,
        },
  )

/** A version's training recipe (the manifest's form) from the API's TrainOptions. */
export function recipeOf(
  options: z.infer<typeof TrainOptions>,
  trainRows: number,
): ModelManifest['training'] {
  const { lrDecay, ...rest } = options
  const schedule: TrainConfig['schedule'] =
    rest.schedule === 'step'
      ? { kind: 'step', everyEpochs: Math.max(1, Math.round(rest.epochs / 3)), gamma: 0.1 }
      : rest.schedule === 'exponential'
        ? { kind: 'exponential', gamma: lrDecay }
        : { kind: rest.schedule }
  return { ...rest, schedule, initSeed: options.seed, trainRows }
}

/** The largest model file Lethe reads (the engine's models are far smaller). */
const MAX_MODEL_FILE_BYTES = 512 * 1024 ** 2

/**
 * Imports a model trained elsewhere (ONNX) as a version for a dataset: its input width and
 * classes must be the dataset's; its manifest records the source file's format and SHA-256, and
 * the recipe exact retraining will use. Everything is checked before anything is written.
 */
export async function importModel(input: {
  dataDir: string
  datasetId: string
  path: string
  name?: string
  training?: z.infer<typeof TrainChoices>
}): Promise<ModelManifest> {
  const fileName = path.basename(input.path)
  let bytes: Uint8Array
  try {
    const { size } = await stat(input.path)
    if (size > MAX_MODEL_FILE_BYTES)
      throw new Error(
        `it is ${(size / 1024 ** 2).toFixed(0)} MiB; the limit is ${MAX_MODEL_FILE_BYTES / 1024 ** 2} MiB`,
      )
    bytes = new Uint8Array(await readFile(input.path))
  } catch (error) {
    throw new LetheError('BAD_INPUT', `Cannot read ${input.path}: ${(error as Error).message}`)
  }
  // A TF.js Layers model is a JSON model.json (its shards beside it); anything else is read as ONNX.
  const imported = isJsonText(bytes)
    ? { format: 'tfjs' as const, ...(await importTfjsLayersFile(input.path, bytes, MAX_MODEL_FILE_BYTES)) }
    : { format: 'onnx' as const, ...importOnnx(bytes) }
  const { arch } = imported
  const dataset = await loadDataset(folders(input.dataDir).datasets, input.datasetId)
  const { featureDim, classes, name: datasetName, shape } = dataset.manifest
  const inputs = inputsOf(arch)
  if (inputs !== featureDim)
    throw new LetheError(
      'BAD_INPUT',
      `${fileName} takes ${inputs} input features, but ${datasetName} (${input.datasetId}) encodes ${featureDim}: the model was not trained on this dataset's features.`,
      { inputs, featureDim },
    )
  // A convolutional network reads the rows as images: the dataset's must be the ones it was trained on.
  if (arch.kind === 'convnet') {
    const image = [arch.height, arch.width, arch.channels]
    if (!shape || shape.join('×') !== image.join('×'))
      throw new LetheError(
        'BAD_INPUT',
        `${fileName} reads ${image.join('×')} images (height × width × channels), but ${datasetName} (${input.datasetId}) ${shape ? `holds ${shape.join('×')} images` : 'is not an image dataset (import it with its image shape)'}.`,
        { image, shape },
      )
  }
  if (arch.classes !== classes.length)
    throw new LetheError(
      'BAD_INPUT',
      `${fileName} scores ${arch.classes} classes, but ${datasetName} (${input.datasetId}) has ${classes.length} (${classes.join(', ')}).`,
      { classes: arch.classes, datasetClasses: classes.length },
    )
  // What the caller chose, over defaults for the kind: a network trained elsewhere is retrained
  // gently (Adam at 1e-3, not the 0.05 of SGD's start), a logistic regression to its optimum.
  const options = TrainOptionsSchema.parse({
    ...(arch.kind === 'logreg'
      ? { optimizer: 'lbfgs', l2: LBFGS_DEFAULT_L2 }
      : { optimizer: 'adam', learningRate: 1e-3 }),
    ...input.training,
  })
  const problems = lbfgsProblems({ arch: arch.kind, ...options })
  if (problems.length)
    throw new LetheError(
      'BAD_INPUT',
      `The retraining recipe does not fit the imported model: ${problems.join('; ')}.`,
      {
        problems,
      },
    )
  const draft = {
    ...trainedDraft({
      // A model.json is named by its folder (tensorflowjs_converter writes one folder per model).
      name:
        input.name ??
        (imported.format === 'tfjs'
          ? path.basename(path.dirname(path.resolve(input.path)))
          : fileName.replace(/\.onnx$/i, '')),
      arch,
      dataset: dataset.manifest,
      training: recipeOf(options, dataset.train.length),
      backend: 'import',
    }),
    method: 'import',
    origin:
      imported.format === 'tfjs'
        ? { format: 'tfjs' as const, sha256: sha256Hex(bytes), fileName, output: imported.output }
        : {
            format: 'onnx' as const,
            sha256: sha256Hex(bytes),
            fileName,
            output: imported.output,
            opset: imported.opset,
            input: imported.input,
            ...(imported.folded.length ? { folded: imported.folded } : {}),
          },
  }
  // A version is its parameters: the same weights imported again (for this or another dataset) would rewrite a registered version's record.
  const models = folders(input.dataDir).models
  const { id } = identify(draft, imported.params)
  if (existsSync(path.join(models, id, 'manifest.json'))) {
    const existing = await readManifest(models, id)
    throw new LetheError(
      'CONFLICT',
      `${fileName} holds the same weights as ${id} ("${existing.name}", for ${existing.datasetId}, ${existing.method === 'import' ? 'imported' : 'made'} on ${existing.createdAt}${existing.deleted ? `, deleted on ${existing.deleted.at}` : ''}): nothing was imported.`,
      { id },
    )
  }
  return saveModel(models, draft, imported.params)
}

/** One export of a version, kept in `exports.json` beside its manifest (manifests are not rewritten for this). */
export interface ExportRecord {
  format: 'onnx' | 'tfjs'
  /** The main file's (the .onnx, or model.json). */
  sha256: string
  bytes: number
  /** Every file written (model.json and its weight shard for 'tfjs'); absent in records before TF.js export. */
  files?: WrittenFile[]
  at: string
}

export const EXPORTS_FILE = 'exports.json'

/**
 * Exports a version as ONNX or as a TF.js Layers model (model.json and its weight shard): an
 * imported model ends in the output it came with, one Lethe trained in a Softmax. Everything is
 * checked before a file is written; files are written durably and the export recorded in the
 * model's `exports.json`.
 */
export async function exportModel(input: {
  dataDir: string
  modelId: string
  format: 'onnx' | 'tfjs'
  path: string
}): Promise<{
  modelId: string
  format: 'onnx' | 'tfjs'
  path: string
  sha256: string
  bytes: number
  files: WrittenFile[]
}> {
  const models = folders(input.dataDir).models
  const { manifest, params } = await loadModel(models, input.modelId)
  const written =
    input.format === 'tfjs'
      ? await writeTfjsLayers(path.resolve(input.path), {
          arch: manifest.arch,
          params,
          name: manifest.name,
          ...(manifest.origin?.output ? { output: manifest.origin.output } : {}),
        })
      : await writeOnnx(path.resolve(input.path), {
          arch: manifest.arch,
          params,
          name: manifest.name,
          ...(manifest.origin?.output ? { output: manifest.origin.output } : {}),
          ...(manifest.origin?.input ? { input: manifest.origin.input } : {}),
        })
  const main = written.files[0] as WrittenFile
  const records = new DurableJsonFile<ExportRecord[]>(
    path.join(models, path.basename(manifest.id), EXPORTS_FILE),
  )
  const previous = (await records.read()) ?? []
  await records.write([
    ...previous,
    {
      format: input.format,
      sha256: main.sha256,
      bytes: main.bytes,
      files: written.files,
      at: new Date().toISOString(),
    },
  ])
  return {
    modelId: manifest.id,
    format: input.format,
    path: written.path,
    sha256: main.sha256,
    bytes: main.bytes,
    files: written.files,
  }
}

/** Writes an ONNX export durably: one file. */
async function writeOnnx(
  target: string,
  model: Parameters<typeof exportOnnx>[0],
): Promise<{ path: string; files: WrittenFile[] }> {
  const bytes = exportOnnx(model)
  try {
    await writeFileDurably(target, bytes)
  } catch (error) {
    throw new LetheError('BAD_INPUT', `Cannot write ${target}: ${(error as Error).message}`)
  }
  return { path: target, files: [{ name: target, sha256: sha256Hex(bytes), bytes: bytes.length }] }
}

export async function trainModel(
  input: {
    dataDir: string
    datasetId: string
    arch: z.infer<typeof ArchitectureInput>
    training: z.infer<typeof TrainOptions>
    prepare?: (typeof preparations)[number]
    statisticsDtype?: Preparation['dtype']
    name?: string
  },
  control: JobControl,
): Promise<ModelManifest> {
  const convexProblems = lbfgsProblems({ arch: input.arch.kind, ...input.training, prepare: input.prepare })
  if (convexProblems.length)
    throw new LetheError('BAD_INPUT', `${convexProblems.join('; ')}.`, { problems: convexProblems })
  const dataset = await loadDataset(folders(input.dataDir).datasets, input.datasetId)
  const arch = architectureFor(dataset, input.arch)
  const spec = specOf(arch)
  checkTrainingFits(spec, input.training.batchSize, dataset.manifest.rows, tf.getBackend())
  const training = recipeOf(input.training, dataset.train.length)
  if (input.prepare === 'certified') {
    // Nothing is recorded: the manifest's training.projectRadius is the record the method reads.
    const problems = certifiedConformity({ method: 'train', arch: arch.kind, ...training })
    if (problems.length)
      throw new LetheError('BAD_INPUT', `This training cannot be certified later: ${problems.join('; ')}.`, {
        problems,
      })
  }
  const recorder =
    input.prepare === 'hf'
      ? methodNamed(input.prepare).prepare?.(spec, training, dataset.train, {
          statisticsDtype: input.statisticsDtype ?? 'float32',
        })
      : undefined
  const data = uploadData(dataset.features, dataset.labels, dataset.manifest.featureDim)
  try {
    const started = performance.now()
    const result = await train(spec, data, dataset.train, training, initParams(spec, training.initSeed), {
      signal: control.signal,
      onProgress: progressOf(control, recorder ? 'Training with HF recording' : 'Training'),
      onStep: recorder?.hooks.onStep,
    })
    const trainMs = performance.now() - started
    const name = input.name ?? `${dataset.manifest.name} ${arch.kind}`
    const draft = trainedDraft({
      name,
      arch,
      dataset: dataset.manifest,
      // The solver refuses to return an unconverged optimum, so a recorded convergence is always reached.
      training: result.convergence ? { ...training, convergence: result.convergence } : training,
      backend: tf.getBackend(),
    })
    const models = folders(input.dataDir).models
    if (!recorder) return await saveModel(models, draft, result.params)
    // The recording is bound to the parameters' hash, so the version's id is known before it is saved.
    const identity = identify(draft, result.params)
    const dir = path.join(models, identity.id)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    control.progress(null, 'Saving the HF statistics')
    const preparation = { ...(await recorder.save(dir, identity)), trainMs }
    return await saveModel(models, { ...draft, preparation }, result.params)
  } finally {
    data.x.dispose()
    data.y.dispose()
  }
}

export async function unlearnModel(
  input: {
    dataDir: string
    modelId: string
    method: string
    rows: number[]
    /** Rows named one by one must all be training rows; a subject's rows outside training (held out for testing) are skipped. */
    strictRows: boolean
    requestId: string | null
    reference: boolean
    referenceMode?: RetrainMode
    /** Also retrain independently twice, to measure the noise floor of the distance. */
    noiseFloor?: boolean
    options: Record<string, unknown>
  },
  control: JobControl,
): Promise<UnlearnResult> {
  const method = methodNamed(input.method)
  const checked = parseUnlearnOptions(method.name, input.options)
  if (!checked.ok)
    throw new LetheError('BAD_INPUT', `${checked.problems.map((p) => p.message).join('; ')}.`, {
      problems: checked.problems,
    })
  const options = checked.options
  const dirs = folders(input.dataDir)
  const original = await loadModel(dirs.models, input.modelId)
  const dataset = await loadDataset(dirs.datasets, original.manifest.datasetId)
  const trainRows = dataset.train
  const inTraining = new Set(trainRows)
  const outside = input.rows.filter((r) => !inTraining.has(r))
  if (outside.length && input.strictRows) {
    throw new LetheError(
      'BAD_INPUT',
      `${outside.length} of the rows were not in the model's training data (e.g. row ${outside[0]}).`,
      { rows: outside.slice(0, 20) },
    )
  }
  const named = input.rows.filter((r) => inTraining.has(r))
  if (named.length === 0) {
    throw new LetheError(
      'BAD_INPUT',
      'There are no rows to forget: none of them are in this model’s training data.',
    )
  }
  const forget = new Set([...original.manifest.forgottenRows, ...named])
  const spec = specOf(original.manifest.arch)
  const data = uploadData(dataset.features, dataset.labels, dataset.manifest.featureDim)
  try {
    const context = unlearnContext(
      {
        spec,
        dataset,
        data,
        original,
        signal: control.signal,
        onProgress: progressOf(control, method.label),
        modelsDir: dirs.models,
      },
      forget,
    )
    const started = performance.now()
    const outcome = await method.unlearn(context, options)
    const unlearnMs = performance.now() - started
    const draft = {
      ...original.manifest,
      name: `${original.manifest.name} − ${input.requestId ?? `${named.length} rows`}`,
      parentId: original.manifest.id,
      method: method.name,
      requestId: input.requestId,
      forgottenRows: context.forgetRows.length ? Array.from(context.forgetRows) : [],
      backend: tf.getBackend(),
      createdAt: new Date().toISOString(),
    }
    // Before any verification: a diverged run (identify refuses it) or one that moved nothing is no unlearning.
    if (identify(draft, outcome.params).paramsSha256 === original.manifest.paramsSha256)
      throw new LetheError(
        'BAD_INPUT',
        `${method.label} changed nothing: its parameters are bit-identical to those of ${original.manifest.id}, so the rows were not forgotten. Nothing was registered; give options that change the model (more epochs, a larger learning rate).`,
      )
    let reference: { params: Float32Array; mode: RetrainMode; ms: number } | null = null
    if (input.reference) {
      const mode = input.referenceMode ?? 'replay'
      const begun = performance.now()
      const retrained = await retrain(
        { ...context, onProgress: progressOf(control, 'Reference retraining') },
        mode,
      )
      reference = { params: retrained.params, mode, ms: performance.now() - begun }
    }
    let independentRetrains: [Float32Array, Float32Array] | undefined
    if (input.noiseFloor) {
      const draw = async (n: number) =>
        (
          await retrain(
            { ...context, onProgress: progressOf(control, `Noise floor, retrain ${n} of 2`) },
            'independent',
            n,
          )
        ).params
      independentRetrains = [await draw(1), await draw(2)]
    }
    control.progress(null, 'Verifying')
    const report = await verificationReport(
      spec,
      data,
      dataset,
      { forget: context.forgetRows, retain: context.retainRows },
      {
        original: original.params,
        unlearned: outcome.params,
        reference: reference?.params,
        independentRetrains,
      },
    )
    const model = await saveModel(dirs.models, draft, outcome.params)
    const result: UnlearnResult = {
      model,
      parent: { id: original.manifest.id, sha256: original.manifest.paramsSha256 },
      method: method.name,
      guarantee: outcome.guarantee ?? method.guarantee(options),
      forgotten: named.length,
      forgottenRows: named,
      heldOut: outside.length,
      report,
      reference: reference && {
        mode: reference.mode,
        ms: reference.ms,
        recipe: original.manifest.origin ? 'lethe' : 'original',
      },
      timings: { unlearnMs },
      details: outcome.details,
      ...(outcome.noiseless && {
        noiselessSha256: await saveNoiseless(dirs.models, model.id, outcome.noiseless),
      }),
    }
    // The run's evidence stays with the version it produced: certificates are built from it.
    await new DurableJsonFile<UnlearnResult>(path.join(dirs.models, model.id, UNLEARNING_FILE)).write(result)
    return result
  } finally {
    data.x.dispose()
    data.y.dispose()
  }
}

export interface Evaluation {
  model: string
  reference: string | null
  scores: ModelScores
  referenceScores: ModelScores | null
  distanceToReference: number | null
  agreementWithReference: { test: number; forget: number } | null
}

/** A model's scores on some rows (as the forget set), its retained rows and the test split; optionally beside a reference. */
export async function evaluateModel(input: {
  dataDir: string
  modelId: string
  referenceId?: string
  rows: number[]
}): Promise<Evaluation> {
  const dirs = folders(input.dataDir)
  const model = await loadModel(dirs.models, input.modelId)
  const reference = input.referenceId ? await loadModel(dirs.models, input.referenceId) : null
  if (reference && reference.manifest.datasetId !== model.manifest.datasetId) {
    throw new LetheError(
      'BAD_INPUT',
      `${reference.manifest.id} was trained on another dataset than ${model.manifest.id}.`,
    )
  }
  const dataset = await loadDataset(dirs.datasets, model.manifest.datasetId)
  const bad = input.rows.filter((r) => !Number.isInteger(r) || r < 0 || r >= dataset.manifest.rows)
  if (bad.length)
    throw new LetheError(
      'BAD_INPUT',
      `Row ${bad[0]} is not in ${dataset.manifest.name} (rows 0 to ${dataset.manifest.rows - 1}).`,
    )
  const spec = specOf(model.manifest.arch)
  const forget = Int32Array.from(new Set(input.rows))
  const forgetSet = new Set(forget)
  const retain = dataset.train.filter((r) => !forgetSet.has(r))
  const data = uploadData(dataset.features, dataset.labels, dataset.manifest.featureDim)
  try {
    const own = await scoreModel(spec, model.params, data, dataset, forget, retain)
    const ref = reference ? await scoreModel(spec, reference.params, data, dataset, forget, retain) : null
    return {
      model: model.manifest.id,
      reference: reference?.manifest.id ?? null,
      scores: own.scores,
      referenceScores: ref?.scores ?? null,
      distanceToReference: reference ? l2Distance(model.params, reference.params) : null,
      agreementWithReference: ref
        ? { test: agreement(own.test, ref.test), forget: agreement(own.forget, ref.forget) }
        : null,
    }
  } finally {
    data.x.dispose()
    data.y.dispose()
  }
}
