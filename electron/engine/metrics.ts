/**
 * Verification metrics: accuracy and loss on a set of rows, the membership-inference attack
 * of the NeurIPS 2023 unlearning kit (a logistic-regression attacker on per-sample loss,
 * forget vs test) reported as a held-out AUC with a bootstrap interval, and distances
 * between two models.
 */
import { logits } from './models/forward'
import type { ModelSpec } from './models/spec'
import { Random } from './random'
import { tf } from './tf'
import type { TrainingData } from './train'

export interface RowsEvaluation {
  rows: number
  accuracy: number
  loss: number
  /** Per-sample cross-entropy, in the order of the rows given. */
  losses: Float32Array
  /** Predicted class per row. */
  predictions: Int32Array
  /** Softmax probabilities, rows × classes. */
  probabilities: Float32Array
}

const CHUNK = 2048

/** Accuracy, mean loss and per-sample losses of a model on some rows, in chunks. */
export async function evaluateRows(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  rows: Int32Array,
): Promise<RowsEvaluation> {
  const losses = new Float32Array(rows.length)
  const predictions = new Int32Array(rows.length)
  const probabilities = new Float32Array(rows.length * spec.classes)
  const theta = tf.tensor1d(params)
  try {
    for (let start = 0; start < rows.length; start += CHUNK) {
      const chunk = rows.subarray(start, start + CHUNK)
      const [loss, prob] = tf.tidy(() => {
        const index = tf.tensor1d(chunk, 'int32')
        const z = logits(spec, theta, tf.gather(data.x, index) as tf.Tensor2D)
        const logp = tf.logSoftmax(z)
        const onehot = tf.oneHot(tf.gather(data.y, index) as tf.Tensor1D, spec.classes)
        return [tf.neg(tf.sum(tf.mul(logp, onehot), 1)), tf.exp(logp)]
      })
      losses.set((await loss.data()) as Float32Array, start)
      const p = (await prob.data()) as Float32Array
      probabilities.set(p, start * spec.classes)
      loss.dispose()
      prob.dispose()
    }
  } finally {
    theta.dispose()
  }
  const labels = (await data.y.data()) as Int32Array
  let correct = 0
  let total = 0
  rows.forEach((row, i) => {
    let best = 0
    for (let c = 1; c < spec.classes; c++) {
      if (
        (probabilities[i * spec.classes + c] as number) > (probabilities[i * spec.classes + best] as number)
      )
        best = c
    }
    predictions[i] = best
    if (best === labels[row]) correct += 1
    total += losses[i] as number
  })
  const n = rows.length
  return {
    rows: n,
    accuracy: n ? correct / n : Number.NaN,
    loss: n ? total / n : Number.NaN,
    losses,
    predictions,
    probabilities,
  }
}

/** ROC AUC of scores, positives against negatives (Mann–Whitney U, ties counted half). */
export function rocAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const all = [
    ...Array.from(positives, (s) => ({ s, p: 1 })),
    ...Array.from(negatives, (s) => ({ s, p: 0 })),
  ].sort((a, b) => a.s - b.s)
  let rankSum = 0
  for (let i = 0; i < all.length;) {
    let j = i
    while (j < all.length && (all[j] as { s: number }).s === (all[i] as { s: number }).s) j++
    const rank = (i + 1 + j) / 2
    for (let k = i; k < j; k++) if ((all[k] as { p: number }).p === 1) rankSum += rank
    i = j
  }
  const np = positives.length
  const nn = negatives.length
  return np && nn ? (rankSum - (np * (np + 1)) / 2) / (np * nn) : Number.NaN
}

/**
 * The ROC curve of scores (higher: more likely a positive), one point per distinct threshold,
 * thinned to at most `points` points; it starts at (0, 0) and ends at (1, 1).
 */
export function rocCurve(
  positives: ArrayLike<number>,
  negatives: ArrayLike<number>,
  points = 101,
): { fpr: number[]; tpr: number[] } {
  const all = [
    ...Array.from(positives, (s) => ({ s, p: 1 })),
    ...Array.from(negatives, (s) => ({ s, p: 0 })),
  ].sort((a, b) => b.s - a.s)
  const fpr = [0]
  const tpr = [0]
  let tp = 0
  let fp = 0
  all.forEach((entry, i) => {
    if (entry.p === 1) tp += 1
    else fp += 1
    // Rows with the same score cross the threshold together: one point after the last of them.
    if (i === all.length - 1 || (all[i + 1] as { s: number }).s !== entry.s) {
      fpr.push(negatives.length ? fp / negatives.length : 0)
      tpr.push(positives.length ? tp / positives.length : 0)
    }
  })
  if (fpr.length <= points) return { fpr, tpr }
  const keep = Array.from({ length: points }, (_, k) => Math.round((k * (fpr.length - 1)) / (points - 1)))
  return { fpr: keep.map((i) => fpr[i] as number), tpr: keep.map((i) => tpr[i] as number) }
}

