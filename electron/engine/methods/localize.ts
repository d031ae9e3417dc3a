/**
 * Where a model holds the rows to forget (ALGORITHMS.md §4.1, §4.3): DEL's localization and the
 * paper's baselines, each choosing at most ⌊α·d⌋ entries of the flat parameter vector for DEL to
 * reset and fine-tune.
 * - del: |Σ θ ⊙ ∇L_F| over the forget rows, per output unit (the mean of its top-h entries),
 *   global top-k: the paper's method.
 * - saliency (SalLoc, SalUn's mask): |Σ ∇L_F| per entry, global top-k.
 * - random: a seeded uniform draw ("which parameters matters, not only how many").
 * - shallow / deep: whole layers from the input / from the head, the layer cut at the budget
 *   filled by DEL's unit score (the "memorisation lives in the last layers" hypotheses).
 * - critmem: after Maini et al. 2023, per forget row the hidden units most critical to it are
 *   zeroed one at a time until its prediction flips; the units needed most often are reset
 *   whole, up to the budget (which it may leave unfilled, as in the paper's 16 %).
 */
import { LetheError } from '../../contract'
import { localizations, type UnlearnOptions } from '../../contract/engine'
import { lossAndGradient, logits } from '../models/forward'
import type { ModelSpec, ParamView } from '../models/spec'
import { Random } from '../random'
import { tf } from '../tf'
import { batchPlan, defaultTrainConfig, type TrainHooks, type TrainingData } from '../train'

/** DEL's options that choose what to reset. */
export type LocalizeOptions = Pick<
  UnlearnOptions['del'],
  'fraction' | 'localization' | 'granularity' | 'score'
>
export type Localization = NonNullable<LocalizeOptions['localization']>
/** 'unit': every entry of a weight's output unit (neuron, conv output channel) gets the unit's score; 'param': per entry. */
export type Granularity = NonNullable<LocalizeOptions['granularity']>
/** 'weighted': |Σ θ ⊙ ∇L_F| (DEL); 'gradient': |Σ ∇L_F| (SalUn's saliency). */
export type Criterion = NonNullable<LocalizeOptions['score']>

export const DEL_DEFAULT_FRACTION = 0.3
/** Forget batches of the score pass, as in the code (which also drops the last partial batch; Lethe keeps it). */
const SCORE_BATCH = 128

/** Output units of a parameter view: the last dimension (dense [in, out], conv [k, k, in, out], bias [out]). */
export const unitsOf = (view: ParamView): number => view.shape.at(-1) as number

/** How many top entries a unit's score averages: the code's ⌊0.1·C_out⌋, at least 1 (pitfall 3). */
export const topH = (outputUnits: number): number => Math.max(1, Math.floor(0.1 * outputUnits))

/**
 * A(θ) = |Σ_b θ ⊙ ∇ CE_b| (weighted) or |Σ_b ∇ CE_b| (gradient), over batches b of the forget
 * rows, each the gradient of its mean cross-entropy at θ: signed accumulation, magnitude after.
 * The sign of the loss (the code ascends, −CE) does not change the magnitude.
 */
export async function forgetScores(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  forgetRows: Int32Array,
  criterion: Criterion,
  seed: number,
): Promise<Float32Array> {
  const theta = tf.tensor1d(params)
  let sum = tf.zeros([spec.size]) as tf.Tensor1D
  try {
    const batches = batchPlan(forgetRows, { ...defaultTrainConfig, batchSize: SCORE_BATCH, seed }, 0)
    for (const batch of batches) {
      const next = tf.tidy(() => {
        const index = tf.tensor1d(batch.rows, 'int32')
        const x = tf.gather(data.x, index) as tf.Tensor2D
        const y = tf.gather(data.y, index) as tf.Tensor1D
        const { grad } = lossAndGradient(spec, theta, x, y, 0)
        return tf.add(sum, criterion === 'weighted' ? tf.mul(theta, grad) : grad) as tf.Tensor1D
      })
      sum.dispose()
      sum = next
    }
    const magnitude = tf.abs(sum)
    const out = (await magnitude.data()) as Float32Array
    magnitude.dispose()
    return out
  } finally {
    theta.dispose()
    sum.dispose()
  }
}

