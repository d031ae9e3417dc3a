/**
 * An unlearning run's options through the real services and engine: each is checked against its
 * method's stated range (unknown ones refused), a run that diverges or changes nothing is refused,
 * and a refusal leaves every stored model and the registry as they were.
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { unlearnModel } from '../../electron/engine/jobs'
import { tf } from '../../electron/engine/tf'
import { createServices, type LetheServices } from '../../electron/host/services'
import { caller, finishedJob } from '../support/engine'
import { tempDir } from '../support/fixtures'

let services: LetheServices
let call: ReturnType<typeof caller>
let dataDir: string
let modelId: string
/** Two of the digits' writers. */
const subjects = ['W-001', 'W-002']

const started = (method: string, input: unknown) => finishedJob(call, method, input)
const finetuneInput = (options: Record<string, unknown>) => ({
  modelId,
  method: 'finetune',
  subjects,
  options,
})
const finetune = (options: Record<string, unknown>) => call('unlearn.start', finetuneInput(options))
/** What a refusal must leave untouched: the versions on disk and the ledger's registry. */
const stored = async () => ({
  models: await call<Output<'models.list'>>('models.list', {}),
  registry: await call<Output<'registry.list'>>('registry.list', { kind: 'model' }),
})

beforeAll(async () => {
  // The ledger's keys are sealed with it outside the app; one backend, so the numbers are the same everywhere.
  vi.stubEnv('LETHE_KEY_PASSPHRASE', 'correct horse battery')
  vi.stubEnv('LETHE_BACKEND', 'wasm')
  dataDir = tempDir('lethe-unlearn-options-')
  services = createServices({ dataDir, host: 'cli', spawnEngine: () => workerThreadChannel() })
  call = caller(services)
  const digits = await call<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'digits' })
  const trained = await started('models.train', {
    datasetId: digits.id,
    arch: { kind: 'mlp', hidden: [16] },
    training: { epochs: 5 },
  })
  modelId = (trained.result as { id: string }).id
}, 60_000)

afterAll(async () => {
  await services.close()
  rmSync(dataDir, { recursive: true, force: true })
  vi.unstubAllEnvs()
})

describe('unlearning options', () => {
  it('refuses epochs outside 1–1000, naming the option and its range, and keeps what is stored', async () => {
    const before = await stored()
    for (const epochs of [0, -5, 1e9, 2.5])
      await expect(finetune({ epochs })).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: `Invalid input for unlearn.start at "options.epochs": finetune's option epochs must be a whole number from 1 to 1000, not ${epochs}`,
      })
    expect(await stored()).toEqual(before)
  })

  it('refuses a learning rate that is not finite, not positive or above 10', async () => {
    const before = await stored()
    for (const learningRate of [Number.NaN, Number.POSITIVE_INFINITY, 1e30, -1, 0])
      await expect(finetune({ learningRate })).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: `Invalid input for unlearn.start at "options.learningRate": finetune's option learningRate must be a number above 0 and at most 10, not ${learningRate}`,
      })
    expect(await stored()).toEqual(before)
  })

  it('refuses an option the method does not have, naming those it has', async () => {
    await expect(finetune({ epsilon: 1 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message:
        'Invalid input for unlearn.start at "options": finetune has no option "epsilon"; its options are epochs, learningRate',
    })
    await expect(
      call('unlearn.start', { modelId, method: 'hf', subjects, options: { delta: 0.5 } }),
    ).rejects.toMatchObject({
      message: expect.stringContaining("hf's option delta must be a number above 0 and below 0.1"),
    })
    await expect(
      call('unlearn.start', { modelId, method: 'del', subjects, options: { localization: 'everything' } }),
    ).rejects.toMatchObject({
      message: expect.stringContaining(
        'del\'s option localization must be one of del, random, saliency, shallow, deep, critmem, not "everything"',
      ),
    })
  })

  it('are checked by the engine too, for callers that skip the contract', async () => {
    await tf.setBackend('wasm')
    const control = { signal: new AbortController().signal, progress: () => {} }
    await expect(
      unlearnModel(
        {
          dataDir,
          modelId,
          method: 'finetune',
          rows: [0],
          strictRows: false,
          requestId: null,
          reference: false,
          options: { learningRate: Number.NaN },
        },
        control,
      ),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: "finetune's option learningRate must be a number above 0 and at most 10, not NaN.",
    })
  })
})

describe('what an unlearning run may register', () => {
  it('never a version that changed nothing: a learning rate too small to move a parameter is refused', async () => {
    const before = await stored()
    const job = await started('unlearn.start', finetuneInput({ learningRate: 1e-30, epochs: 1 }))
    expect(job.error).toEqual({
      code: 'BAD_INPUT',
      message: expect.stringMatching(
        new RegExp(
          `^Fine-tuning on the retained data changed nothing: its parameters are bit-identical to those of ${modelId}.*Nothing was registered`,
        ),
      ),
    })
    expect(await stored()).toEqual(before)
  })

  it('never NaN or infinite parameters: a fine-tuning that diverges is refused, saying why', async () => {
    const before = await stored()
    const job = await started('unlearn.start', finetuneInput({ learningRate: 10, epochs: 5 }))
    expect(job.error).toEqual({
      code: 'BAD_INPUT',
      message: expect.stringMatching(
        /^Unlearning by finetune diverged: \d+ of 1210 parameters are NaN or infinite\. Nothing was saved or registered; run it again with a lower learning rate\.$/,
      ),
    })
    expect(await stored()).toEqual(before)
  })

  it('nor does training: a run that diverges registers nothing', async () => {
    const before = await stored()
    const [digits] = await call<Output<'datasets.list'>>('datasets.list', {})
    const job = await started('models.train', {
      datasetId: digits?.id,
      arch: { kind: 'mlp', hidden: [64] },
      training: { learningRate: 10, epochs: 3 },
    })
    expect(job.error).toEqual({
      code: 'BAD_INPUT',
      message:
        'Training diverged: 4810 of 4810 parameters are NaN or infinite. Nothing was saved or registered; run it again with a lower learning rate.',
    })
    expect(await stored()).toEqual(before)
  })
})
