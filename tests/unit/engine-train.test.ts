import { describe, expect, it } from 'vitest'
import { l2Distance, membershipInference, rocAuc, rocCurve } from '../../electron/engine/metrics'
import { logits } from '../../electron/engine/models/forward'
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { Random } from '../../electron/engine/random'
import { tf } from '../../electron/engine/tf'
import {
  batchPlan,
  defaultTrainConfig,
  learningRateAt,
  replayPlan,
  train,
  uploadData,
  type TrainConfig,
} from '../../electron/engine/train'

/** Three Gaussian blobs in 36 dimensions (a 6×6 "image" for the CNN). */
function blobs(n = 240, seed = 3) {
  const random = new Random(seed)
  const d = 36
  const x = new Float32Array(n * d)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    y[i] = i % 3
    for (let j = 0; j < d; j++) x[i * d + j] = random.normal() + (j % 3 === i % 3 ? 1.5 : 0)
  }
  return { x, y, d, rows: Int32Array.from({ length: n }, (_, i) => i) }
}

const archs: Architecture[] = [
  { kind: 'logreg', inputs: 36, classes: 3 },
  { kind: 'mlp', inputs: 36, hidden: [16], classes: 3 },
  { kind: 'cnn', height: 6, width: 6, channels: 1, filters: [4], kernel: 3, dense: 8, classes: 3 },
]
const config: TrainConfig = { ...defaultTrainConfig, epochs: 3, batchSize: 32, learningRate: 0.05 }

async function trainOn(backend: string, arch: Architecture, overrides: Partial<TrainConfig> = {}) {
  await tf.setBackend(backend)
  const { x, y, d, rows } = blobs()
  const data = uploadData(x, y, d)
  const spec = specOf(arch)
  try {
    return await train(spec, data, rows, { ...config, ...overrides }, initParams(spec, 7))
  } finally {
    data.x.dispose()
    data.y.dispose()
  }
}

describe('training', () => {
  it.each(archs.map((a) => [a.kind, a] as const))(
    'gives the same %s on wasm and cpu within float32 tolerance',
    async (_kind, arch) => {
      const onWasm = await trainOn('wasm', arch)
      const onCpu = await trainOn('cpu', arch)
      const scale = Math.sqrt(onCpu.params.reduce((a, v) => a + v * v, 0))
      expect(l2Distance(onWasm.params, onCpu.params) / scale).toBeLessThan(1e-4)
      expect(onWasm.epochLoss.at(-1)).toBeCloseTo(onCpu.epochLoss.at(-1) as number, 4)
    },
  )

  it('learns: the loss falls and the same seed replays bit for bit', async () => {
    const arch = archs[1] as Architecture
    const a = await trainOn('wasm', arch, { epochs: 8 })
    const b = await trainOn('wasm', arch, { epochs: 8 })
    expect(a.epochLoss.at(-1)).toBeLessThan((a.epochLoss[0] as number) * 0.6)
    expect(Array.from(a.params)).toEqual(Array.from(b.params))
    const c = await trainOn('wasm', arch, { epochs: 8, seed: 2 })
    expect(l2Distance(a.params, c.params)).toBeGreaterThan(0)
  })

  it('trains with Adam and projects onto the ball ‖θ‖ ≤ C', async () => {
    const result = await trainOn('wasm', archs[1] as Architecture, {
      optimizer: 'adam',
      learningRate: 0.01,
      projectRadius: 2,
    })
    expect(Math.sqrt(result.params.reduce((a, v) => a + v * v, 0))).toBeLessThanOrEqual(2 + 1e-4)
    expect(result.projections).toBeGreaterThan(0)
  })

  it('stops with CANCELLED when asked', async () => {
    await tf.setBackend('wasm')
    const { x, y, d, rows } = blobs()
    const spec = specOf(archs[1] as Architecture)
    const abort = new AbortController()
    abort.abort()
    await expect(
      train(spec, uploadData(x, y, d), rows, config, initParams(spec, 1), { signal: abort.signal }),
    ).rejects.toMatchObject({ code: 'CANCELLED' })
  })
})

