/**
 * The engine's own folders after damage, kills and oversized requests, through the real services
 * and engine: a damaged file is CORRUPT and named, temporary files of killed writers are removed
 * (a live writer's kept), a model the engine cannot hold is refused before it starts, and none of
 * it registers anything or loses what is stored.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Output } from '../../electron/contract'
import { folders } from '../../electron/engine/folders'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { caller, finishedJob } from '../support/engine'
import { readableByOthers, tempDir } from '../support/fixtures'

let services: LetheServices
let call: ReturnType<typeof caller>
let dataDir: string
let cancer: Output<'datasets.importDemo'>
let digits: Output<'datasets.importDemo'>
/** A plain version whose folder the tests damage and restore. */
let modelDir: string

const started = (method: string, input: unknown) => finishedJob(call, method, input)
/** What a refusal must leave untouched: the versions on disk and the ledger's registry. */
const stored = async () => ({
  models: await call<Output<'models.list'>>('models.list', {}),
  registry: await call<Output<'registry.list'>>('registry.list', {}),
})

beforeAll(async () => {
  // The ledger's keys are sealed with it outside the app; WASM's 4 GB is the same on every machine.
  vi.stubEnv('LETHE_KEY_PASSPHRASE', 'correct horse battery')
  vi.stubEnv('LETHE_BACKEND', 'wasm')
  dataDir = tempDir('lethe-engine-damage-')
  services = createServices({ dataDir, host: 'cli', spawnEngine: () => workerThreadChannel() })
  call = caller(services)
  cancer = await call('datasets.importDemo', { demo: 'breast-cancer' })
  digits = await call('datasets.importDemo', { demo: 'digits' })
  const trained = await started('models.train', { datasetId: cancer.id, arch: { kind: 'logreg' } })
  modelDir = path.join(folders(dataDir).models, (trained.result as { id: string }).id)
})

afterAll(async () => {
  await services.close()
  rmSync(dataDir, { recursive: true, force: true })
  vi.unstubAllEnvs()
})

describe('the data folder', () => {
  it('keeps datasets (subject ids among them), models and the ledger readable by their owner only', () => {
    expect(readableByOthers(dataDir)).toEqual([])
    expect(existsSync(path.join(folders(dataDir).datasets, cancer.id, 'subjects.json'))).toBe(true)
  })
})

describe('a damaged HF recording', () => {
  it('is CORRUPT, naming the file, registers nothing, and the repaired file works again', async () => {
    const trained = await started('models.train', {
      datasetId: cancer.id,
      arch: { kind: 'logreg' },
      prepare: 'hf',
      training: {
        optimizer: 'sgd',
        momentum: 0,
        samePermutationEachEpoch: true,
        schedule: 'exponential',
        learningRate: 0.05,
        epochs: 5,
        batchSize: 32,
        l2: 1e-2,
      },
    })
    const modelId = (trained.result as { id: string }).id
    const file = path.join(folders(dataDir).models, modelId, 'hf-recording.json')
    const recording = readFileSync(file, 'utf8')
    const unlearn = () =>
      started('unlearn.start', {
        modelId,
        method: 'hf',
        subjects: ['P-0007', 'P-0100'],
        options: { noise: false },
      })
    const before = await stored()
    for (const [damage, problem] of [
      [{ ...JSON.parse(recording), spectrum: undefined }, 'spectrum'],
      [null, 'the document'],
    ] as const) {
      writeFileSync(file, JSON.stringify(damage))
      expect((await unlearn()).error).toEqual({
        code: 'CORRUPT',
        message: expect.stringContaining(`${file} is damaged (${problem}: `),
      })
    }
    writeFileSync(file, JSON.stringify({ ...JSON.parse(recording), runId: 'another-run' }))
    expect((await unlearn()).error).toEqual({
      code: 'CORRUPT',
      message: `${file} belongs to another recording run than the statistics beside it. Train the model again with HF recording.`,
    })
    expect(await stored()).toEqual(before)

    writeFileSync(file, recording)
    const repaired = await unlearn()
    expect(repaired.state).toBe('succeeded')
  })
})