/**
 * Unit granularity: for each weight (ndim > 1, the head's included), every entry of output unit
 * o gets the mean of the unit's top-h entry scores, h = max(1, ⌊0.1·C_out⌋) (capped at the
 * unit's entries). Biases keep their per-entry score, as in the code.
 */
export function unitScores(spec: ModelSpec, scores: Float32Array): Float32Array {
  const out = Float32Array.from(scores)
  for (const view of spec.views) {
    if (view.role !== 'weight') continue
    const units = unitsOf(view)
    const means = unitMeans(view, scores)
    for (let i = 0; i < view.size; i++) out[view.offset + i] = means[i % units] as number
  }
  return out
}

/**
 * Per output unit of a weight view, the mean of its h = max(1, ⌊0.1·C_out⌋) largest entry
 * scores (capped at its entries): each unit's top h kept ascending, in one pass in memory order.
 */
function unitMeans(view: ParamView, scores: Float32Array): Float32Array {
  const units = unitsOf(view)
  const h = Math.min(view.size / units, topH(units))
  const top = new Float32Array(units * h).fill(Number.NEGATIVE_INFINITY)
  for (let row = view.offset; row < view.offset + view.size; row += units) {
    for (let o = 0; o < units; o++) {
      const v = scores[row + o] as number
      const base = o * h
      if (!(v > (top[base] as number))) continue
      let j = 0
      while (j + 1 < h && v > (top[base + j + 1] as number)) {
        top[base + j] = top[base + j + 1] as number
        j += 1
      }
      top[base + j] = v
    }
  }
  return Float32Array.from({ length: units }, (_, o) => {
    let total = 0
    for (let j = 0; j < h; j++) total += top[o * h + j] as number
    return total / h
  })
}

/** The budget: ⌊α·d⌋ entries. */
export const budgetOf = (fraction: number, size: number): number => Math.floor(fraction * size)

/** Global top-k over all entries (no per-layer quota); ties go to the lower index. */
export function selectTop(scores: Float32Array, k: number): Uint8Array {
  const order = Uint32Array.from({ length: scores.length }, (_, i) => i)
  order.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
  const mask = new Uint8Array(scores.length)
  for (let i = 0; i < k; i++) mask[order[i] as number] = 1
  return mask
}

/** k entries drawn uniformly without replacement, seeded. */
export function selectRandom(size: number, k: number, seed: number): Uint8Array {
  const random = new Random(seed)
  const order = Uint32Array.from({ length: size }, (_, i) => i)
  const mask = new Uint8Array(size)
  for (let i = 0; i < k; i++) {
    const j = i + random.int(size - i)
    const picked = order[j] as number
    order[j] = order[i] as number
    order[i] = picked
    mask[picked] = 1
  }
  return mask
}

/** Entries in order of layer (from the input, or from the head), then by score; the first k. */
export function selectByDepth(
  spec: ModelSpec,
  scores: Float32Array,
  k: number,
  from: 'input' | 'head',
): Uint8Array {
  const layerOf = new Int32Array(spec.size)
  for (const view of spec.views) layerOf.fill(view.layer, view.offset, view.offset + view.size)
  const sign = from === 'input' ? 1 : -1
  const order = Uint32Array.from({ length: spec.size }, (_, i) => i)
  order.sort(
    (a, b) =>
      sign * ((layerOf[a] as number) - (layerOf[b] as number)) ||
      (scores[b] as number) - (scores[a] as number) ||
      a - b,
  )
  const mask = new Uint8Array(spec.size)
  for (let i = 0; i < k; i++) mask[order[i] as number] = 1
  return mask
}

// ── CritMem ─────────────────────────────────────────────────────────────────────────────────

/** A hidden unit: its layer's views and its index among the layer's outputs. */
interface Unit {
  layer: number
  index: number
  views: ParamView[]
}

/** The hidden units (every layer's outputs but the head's, which DEL fine-tunes whole anyway). */
export function hiddenUnits(spec: ModelSpec): Unit[] {
  const units: Unit[] = []
  for (const weight of spec.views) {
    if (weight.role !== 'weight' || weight.head) continue
    const views = spec.views.filter((v) => v.layer === weight.layer)
    for (let o = 0; o < unitsOf(weight); o++) units.push({ layer: weight.layer, index: o, views })
  }
  return units
}

