import { afterAll, describe, expect, it } from 'vitest'
import { lossAndGradient, logits } from '../../electron/engine/models/forward'
import { checkTrainingFits } from '../../electron/engine/models/memory'
import { initParams, specOf, type Architecture } from '../../electron/engine/models/spec'
import { Random } from '../../electron/engine/random'
import { tf } from '../../electron/engine/tf'
import { defaultTrainConfig, train, uploadData } from '../../electron/engine/train'

/** Lethe's own CNN, and the same network written as the general convnet an importer produces. */
const cnnArch: Architecture = {
  kind: 'cnn',
  height: 7,
  width: 6,
  channels: 2,
  filters: [3, 4],
  kernel: 3,
  dense: 5,
  classes: 3,
}
const sameAsConvnet: Architecture = {
  kind: 'convnet',
  height: 7,
  width: 6,
  channels: 2,
  stages: [
    { filters: 3, kernel: 3, padding: 'same', activation: 'relu', pool: 'max' },
    { filters: 4, kernel: 3, padding: 'same', activation: 'relu', pool: 'max' },
  ],
  globalPool: false,
  hidden: [5],
  activation: 'relu',
  classes: 3,
}

function randomValues(length: number, seed: number, scale = 1): Float32Array {
  const random = new Random(seed)
  return Float32Array.from({ length }, () => random.normal() * scale)
}

afterAll(async () => {
  await tf.setBackend('cpu')
})

describe("a 'cnn' and the equivalent 'convnet'", () => {
  it.each(['cpu', 'wasm'])(
    'share the parameter layout and give bit-identical logits and gradients on %s',
    async (backend) => {
      await tf.setBackend(backend)
      const cnn = specOf(cnnArch)
      const convnet = specOf(sameAsConvnet)
      expect(convnet.views).toEqual(cnn.views)
      const n = 5
      const theta = randomValues(cnn.size, 1, 0.5)
      const xs = randomValues(n * cnn.inputs, 2)
      const [params, x, y] = [
        tf.tensor1d(theta),
        tf.tensor2d(xs, [n, cnn.inputs]),
        tf.tensor1d([0, 1, 2, 0, 1], 'int32'),
      ]
      try {
        const read = (fn: () => tf.Tensor) => {
          const t = tf.tidy(fn)
          const data = Array.from(t.dataSync())
          t.dispose()
          return data
        }
        const cnnLogits = read(() => logits(cnn, params, x))
        expect(cnnLogits.some((v) => v !== 0)).toBe(true)
        expect(read(() => logits(convnet, params, x))).toEqual(cnnLogits)
        expect(read(() => lossAndGradient(convnet, params, x, y, 0.01).grad)).toEqual(
          read(() => lossAndGradient(cnn, params, x, y, 0.01).grad),
        )
      } finally {
        params.dispose()
        x.dispose()
        y.dispose()
      }
    },
  )
})

describe('training a convnet', () => {
  it('lowers the loss with the engine’s SGD on WASM (valid conv, average pooling, sigmoid, global pool, tanh dense)', async () => {
    await tf.setBackend('wasm')
    const arch: Architecture = {
      kind: 'convnet',
      height: 6,
      width: 6,
      channels: 1,
      stages: [
        { filters: 4, kernel: 3, padding: 'valid', activation: 'relu', pool: 'avg' },
        { filters: 6, kernel: 2, padding: 'same', activation: 'sigmoid', pool: 'none' },
      ],
      globalPool: true,
      hidden: [8],
      activation: 'tanh',
      classes: 3,
    }
    // Three classes of 6×6 images, each brighter in a different third of its columns.
    const n = 120
    const random = new Random(3)
    const features = new Float32Array(n * 36)
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3)
    for (let i = 0; i < n; i++)
      for (let p = 0; p < 36; p++)
        features[i * 36 + p] = random.normal() * 0.5 + (Math.floor((p % 6) / 2) === labels[i] ? 1.5 : 0)
    const data = uploadData(features, labels, 36)
    const spec = specOf(arch)
    try {
      const result = await train(
        spec,
        data,
        Int32Array.from({ length: n }, (_, i) => i),
        { ...defaultTrainConfig, epochs: 8, batchSize: 16, learningRate: 0.1 },
        initParams(spec, 5),
      )
      expect(result.params.every(Number.isFinite)).toBe(true)
      expect(result.epochLoss.at(-1)).toBeLessThan((result.epochLoss[0] as number) * 0.7)
    } finally {
      data.x.dispose()
      data.y.dispose()
    }
  })
})

describe('the training memory estimate', () => {
  it('accepts a small convnet and refuses one whose batches outgrow the WebAssembly memory', () => {
    const arch: Architecture = {
      kind: 'convnet',
      height: 64,
      width: 64,
      channels: 3,
      stages: [{ filters: 64, kernel: 3, padding: 'valid', activation: 'relu', pool: 'avg' }],
      globalPool: true,
      hidden: [],
      activation: 'relu',
      classes: 10,
    }
    const spec = specOf(arch)
    expect(() => checkTrainingFits(spec, 8, 100, 'wasm')).not.toThrow()
    // 62·62·(27 + 64) floats a row for the im2col convolution alone: 4096 rows a batch need ~14 GB.
    expect(() => checkTrainingFits(spec, 4096, 100, 'wasm')).toThrow(/CNN 64×64×3: conv 64 3×3 valid ReLU/)
  })
})