/** A one-feature logistic regression, fitted by Newton's method (the attacker of the kit). */
function fitAttacker(x: number[], y: number[]): (v: number) => number {
  const mean = x.reduce((a, b) => a + b, 0) / x.length
  const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length) || 1
  let w = 0
  let b = 0
  for (let iter = 0; iter < 25; iter++) {
    let gw = 0
    let gb = 0
    let hww = 1e-6
    let hwb = 0
    let hbb = 1e-6
    x.forEach((v, i) => {
      const z = (v - mean) / std
      const p = 1 / (1 + Math.exp(-(w * z + b)))
      const r = p - (y[i] as number)
      gw += r * z
      gb += r
      const s = p * (1 - p)
      hww += s * z * z
      hwb += s * z
      hbb += s
    })
    const det = hww * hbb - hwb * hwb
    w -= (hbb * gw - hwb * gb) / det
    b -= (hww * gb - hwb * gw) / det
  }
  return (v) => 1 / (1 + Math.exp(-(w * ((v - mean) / std) + b)))
}

export interface MiaResult {
  /** ROC AUC of the attacker on held-out folds: 0.5 means forget rows look like test rows. Null when there are too few rows. */
  auc: number | null
  /** 95% bootstrap interval of the AUC. */
  ci: [number, number] | null
  /** Held-out accuracy of the attacker, the kit's own number. */
  accuracy: number | null
  /** Samples per class after balancing. */
  perClass: number
  /** The attacker's ROC curve on the held-out folds (false and true positive rates), for plotting. */
  roc: { fpr: number[]; tpr: number[] } | null
  /** Why there is no number, when there is none. */
  note: string | null
}

/**
 * Trains a logistic-regression attacker on per-sample loss to tell forget rows (members,
 * label 1) from test rows (label 0), the larger set truncated to balance them, with
 * stratified k-fold cross-validation; scores are pooled over the held-out folds.
 */
export function membershipInference(
  forgetLosses: ArrayLike<number>,
  testLosses: ArrayLike<number>,
  seed = 1,
  folds = 5,
  bootstrap = 200,
): MiaResult {
  const random = new Random(seed)
  const n = Math.min(forgetLosses.length, testLosses.length)
  if (n < 2 * folds) {
    const note = `${n} forget rows: the attack needs at least ${2 * folds} to be trained and tested on separate rows`
    return { auc: null, ci: null, accuracy: null, perClass: n, roc: null, note }
  }
  const pos = random.shuffle(forgetLosses).slice(0, n)
  const neg = random.shuffle(testLosses).slice(0, n)
  const heldPos: number[] = []
  const heldNeg: number[] = []
  let correct = 0
  for (let f = 0; f < folds; f++) {
    const inFold = (i: number) => i % folds === f
    const trainX = [...pos.filter((_, i) => !inFold(i)), ...neg.filter((_, i) => !inFold(i))]
    const trainY = [
      ...pos.filter((_, i) => !inFold(i)).map(() => 1),
      ...neg.filter((_, i) => !inFold(i)).map(() => 0),
    ]
    const attacker = fitAttacker(trainX, trainY)
    for (const v of pos.filter((_, i) => inFold(i))) {
      const p = attacker(v)
      heldPos.push(p)
      if (p >= 0.5) correct += 1
    }
    for (const v of neg.filter((_, i) => inFold(i))) {
      const p = attacker(v)
      heldNeg.push(p)
      if (p < 0.5) correct += 1
    }
  }
  const auc = rocAuc(heldPos, heldNeg)
  const samples: number[] = []
  for (let b = 0; b < bootstrap; b++) {
    const rp = Array.from({ length: heldPos.length }, () => heldPos[random.int(heldPos.length)] as number)
    const rn = Array.from({ length: heldNeg.length }, () => heldNeg[random.int(heldNeg.length)] as number)
    samples.push(rocAuc(rp, rn))
  }
  samples.sort((a, b) => a - b)
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number
  return {
    auc,
    ci: [at(0.025), at(0.975)],
    accuracy: correct / (2 * n),
    perClass: n,
    roc: rocCurve(heldPos, heldNeg),
    note: null,
  }
}

/** ‖a − b‖₂ over all parameters. */
export function l2Distance(a: Float32Array, b: Float32Array): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2
  return Math.sqrt(sum)
}

/** ‖v‖₂, accumulated in float64. */
export function l2Norm(v: ArrayLike<number>): number {
  let sum = 0
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) ** 2
  return Math.sqrt(sum)
}

/** Fraction of rows on which two models predict the same class. */
export function agreement(a: RowsEvaluation, b: RowsEvaluation): number {
  let same = 0
  a.predictions.forEach((p, i) => (same += p === b.predictions[i] ? 1 : 0))
  return a.rows ? same / a.rows : Number.NaN
}

/** Mean KL(p_a ‖ p_b) of the predicted distributions over the rows. */
export function meanKl(a: RowsEvaluation, b: RowsEvaluation, classes: number): number {
  let total = 0
  for (let i = 0; i < a.rows; i++) {
    for (let c = 0; c < classes; c++) {
      const p = Math.max(a.probabilities[i * classes + c] as number, 1e-12)
      const q = Math.max(b.probabilities[i * classes + c] as number, 1e-12)
      total += p * Math.log(p / q)
    }
  }
  return a.rows ? total / a.rows : Number.NaN
}