describe('batch plans', () => {
  const rows = Int32Array.from({ length: 10 }, (_, i) => i)
  const cfg = { ...config, batchSize: 4 }

  it('covers every row once an epoch, reshuffles per epoch unless told not to', () => {
    const epoch0 = batchPlan(rows, cfg, 0)
    expect(epoch0.map((b) => b.step)).toEqual([0, 1, 2])
    expect(epoch0.flatMap((b) => Array.from(b.rows)).sort((a, b) => a - b)).toEqual(Array.from(rows))
    expect(batchPlan(rows, cfg, 1).map((b) => b.step)).toEqual([3, 4, 5])
    expect(batchPlan(rows, cfg, 1).map((b) => Array.from(b.rows))).not.toEqual(
      epoch0.map((b) => Array.from(b.rows)),
    )
    const same = { ...cfg, samePermutationEachEpoch: true }
    expect(batchPlan(rows, same, 1).map((b) => Array.from(b.rows))).toEqual(
      batchPlan(rows, same, 0).map((b) => Array.from(b.rows)),
    )
  })

  it('replays without the forget rows: same batches and step numbers, emptied batches skipped', () => {
    const plan = batchPlan(rows, cfg, 0)
    const lastBatch = Array.from((plan[2] as { rows: Int32Array }).rows)
    const replay = replayPlan(rows, new Set(lastBatch), cfg)(0)
    expect(replay.map((b) => b.step)).toEqual([0, 1])
    expect(replay.map((b) => Array.from(b.rows))).toEqual(plan.slice(0, 2).map((b) => Array.from(b.rows)))
    const one = (plan[0] as { rows: Int32Array }).rows[0] as number
    const without = replayPlan(rows, new Set([one]), cfg)(0)
    expect(Array.from((without[0] as { rows: Int32Array }).rows)).toEqual(
      Array.from((plan[0] as { rows: Int32Array }).rows).filter((r) => r !== one),
    )
  })
})

describe('learning-rate schedules', () => {
  it('anneals a cosine per step to 0, or per epoch to a floor as PyTorch’s CosineAnnealingLR does', () => {
    const base = { ...defaultTrainConfig, learningRate: 0.1, epochs: 4 }
    const perStep = { ...base, schedule: { kind: 'cosine' as const } }
    // 4 epochs × 5 steps: half-way through the run the rate is η₀/2, and it ends near 0.
    expect(learningRateAt(perStep, 0, 20, 5)).toBe(0.1)
    expect(learningRateAt(perStep, 10, 20, 5)).toBeCloseTo(0.05, 12)
    expect(learningRateAt(perStep, 19, 20, 5)).toBeLessThan(0.001)
    // η_e = η_min + (η₀ − η_min)(1 + cos(πe/E))/2 with η_min = 0.01·η₀, constant within an epoch.
    const perEpoch = { ...base, schedule: { kind: 'cosine' as const, floor: 0.01, perEpoch: true } }
    const torch = (e: number) => 0.001 + (0.1 - 0.001) * 0.5 * (1 + Math.cos((Math.PI * e) / 4))
    for (const step of [0, 4, 5, 9, 12, 19])
      expect(learningRateAt(perEpoch, step, 20, 5)).toBeCloseTo(torch(Math.floor(step / 5)), 12)
  })
})

