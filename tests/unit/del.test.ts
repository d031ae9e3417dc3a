/**
 * DEL (localized reset and fine-tuning) through the engine: the trainer's mask keeps every other
 * entry bit for bit, the localization matches a direct computation and its budget, the layer
 * baselines and CritMem select what they say, and on the digits demo (whole writers removed) an
 * MLP and a small CNN move towards the replayed exact retrain on the forget rows (the attack's
 * AUC into the retrain's bootstrap interval) while keeping their test accuracy. A no-op would
 * leave forget accuracy and the AUC where the original had them, and change no parameter.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { TrainOptions } from '../../electron/contract/engine'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { trainModel, unlearnModel, type JobControl } from '../../electron/engine/jobs'
import { retrain } from '../../electron/engine/methods/baselines'
import { decodeMask, delMethod, trainableMask, type MaskView } from '../../electron/engine/methods/del'
import {
  budgetOf,
  criticalPath,
  forgetScores,
  hiddenUnits,
  localize,
  topH,
  unitScores,
} from '../../electron/engine/methods/localize'
import { unlearnContext } from '../../electron/engine/methods/method'
import { logits } from '../../electron/engine/models/forward'
import { initParams, specOf, type Architecture, type ParamView } from '../../electron/engine/models/spec'
import type { UnlearnResult } from '../../electron/engine/models/runs'
import { loadModel } from '../../electron/engine/models/store'
import { Random } from '../../electron/engine/random'
import { tf } from '../../electron/engine/tf'
import { defaultTrainConfig, train, uploadData, type TrainConfig } from '../../electron/engine/train'
import { verificationReport, type ModelScores } from '../../electron/engine/verify'
import { demoDataset, importedDemo, trainedContext } from '../support/engine'
import { lethe } from '../support/cli'
import { tempDir } from '../support/fixtures'

const control: JobControl = { signal: new AbortController().signal, progress: () => {} }
let dataDir: string
let digits: Dataset
let rowsOfSubjects: (skip: number, count: number) => number[]

beforeAll(async () => {
  await tf.setBackend('wasm')
  dataDir = tempDir('lethe-del-')
  ;({ dataset: digits, rowsOfSubjects } = await importedDemo('digits', dataDir))
})

/** An element known to exist. */
const at = (a: ArrayLike<number>, i: number) => a[i] as number

/** Entries where two parameter vectors differ, bit for bit. */
const differing = (a: Float32Array, b: Float32Array) =>
  Array.from(a.keys()).filter((i) => !Object.is(a[i], b[i]))