/** Every entry of a unit: its weight column and its bias. */
function entriesOf(unit: Unit): number[] {
  const entries: number[] = []
  for (const view of unit.views) {
    const width = unitsOf(view)
    for (let i = unit.index; i < view.size; i += width) entries.push(view.offset + i)
  }
  return entries
}

/** |θ ⊙ ∇ mean-CE| over some rows, as one score per hidden unit (in hiddenUnits' order). */
function hiddenUnitScores(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  rows: Int32Array,
): Float32Array {
  const scores = tf.tidy(() => {
    const theta = tf.tensor1d(params)
    const index = tf.tensor1d(rows, 'int32')
    const { grad } = lossAndGradient(
      spec,
      theta,
      tf.gather(data.x, index) as tf.Tensor2D,
      tf.gather(data.y, index) as tf.Tensor1D,
      0,
    )
    return tf.abs(tf.mul(theta, grad))
  })
  const entries = scores.dataSync() as Float32Array
  scores.dispose()
  const weights = spec.views.filter((v) => v.role === 'weight' && !v.head)
  const out = new Float32Array(weights.reduce((n, v) => n + unitsOf(v), 0))
  let at = 0
  for (const view of weights) {
    out.set(unitMeans(view, entries), at)
    at += unitsOf(view)
  }
  return out
}

export interface CriticalPath {
  /** Indices into hiddenUnits(spec), in the order they were zeroed. */
  units: number[]
  /** Whether the row's prediction left its label (false: the cap came first, or it was never right). */
  flipped: boolean
}

/**
 * Maini et al.'s greedy search for one row, at unit granularity: while the model still predicts
 * the row's label, zero the hidden unit whose |θ ⊙ ∇CE(row)| score most exceeds its score on a
 * batch of retained rows (`retainedScores`, one per hidden unit: critical to this row, not to
 * the rest), at most `cap` units.
 */
export function criticalPath(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  row: number,
  retainedScores: Float32Array,
  cap: number,
): CriticalPath {
  const units = hiddenUnits(spec)
  const label = tf.tidy(() => data.y.slice([row], [1]).dataSync()[0] as number)
  const current = Float32Array.from(params)
  const zeroed: number[] = []
  const taken = new Uint8Array(units.length)
  const predicted = () =>
    tf.tidy(() => {
      const out = logits(spec, tf.tensor1d(current), data.x.slice([row, 0], [1, -1]) as tf.Tensor2D)
      return tf.argMax(out, 1).dataSync()[0] as number
    })
  if (predicted() !== label) return { units: [], flipped: false }
  while (zeroed.length < cap) {
    const own = hiddenUnitScores(spec, current, data, Int32Array.of(row))
    let best = -1
    let bestScore = Number.NEGATIVE_INFINITY
    for (let u = 0; u < units.length; u++) {
      const score = (own[u] as number) - (retainedScores[u] as number)
      if (!taken[u] && score > bestScore) {
        bestScore = score
        best = u
      }
    }
    if (best < 0) break
    taken[best] = 1
    zeroed.push(best)
    for (const i of entriesOf(units[best] as Unit)) current[i] = 0
    if (predicted() !== label) return { units: zeroed, flipped: true }
  }
  return { units: zeroed, flipped: false }
}

/** How far CritMem searched: the run record keeps it beside the mask. */
export interface CriticalSearch {
  rows: number
  flipped: number
  /** Units zeroed per row, on average (flipped rows only; null if none flipped). */
  meanUnits: number | null
  cap: number
  /** Distinct units in the union, and how many fit the budget. */
  units: number
  selectedUnits: number
}

/**
 * Rows of the forget set CritMem searches, a seeded sample beyond this: each search is up to
 * `cap` single-row gradients, and the mask only needs the units most often critical.
 */
const CRITMEM_ROWS = 64
/** Retained rows whose scores say what the rest of the data needs. */
const CRITMEM_RETAINED = 128

