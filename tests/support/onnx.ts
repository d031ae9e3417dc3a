/**
 * What the ONNX import and export tests hold against onnxruntime: the test split as Lethe encodes
 * it (and as the NCHW batch an image model's graph takes), Lethe's own class probabilities for a
 * stored version, softmax of a graph's logits, and the largest gap between two.
 */
import { expect } from 'vitest'
import type { Dataset } from '../../electron/engine/data/dataset'
import { folders } from '../../electron/engine/folders'
import { logits } from '../../electron/engine/models/forward'
import { specOf } from '../../electron/engine/models/spec'
import { loadModel, type ModelManifest } from '../../electron/engine/models/store'
import { tf } from '../../electron/engine/tf'

/** The test split's encoded rows, as Lethe feeds them to a model. */
export function testRowsOf(dataset: Dataset): Float32Array {
  const dim = dataset.manifest.featureDim
  const x = new Float32Array(dataset.test.length * dim)
  dataset.test.forEach((row, i) => x.set(dataset.features.subarray(row * dim, (row + 1) * dim), i * dim))
  return x
}

/** Image rows in Lethe's (h, w, c) order as the NCHW batch an ONNX Conv takes: [rows, c, h, w], flat. */
export function nchwOf(x: Float32Array, [height, width, channels]: readonly number[]): Float32Array {
  const [h, w, c] = [height as number, width as number, channels as number]
  const size = h * w * c
  const out = new Float32Array(x.length)
  for (let r = 0; r < x.length / size; r++)
    for (let y = 0; y < h; y++)
      for (let i = 0; i < w; i++)
        for (let k = 0; k < c; k++)
          out[r * size + (k * h + y) * w + i] = x[r * size + (y * w + i) * c + k] as number
  return out
}

/** Row-wise softmax of logits (or of log-probabilities, which gives the probabilities back). */
export function softmaxRows(values: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(values.length)
  for (let r = 0; r < values.length / classes; r++) {
    const row = Array.from(values.subarray(r * classes, (r + 1) * classes))
    const max = Math.max(...row)
    const exps = row.map((v) => Math.exp(v - max))
    const sum = exps.reduce((a, b) => a + b, 0)
    exps.forEach((v, c) => (out[r * classes + c] = v / sum))
  }
  return out
}

/** Lethe's class probabilities for rows: softmax of the engine's logits. */
export async function letheProbabilities(
  dataDir: string,
  manifest: ModelManifest,
  x: Float32Array,
): Promise<Float32Array> {
  const { params } = await loadModel(folders(dataDir).models, manifest.id)
  const spec = specOf(manifest.arch)
  const probabilities = tf.tidy(() =>
    tf.softmax(logits(spec, tf.tensor1d(params), tf.tensor2d(x, [x.length / spec.inputs, spec.inputs]))),
  )
  const values = (await probabilities.data()) as Float32Array
  probabilities.dispose()
  return values
}

/** max |a_i − b_i|, the two being the same length. */
export function worstDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)))
  return worst
}