describe('the trainer’s mask', () => {
  const spec = specOf({ kind: 'mlp', inputs: 64, hidden: [16], classes: 10 })
  const config: TrainConfig = { ...defaultTrainConfig, epochs: 2, batchSize: 32, l2: 1e-2 }
  const rows = () => digits.train.subarray(0, 300)
  const data = () => uploadData(digits.features, digits.labels, digits.manifest.featureDim)

  it('moves only the trainable entries, with momentum and weight decay on; none outside changes by a bit', async () => {
    const init = initParams(spec, 3)
    const mask = new Uint8Array(spec.size)
    const random = new Random(5)
    for (let i = 0; i < spec.size; i++) mask[i] = random.next() < 0.2 ? 1 : 0
    const result = await train(spec, data(), rows(), config, init, { mask })
    const moved = differing(result.params, init)
    expect(moved.every((i) => mask[i] === 1)).toBe(true)
    // Most trainable entries move (a few sit behind dead ReLUs or are zero-input weights).
    expect(moved.length).toBeGreaterThan(0.5 * mask.reduce((a, b) => a + b, 0))
  })

  it('with every entry trainable, trains bit for bit as without a mask', async () => {
    const init = initParams(spec, 3)
    const plain = await train(spec, data(), rows(), config, init)
    const masked = await train(spec, data(), rows(), config, init, {
      mask: new Uint8Array(spec.size).fill(1),
    })
    expect(differing(plain.params, masked.params)).toEqual([])
  })

  it('refuses a mask of the wrong length', async () => {
    await expect(
      train(spec, data(), rows(), config, initParams(spec, 3), { mask: new Uint8Array(3) }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' })
  })
})

describe('localization', () => {
  it('scores |Σ_b θ ⊙ ∇ mean-CE_b| over forget batches of 128, as a direct float64 computation does', async () => {
    // Logistic regression: ∇_W mean CE = Xᵀ(softmax(XW + b) − onehot)/n per batch.
    const spec = specOf({ kind: 'logreg', inputs: 3, classes: 2 })
    const n = 200
    const random = new Random(11)
    const x = Float32Array.from({ length: n * 3 }, () => random.normal())
    const y = Int32Array.from({ length: n }, () => random.int(2))
    const theta = Float32Array.from({ length: spec.size }, () => random.normal())
    const rows = Int32Array.from({ length: n }, (_, i) => i)
    const scores = await forgetScores(spec, theta, uploadData(x, y, 3), rows, 'weighted', 7)
    // The partition into batches is the score's own (seeded); rebuild it from the batch sizes: the
    // sum over batches of per-batch means depends on which rows share the short last batch.
    const order = new Random(7 * 1_000_003).shuffle(rows)
    const sums = new Float64Array(spec.size)
    for (const batch of [order.slice(0, 128), order.slice(128)]) {
      for (const r of batch) {
        const z = [0, 1].map(
          (c) =>
            at(theta, 6 + c) + [0, 1, 2].reduce((s, j) => s + at(x, r * 3 + j) * at(theta, j * 2 + c), 0),
        )
        const m = Math.max(...z)
        const p = z.map((v) => Math.exp(v - m) / z.reduce((s, w) => s + Math.exp(w - m), 0))
        for (let c = 0; c < 2; c++) {
          const delta = (at(p, c) - (y[r] === c ? 1 : 0)) / batch.length
          for (let j = 0; j < 3; j++) sums[j * 2 + c] = at(sums, j * 2 + c) + at(x, r * 3 + j) * delta
          sums[6 + c] = at(sums, 6 + c) + delta
        }
      }
    }
    const direct = Array.from(sums, (g, i) => Math.abs(at(theta, i) * g))
    for (let i = 0; i < spec.size; i++) expect(scores[i]).toBeCloseTo(at(direct, i), 5)
  })

  it('gives each output unit the mean of its top-h entry scores, h = max(1, ⌊0.1·C_out⌋); biases keep theirs', () => {
    expect(topH(2)).toBe(1)
    expect(topH(9)).toBe(1)
    expect(topH(20)).toBe(2)
    expect(topH(512)).toBe(51)
    // W1 [3, 20]: 20 units of 3 entries, h = 2; W2 [20, 2]: the 2-unit head, h = 1 (its maximum).
    const spec = specOf({ kind: 'mlp', inputs: 3, hidden: [20], classes: 2 })
    const raw = Float32Array.from({ length: spec.size }, (_, i) => (i * 37) % 101)
    const unit = unitScores(spec, raw)
    const [W1, b1, W2, b2] = spec.views as [ParamView, ParamView, ParamView, ParamView]
    for (let o = 0; o < 20; o++) {
      const entries = [0, 1, 2].map((i) => at(raw, W1.offset + i * 20 + o)).sort((a, b) => b - a)
      for (let i = 0; i < 3; i++)
        expect(unit[W1.offset + i * 20 + o]).toBeCloseTo((at(entries, 0) + at(entries, 1)) / 2, 5)
    }
    for (let o = 0; o < 2; o++) {
      const best = Math.max(...Array.from({ length: 20 }, (_, i) => at(raw, W2.offset + i * 2 + o)))
      for (let i = 0; i < 20; i++) expect(unit[W2.offset + i * 2 + o]).toBe(best)
    }
    for (const bias of [b1, b2])
      expect(Array.from(unit.subarray(bias.offset, bias.offset + bias.size))).toEqual(
        Array.from(raw.subarray(bias.offset, bias.offset + bias.size)),
      )
  })

  it('selects exactly ⌊α·d⌋ entries, and the random and saliency masks spend the same budget', async () => {
    const context = await trainedContext(
      demoDataset('digits'),
      { kind: 'mlp', inputs: 64, hidden: [16], classes: 10 },
      { epochs: 3 },
    )
    const d = context.spec.size
    for (const fraction of [0.05, 0.3]) {
      const masks = await Promise.all(
        (['del', 'random', 'saliency'] as const).map(
          async (localization) =>
            (await localize({ ...context, params: context.original.params }, { fraction, localization }, 1))
              .selected,
        ),
      )
      for (const mask of masks) expect(mask.reduce((a, b) => a + b, 0)).toBe(budgetOf(fraction, d))
      expect(budgetOf(fraction, d)).toBe(Math.floor(fraction * d))
      // Three different rules, three different selections.
      expect(
        differing(Float32Array.from(masks[0] as Uint8Array), Float32Array.from(masks[1] as Uint8Array))
          .length,
      ).toBeGreaterThan(0)
      expect(
        differing(Float32Array.from(masks[0] as Uint8Array), Float32Array.from(masks[2] as Uint8Array))
          .length,
      ).toBeGreaterThan(0)
    }
    // DEL's unit granularity selects whole output units of the weights (up to the one cut at the budget).
    const { selected: mask } = await localize(
      { ...context, params: context.original.params },
      { fraction: 0.3 },
      1,
    )
    const W1 = context.spec.views[0] as ParamView
    const units = W1.shape[1] as number
    const partial = Array.from({ length: units }, (_, o) =>
      Array.from({ length: W1.size / units }, (_, i) => at(mask, W1.offset + i * units + o)).reduce(
        (a, b) => a + b,
        0,
      ),
    ).filter((s) => s > 0 && s < W1.size / units)
    expect(partial.length).toBeLessThanOrEqual(1)
  })
})

describe('the paper’s other localization baselines', () => {
  const arch: Architecture = { kind: 'mlp', inputs: 64, hidden: [16], classes: 10 }
  let context: Awaited<ReturnType<typeof trainedContext>>
  beforeAll(async () => {
    context = await trainedContext(demoDataset('digits'), arch, { epochs: 3 })
  })
  const input = () => ({ ...context, params: context.original.params })
  const selectedIn = (mask: Uint8Array, layer: number) =>
    context.spec.views
      .filter((v) => v.layer === layer)
      .reduce((n, v) => n + mask.subarray(v.offset, v.offset + v.size).reduce((a, b) => a + b, 0), 0)

  it('shallow fills layers from the input, deep from the head, each within the budget', async () => {
    // d = 64·16 + 16 + 16·10 + 10 = 1,210; α = 0.3 → 363 entries. Layer 1 holds 1,040, the head 170.
    const { selected: shallow } = await localize(input(), { fraction: 0.3, localization: 'shallow' }, 1)
    const { selected: deep } = await localize(input(), { fraction: 0.3, localization: 'deep' }, 1)
    expect(context.spec.size).toBe(1210)
    expect([selectedIn(shallow, 0), selectedIn(shallow, 1)]).toEqual([363, 0])
    expect([selectedIn(deep, 0), selectedIn(deep, 1)]).toEqual([363 - 170, 170])
  })

  it('CritMem zeroes the units critical to a row until its prediction flips, and no fewer would do', () => {
    const { spec, data } = context
    const predicted = (params: Float32Array, row: number) =>
      tf.tidy(
        () =>
          tf
            .argMax(logits(spec, tf.tensor1d(params), data.x.slice([row, 0], [1, -1]) as tf.Tensor2D), 1)
            .dataSync()[0] as number,
      )
    const units = hiddenUnits(spec)
    expect(units.length).toBe(16) // the head's units are never searched
    const zeroing = (unitIndices: number[]) => {
      const params = Float32Array.from(context.original.params)
      const W1 = spec.views[0] as ParamView
      for (const u of unitIndices) {
        for (let i = u; i < W1.size; i += 16) params[W1.offset + i] = 0
        params[(spec.views[1] as ParamView).offset + u] = 0
      }
      return params
    }
    let checked = 0
    for (const row of context.forgetRows.slice(0, 12)) {
      const label = at(digits.labels, row)
      if (predicted(context.original.params, row) !== label) continue
      const path = criticalPath(spec, context.original.params, data, row, new Float32Array(units.length), 16)
      if (!path.flipped) continue
      expect(new Set(path.units).size).toBe(path.units.length)
      expect(predicted(zeroing(path.units), row)).not.toBe(label)
      expect(predicted(zeroing(path.units.slice(0, -1)), row)).toBe(label)
      checked += 1
    }
    expect(checked).toBeGreaterThan(3)
  })

  it('refuses an unknown localization or reset target and a fraction outside (0, 1], naming the choices', async () => {
    const refused = (options: Record<string, unknown>) => delMethod.unlearn(context, options as never)
    await expect(refused({ localization: 'nope' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'Unknown localization "nope": del, random, saliency, shallow, deep, critmem.',
    })
    await expect(refused({ reset: 'zero' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'Unknown reset target "zero": fresh or initial.',
    })
    for (const fraction of [0, 1.5, Number.NaN])
      await expect(refused({ fraction })).rejects.toMatchObject({ code: 'BAD_INPUT' })
  })

  it('CritMem resets whole hidden units, those most often critical, within the budget', async () => {
    const steps: number[] = []
    const { selected, search } = await localize(
      { ...input(), onProgress: (p) => steps.push(p.step / p.steps) },
      { fraction: 0.3, localization: 'critmem' },
      1,
    )
    expect(search).toBeDefined()
    const s = search as NonNullable<typeof search>
    // A seeded sample of at most 64 forget rows is searched.
    expect(s.rows).toBe(Math.min(64, context.forgetRows.length))
    // One progress step per row searched, up to the whole.
    expect(steps.length).toBe(s.rows)
    expect(steps.at(-1)).toBe(1)
    expect(s.flipped).toBeGreaterThan(0)
    // Layer 1's units hold 64 weights and a bias each: whole units only, none of the head.
    expect(selectedIn(selected, 1)).toBe(0)
    expect(selectedIn(selected, 0)).toBe(65 * s.selectedUnits)
    expect(selectedIn(selected, 0)).toBeLessThanOrEqual(budgetOf(0.3, context.spec.size))
    expect(s.selectedUnits).toBeGreaterThan(0)
  })
})

const fmt = (s: ModelScores) =>
  `forget ${s.forget.accuracy.toFixed(3)} test ${s.test.accuracy.toFixed(3)} MIA AUC ${s.mia.auc?.toFixed(3)} [${s.mia.ci?.map((v) => v.toFixed(3)).join(', ')}]`

/**
 * Forget accuracy moves towards (or to) the retrained model's, the MIA AUC into the retrained
 * model's 95 % bootstrap interval (where the original's lies outside it), test accuracy within
 * 1 pp of the original.
 */
function expectTowardsRetrained(
  label: string,
  original: ModelScores,
  unlearned: ModelScores,
  retrained: ModelScores,
) {
  console.info(`${label}: original ${fmt(original)}; DEL ${fmt(unlearned)}; retrained ${fmt(retrained)}`)
  const gap = (s: ModelScores) => Math.abs(s.forget.accuracy - retrained.forget.accuracy)
  const aucGap = (s: ModelScores) => Math.abs((s.mia.auc as number) - (retrained.mia.auc as number))
  expect(gap(unlearned)).toBeLessThan(gap(original))
  expect(aucGap(unlearned)).toBeLessThan(aucGap(original))
  const [low, high] = retrained.mia.ci as [number, number]
  const inside = (s: ModelScores) => (s.mia.auc as number) >= low && (s.mia.auc as number) <= high
  expect(inside(original)).toBe(false)
  expect(inside(unlearned)).toBe(true)
  expect(unlearned.test.accuracy).toBeGreaterThanOrEqual(original.test.accuracy - 0.01)
}

describe('DEL on the digits demo (whole writers removed, α = 0.3)', () => {
  it('MLP through the engine’s job: towards the replayed retrain, and only the selection and the head change', async () => {
    const model = await trainModel(
      {
        dataDir,
        datasetId: digits.manifest.id,
        arch: { kind: 'mlp', hidden: [64] },
        training: TrainOptions.parse({ epochs: 20, batchSize: 32, learningRate: 0.05 }),
      },
      control,
    )
    const rows = rowsOfSubjects(0, 12)
    const result = await unlearnModel(
      {
        dataDir,
        modelId: model.id,
        method: 'del',
        rows,
        strictRows: true,
        requestId: null,
        reference: true,
        options: {},
      },
      control,
    )
    expect(result.guarantee.kind).toBe('empirical')
    expect(result.guarantee.meaning).toMatch(/no bound/i)
    const { original, unlearned, reference } = result.report
    expectTowardsRetrained(`DEL MLP, ${rows.length} rows`, original, unlearned, reference as ModelScores)

    const models = folders(dataDir).models
    const before = (await loadModel(models, model.id)).params
    const after = (await loadModel(models, result.model.id)).params
    const spec = specOf(model.arch)
    const view = result.details.mask as MaskView
    const selected = decodeMask(view.bits, spec.size)
    const trainable = trainableMask(spec, selected)
    const moved = differing(before, after)
    expect(moved.every((i) => trainable[i] === 1)).toBe(true)
    expect(moved.length).toBe(view.totals.changed)
    expect(moved.length).toBeGreaterThan(0.9 * view.totals.trainable)
    expect(view.totals.selected).toBe(budgetOf(0.3, spec.size))
    expect(view.totals.trainableFraction).toBeGreaterThan(0.3)
    // The UI's view: per parameter view, and a layers × units heat map of the selected share.
    expect(view.layers.map((l) => l.name)).toEqual(['W1', 'b1', 'W2', 'b2'])
    expect(view.layers.reduce((s, l) => s + l.selected, 0)).toBe(view.totals.selected)
    expect(view.heatmap.values.map((r) => r.length)).toEqual([64, 10])
    expect(view.heatmap.values.flat().every((v) => v >= 0 && v <= 1)).toBe(true)
  }, 60_000)

  it('small CNN (8×8×1, conv 8, dense 32): towards the replayed retrain', async () => {
    const context = await trainedContext(
      demoDataset('digits'),
      { kind: 'cnn', height: 8, width: 8, channels: 1, filters: [8], kernel: 3, dense: 32, classes: 10 },
      { epochs: 10, learningRate: 0.01 },
      0.1,
    )
    const outcome = await delMethod.unlearn(context, { epochs: 10, learningRate: 0.03 })
    const reference = await retrain(context, 'replay')
    const report = await verificationReport(
      context.spec,
      context.data,
      context.dataset,
      { forget: context.forgetRows, retain: context.retainRows },
      { original: context.original.params, unlearned: outcome.params, reference: reference.params },
    )
    expectTowardsRetrained(
      `DEL CNN, ${context.forgetRows.length} rows`,
      report.original,
      report.unlearned,
      report.reference as ModelScores,
    )
    const view = outcome.details.mask as MaskView
    const moved = differing(context.original.params, outcome.params)
    const trainable = trainableMask(context.spec, decodeMask(view.bits, context.spec.size))
    expect(moved.every((i) => trainable[i] === 1)).toBe(true)
    // Conv layer 1 has 8 output channels (h = 1), its heat-map row is 8 wide.
    expect(view.heatmap.values.map((r) => r.length)).toEqual([8, 32, 10])
  }, 60_000)

  it('resets to the original initialisation on request: θ₀ is redrawn from the manifest’s seed', async () => {
    const context = await trainedContext(
      demoDataset('digits'),
      { kind: 'mlp', inputs: 64, hidden: [16], classes: 10 },
      { epochs: 3 },
    )
    const outcome = await delMethod.unlearn(context, { reset: 'initial', epochs: 1 })
    expect(outcome.details.reset).toEqual({
      target: 'initial',
      seed: context.original.manifest.training.initSeed,
    })
    const fresh = await delMethod.unlearn(context, { epochs: 1 })
    expect((fresh.details.reset as { seed: number }).seed).not.toBe(
      context.original.manifest.training.initSeed,
    )
    await expect(delMethod.unlearn(context, { fraction: 0 })).rejects.toMatchObject({ code: 'BAD_INPUT' })
    await expect(delMethod.unlearn(unlearnContext(context, []), {})).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
  })
})

describe('lethe unlearn --method del', () => {
  it('passes the fraction, the localization, the epochs and the learning rate through', () => {
    const dir = tempDir('lethe-del-cli-')
    const run = (args: string[]) => {
      const result = lethe([...args, '--json'], { dataDir: dir })
      expect(result.stderr).not.toMatch(/lethe: [A-Z_]+:/)
      expect(result.code).toBe(0)
      return JSON.parse(result.stdout) as Record<string, unknown>
    }
    const dataset = run([
      'dataset',
      'import',
      'resources/datasets/breast-cancer.csv',
      '--subject-column',
      'patient_id',
      '--label-column',
      'diagnosis',
    ])
    const model = run([
      'model',
      'train',
      '--dataset',
      String(dataset.id),
      '--arch',
      'mlp',
      '--hidden',
      '16',
      '--epochs',
      '5',
    ])
    const subjects = path.join(dir, 'subjects.txt')
    writeFileSync(subjects, 'P-0001\nP-0002\nP-0003\nP-0004\nP-0005\nP-0006\n')
    const result = run([
      'unlearn',
      '--model',
      String(model.id),
      '--method',
      'del',
      '--subjects',
      subjects,
      '--fraction',
      '0.1',
      '--localization',
      'saliency',
      '--epochs',
      '2',
      '--lr',
      '0.02',
    ]) as unknown as UnlearnResult
    expect(result.method).toBe('del')
    expect(result.details).toMatchObject({
      fraction: 0.1,
      localization: 'saliency',
      granularity: 'param',
      epochs: 2,
      learningRate: 0.02,
    })
    const d = specOf({ kind: 'mlp', inputs: 30, hidden: [16], classes: 2 }).size
    expect((result.details.mask as MaskView).totals.selected).toBe(budgetOf(0.1, d))
  }, 60_000)
})