describe('damaged manifests', () => {
  it('make the dataset list CORRUPT, naming the dataset and the file, as the model list does', async () => {
    const manifest = path.join(folders(dataDir).datasets, digits.id, 'manifest.json')
    const intact = readFileSync(manifest, 'utf8')
    const listed = await call<Output<'datasets.list'>>('datasets.list', {})
    expect(listed.map((d) => d.id)).toEqual([cancer.id, digits.id])

    writeFileSync(manifest, intact.slice(0, 100))
    await expect(call('datasets.list', {})).rejects.toMatchObject({
      code: 'CORRUPT',
      message: `Dataset ${digits.id}: manifest.json is not valid JSON (truncated or damaged).`,
      details: { dataset: digits.id, file: manifest },
    })
    writeFileSync(manifest, JSON.stringify({ id: digits.id }))
    await expect(call('datasets.list', {})).rejects.toMatchObject({
      code: 'CORRUPT',
      message: `Dataset ${digits.id}: manifest.json is not a valid dataset manifest.`,
    })
    // Nothing was lost: repaired, the list is what it was.
    writeFileSync(manifest, intact)
    expect(await call('datasets.list', {})).toEqual(listed)

    const modelManifest = path.join(modelDir, 'manifest.json')
    const intactModel = readFileSync(modelManifest, 'utf8')
    writeFileSync(modelManifest, '{}')
    await expect(call('models.list', {})).rejects.toMatchObject({
      code: 'CORRUPT',
      message: `${modelManifest} is not a valid Lethe model manifest: it was damaged.`,
    })
    writeFileSync(modelManifest, intactModel)
  })

  it('leave out a dataset whose save was interrupted before its manifest', async () => {
    const before = await call<Output<'datasets.list'>>('datasets.list', {})
    const interrupted = path.join(folders(dataDir).datasets, 'ds-0123456789ab')
    try {
      mkdirSync(interrupted)
      writeFileSync(path.join(interrupted, 'features.f32'), new Uint8Array(8))
      expect(await call('datasets.list', {})).toEqual(before)
    } finally {
      rmSync(interrupted, { recursive: true, force: true })
    }
  })
})

describe('temporary files of killed writers', () => {
  it('are removed when the engine lists its folders; a live writer’s are kept', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    try {
      const datasetDir = path.join(folders(dataDir).datasets, digits.id)
      const stale = [
        path.join(modelDir, `params.f32.${dead}.tmp`),
        path.join(modelDir, `hf-statistics.bin.${dead}.tmp`),
        path.join(datasetDir, `features.f32.${dead}.tmp`),
      ]
      const writing = [
        path.join(modelDir, `params.f32.${live.pid}.tmp`),
        path.join(datasetDir, `labels.i32.${live.pid}.tmp`),
      ]
      for (const file of [...stale, ...writing]) writeFileSync(file, 'partial')

      await call('models.list', {})
      await call('datasets.list', {})
      expect(stale.filter((file) => existsSync(file))).toEqual([])
      expect(writing.filter((file) => existsSync(file))).toEqual(writing)
    } finally {
      live.kill()
    }
  })
})

describe('a model the engine cannot hold', () => {
  it('is refused before training starts, naming its parameters and the memory it needs; nothing is registered', async () => {
    const before = await stored()
    const job = await started('models.train', {
      datasetId: digits.id,
      arch: { kind: 'mlp', hidden: [4096, 4096, 4096, 4096] },
    })
    expect(job.error).toEqual({
      code: 'BAD_INPUT',
      message: expect.stringMatching(
        /^The MLP 64→4096→4096→4096→4096→10 \(ReLU\) has 50,651,146 parameters; training it in batches of 64 needs about \d+\.\d GB of memory, more than the \d+\.\d GB the engine can hold \(.+\)\. Choose fewer or narrower hidden layers, or a smaller batch size\.$/,
      ),
    })
    expect(await stored()).toEqual(before)
  })
})