async function criticalMask(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  forgetRows: Int32Array,
  retainRows: Int32Array,
  k: number,
  seed: number,
  hooks: Pick<TrainHooks, 'signal' | 'onProgress'>,
): Promise<{ selected: Uint8Array; search: CriticalSearch }> {
  const random = new Random(seed)
  const rows = random.shuffle(forgetRows).slice(0, CRITMEM_ROWS)
  const retained = Int32Array.from(random.shuffle(retainRows).slice(0, CRITMEM_RETAINED))
  const retainedScores = hiddenUnitScores(spec, params, data, retained)
  const units = hiddenUnits(spec)
  const cap = Math.ceil(units.length / 2)
  const counts = new Float64Array(units.length)
  let flipped = 0
  let zeroedOnFlip = 0
  const begun = performance.now()
  for (const [i, row] of rows.entries()) {
    if (hooks.signal?.aborted) throw new LetheError('CANCELLED', 'Cancelled during the CritMem search.')
    const path = criticalPath(spec, params, data, row as number, retainedScores, cap)
    for (const u of path.units) counts[u] = (counts[u] as number) + 1
    if (path.flipped) {
      flipped += 1
      zeroedOnFlip += path.units.length
    }
    // A search of minutes gets a moving bar: one step per row (no loss to plot).
    const elapsed = performance.now() - begun
    hooks.onProgress?.({
      epoch: 0,
      epochs: 1,
      step: i + 1,
      steps: rows.length,
      loss: Number.NaN,
      accuracy: Number.NaN,
      etaMs: (elapsed / (i + 1)) * (rows.length - i - 1),
    })
    await new Promise((resolve) => setImmediate(resolve))
  }
  const order = units.map((_, u) => u).filter((u) => (counts[u] as number) > 0)
  order.sort((a, b) => (counts[b] as number) - (counts[a] as number) || a - b)
  const selected = new Uint8Array(spec.size)
  let spent = 0
  let selectedUnits = 0
  for (const u of order) {
    const entries = entriesOf(units[u] as Unit)
    if (spent + entries.length > k) break
    for (const i of entries) selected[i] = 1
    spent += entries.length
    selectedUnits += 1
  }
  return {
    selected,
    search: {
      rows: rows.length,
      flipped,
      meanUnits: flipped > 0 ? zeroedOnFlip / flipped : null,
      cap,
      units: order.length,
      selectedUnits,
    },
  }
}

// ── The choice ──────────────────────────────────────────────────────────────────────────────

export interface Resolved {
  fraction: number
  localization: Localization
  granularity: Granularity
  score: Criterion
}

export function resolveLocalization(options: LocalizeOptions): Resolved {
  const fraction = options.fraction ?? DEL_DEFAULT_FRACTION
  if (!(fraction > 0 && fraction <= 1))
    throw new LetheError('BAD_INPUT', `The DEL fraction must be in (0, 1]; got ${fraction}.`)
  const localization = options.localization ?? 'del'
  if (!localizations.includes(localization))
    throw new LetheError(
      'BAD_INPUT',
      `Unknown localization "${String(localization)}": ${localizations.join(', ')}.`,
    )
  return {
    fraction,
    localization,
    granularity: options.granularity ?? (localization === 'saliency' ? 'param' : 'unit'),
    score: options.score ?? (localization === 'saliency' ? 'gradient' : 'weighted'),
  }
}

export interface Localized {
  selected: Uint8Array
  /** CritMem's search, for the record. */
  search?: CriticalSearch
}

export interface LocalizeInput {
  spec: ModelSpec
  params: Float32Array
  data: TrainingData
  forgetRows: Int32Array
  retainRows: Int32Array
  signal?: AbortSignal
  onProgress?: TrainHooks['onProgress']
}

/** Which entries to reset, by the chosen rule, within ⌊α·d⌋. */
export async function localize(
  input: LocalizeInput,
  options: LocalizeOptions,
  seed: number,
): Promise<Localized> {
  const { spec, params, data, forgetRows } = input
  if (forgetRows.length === 0) throw new LetheError('BAD_INPUT', 'There are no rows to forget.')
  const r = resolveLocalization(options)
  const k = budgetOf(r.fraction, spec.size)
  if (r.localization === 'random') return { selected: selectRandom(spec.size, k, seed) }
  if (r.localization === 'critmem')
    return criticalMask(spec, params, data, forgetRows, input.retainRows, k, seed, input)
  const raw = await forgetScores(spec, params, data, forgetRows, r.score, seed)
  const scores = r.granularity === 'unit' ? unitScores(spec, raw) : raw
  if (r.localization === 'shallow') return { selected: selectByDepth(spec, scores, k, 'input') }
  if (r.localization === 'deep') return { selected: selectByDepth(spec, scores, k, 'head') }
  return { selected: selectTop(scores, k) }
}