describe('the CNN forward pass', () => {
  it('computes the same convolution as tf.conv2d', async () => {
    await tf.setBackend('cpu')
    const arch: Architecture = {
      kind: 'cnn',
      height: 5,
      width: 7,
      channels: 3,
      filters: [4],
      kernel: 3,
      dense: 6,
      classes: 2,
    }
    const spec = specOf(arch)
    const params = initParams(spec, 3)
    const random = new Random(5)
    const xs = Float32Array.from({ length: 2 * 5 * 7 * 3 }, () => random.normal())
    const theta = tf.tensor1d(params)
    const ours = logits(spec, theta, tf.tensor2d(xs, [2, 105]))
    const reference = tf.tidy(() => {
      const v = (i: number) => {
        const view = spec.views[i] as { offset: number; size: number; shape: number[] }
        return tf.reshape(tf.slice(theta, view.offset, view.size), view.shape)
      }
      const conv = tf.relu(
        tf.add(tf.conv2d(tf.tensor4d(xs, [2, 5, 7, 3]), v(0) as tf.Tensor4D, 1, 'same'), v(1)),
      )
      const pooled = tf.reshape(tf.maxPool(conv as tf.Tensor4D, 2, 2, 'valid'), [2, -1])
      const hidden = tf.relu(tf.add(tf.matMul(pooled as tf.Tensor2D, v(2) as tf.Tensor2D), v(3)))
      return tf.add(tf.matMul(hidden as tf.Tensor2D, v(4) as tf.Tensor2D), v(5))
    })
    const got = await ours.data()
    const want = await reference.data()
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - (want[i] as number))))
    expect(worst).toBeLessThan(1e-4)
  })
})

describe('metrics', () => {
  it('computes ROC AUC with ties', () => {
    expect(rocAuc([3, 4], [1, 2])).toBe(1)
    expect(rocAuc([1, 2], [3, 4])).toBe(0)
    expect(rocAuc([1, 2], [1, 2])).toBe(0.5)
  })

  it('sees no membership where losses are alike, and full membership where they are not', () => {
    const random = new Random(11)
    const alike = Array.from({ length: 400 }, () => random.normal())
    const also = Array.from({ length: 400 }, () => random.normal())
    const none = membershipInference(alike, also)
    expect(none.auc).toBeGreaterThan(0.4)
    expect(none.auc).toBeLessThan(0.6)
    expect(none.ci?.[0]).toBeLessThan(0.5)
    expect(none.ci?.[1]).toBeGreaterThan(0.5)
    // Members have low loss: the attacker learns the direction itself.
    const members = alike.map((v) => v - 4)
    const clear = membershipInference(members, also)
    expect(clear.auc).toBeGreaterThan(0.97)
    expect(clear.accuracy).toBeGreaterThan(0.9)
    // The plotted ROC curve is the attack's: the area under it (trapezoids) is its AUC.
    for (const result of [none, clear]) {
      const { fpr, tpr } = result.roc as { fpr: number[]; tpr: number[] }
      expect([fpr[0], tpr[0], fpr.at(-1), tpr.at(-1)]).toEqual([0, 0, 1, 1])
      const area = fpr.reduce(
        (sum, x, i) =>
          i ? sum + ((x - (fpr[i - 1] as number)) * ((tpr[i] as number) + (tpr[i - 1] as number))) / 2 : 0,
        0,
      )
      expect(area).toBeCloseTo(result.auc as number, 2)
    }
  })

  it('draws the ROC curve through every threshold, ties together', () => {
    expect(rocCurve([3, 2], [2, 1])).toEqual({ fpr: [0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1] })
    const thin = rocCurve(
      Array.from({ length: 500 }, (_, i) => i),
      Array.from({ length: 500 }, (_, i) => i + 0.5),
      11,
    )
    expect(thin.fpr).toHaveLength(11)
    expect([thin.fpr[0], thin.fpr.at(-1)]).toEqual([0, 1])
  })
})

describe('the attack on a small forget set', () => {
  it('gives no number, and says why, when there are too few rows to train and test it', () => {
    const result = membershipInference([0.1, 0.2], [0.5, 0.6, 0.7])
    expect(result).toMatchObject({
      auc: null,
      ci: null,
      perClass: 2,
      note: expect.stringMatching(/2 forget rows/),
    })
  })
})
