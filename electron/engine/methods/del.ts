/**
 * DEL, deletion by example localization (ALGORITHMS.md §4): score every parameter by how much
 * it carries the forget rows, keep the top α of all parameters, reset those to a seeded fresh
 * initialisation, and fine-tune only them plus the classifier head on the retained rows.
 * Every other parameter stays bit for bit what it was. Two localization baselines share the
 * budget: a random mask, and SalUn's saliency mask (SalLoc).
 *
 * Lethe's architectures have no batch normalisation (spec.ts: dense and 'same' conv layers,
 * ReLU, max-pooling), so there are no running statistics that fine-tuning could move outside
 * the mask (the code's pitfall 1): the parameters are the whole state.
 */
import { LetheError } from '../../contract'
import { lossAndGradient } from '../models/forward'
import { initParams, type ModelSpec, type ParamView } from '../models/spec'
import { Random } from '../random'
import { tf } from '../tf'
import { batchPlan, defaultTrainConfig, train, type TrainConfig, type TrainingData } from '../train'
import type { Guarantee, UnlearnContext, UnlearningMethod } from './method'

export type Localization = 'del' | 'random' | 'saliency'
/** 'unit': every entry of a weight's output unit (neuron, conv output channel) gets the unit's score; 'param': per entry. */
export type Granularity = 'unit' | 'param'
/** 'weighted': |Σ θ ⊙ ∇L_F| (DEL); 'gradient': |Σ ∇L_F| (SalUn's saliency). */
export type Criterion = 'weighted' | 'gradient'
/** 'fresh': a new seeded draw of the initialiser (the code's choice); 'initial': the original θ₀. */
export type ResetTarget = 'fresh' | 'initial'

export interface DelOptions {
  /** α: the share of all parameters to reset and retrain (the paper's operating point: 0.3). */
  fraction?: number
  localization?: Localization
  /** Override the localization's granularity (DEL: unit, saliency: param). */
  granularity?: Granularity
  /** Override the localization's score (DEL: weighted, saliency: gradient). */
  score?: Criterion
  reset?: ResetTarget
  /** Seed of the fresh initialisation (and of the random mask); recorded either way. */
  resetSeed?: number
  /** Fine-tuning epochs; default half the original training's. */
  epochs?: number
  /** Default: the original training's learning rate. */
  learningRate?: number
}

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
  if (forgetRows.length === 0) throw new LetheError('BAD_INPUT', 'There are no rows to forget.')
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
    const per = view.size / units
    const h = Math.min(per, topH(units))
    const column = new Float32Array(per)
    for (let o = 0; o < units; o++) {
      for (let i = 0; i < per; i++) column[i] = scores[view.offset + i * units + o] as number
      column.sort()
      let total = 0
      for (let i = per - h; i < per; i++) total += column[i] as number
      const mean = total / h
      for (let i = 0; i < per; i++) out[view.offset + i * units + o] = mean
    }
  }
  return out
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

/** The entries fine-tuning may move: the selection plus the whole classifier head. */
export function trainableMask(spec: ModelSpec, selected: Uint8Array): Uint8Array {
  const mask = Uint8Array.from(selected)
  for (const view of spec.views) if (view.head) mask.fill(1, view.offset, view.offset + view.size)
  return mask
}

/** The selection as a base64 bitset (bit i of byte ⌊i/8⌋, least significant first): d/6 characters. */
export function encodeMask(mask: Uint8Array): string {
  const bytes = new Uint8Array(Math.ceil(mask.length / 8))
  mask.forEach((m, i) => {
    if (m) bytes[i >> 3] = (bytes[i >> 3] as number) | (1 << (i & 7))
  })
  return Buffer.from(bytes).toString('base64')
}

export function decodeMask(bits: string, size: number): Uint8Array {
  const bytes = Buffer.from(bits, 'base64')
  return Uint8Array.from({ length: size }, (_, i) => ((bytes[i >> 3] as number) >> (i & 7)) & 1)
}

export interface MaskLayer {
  /** The parameter view (W1, b1, …), its layer from the input, and its role. */
  name: string
  layer: number
  role: 'weight' | 'bias'
  /** The classifier head: fine-tuned whole, whatever its selection. */
  head: boolean
  units: number
  entries: number
  selected: number
  /** Units with at least one selected entry. */
  changedUnits: number
}

/** What the UI draws: the selection per view, a layers × units heat map, and the totals. */
export interface MaskView {
  layers: MaskLayer[]
  heatmap: {
    /** One row per layer, from the input: weight and bias of each unit together. */
    layers: { layer: number; label: string; units: number }[]
    /** Fraction of each unit's entries selected; rows are as wide as their layer. */
    values: number[][]
  }
  totals: {
    entries: number
    selected: number
    selectedFraction: number
    /** Selected plus the head: what fine-tuning could move. */
    trainable: number
    trainableFraction: number
    /** Entries that differ from the original after fine-tuning (measured). */
    changed: number
    changedFraction: number
  }
  /** The selection as a base64 bitset over the flat parameter vector (decodeMask). */
  bits: string
}

export function maskView(
  spec: ModelSpec,
  selected: Uint8Array,
  original: Float32Array,
  unlearned: Float32Array,
): MaskView {
  const layers: MaskLayer[] = spec.views.map((view) => {
    const units = unitsOf(view)
    const hit = new Uint8Array(units)
    let count = 0
    for (let i = 0; i < view.size; i++) {
      if (selected[view.offset + i]) {
        count += 1
        hit[i % units] = 1
      }
    }
    return {
      name: view.name,
      layer: view.layer,
      role: view.role,
      head: view.head,
      units,
      entries: view.size,
      selected: count,
      changedUnits: hit.reduce((a, b) => a + b, 0),
    }
  })
  const layerIndices = [...new Set(spec.views.map((v) => v.layer))]
  const heatRows = layerIndices.map((layer) => {
    const views = spec.views.filter((v) => v.layer === layer)
    const units = unitsOf(views[0] as ParamView)
    const hits = new Array<number>(units).fill(0)
    const sizes = new Array<number>(units).fill(0)
    for (const view of views) {
      for (let i = 0; i < view.size; i++) {
        const o = i % units
        sizes[o] = (sizes[o] as number) + 1
        hits[o] = (hits[o] as number) + (selected[view.offset + i] as number)
      }
    }
    return {
      layer,
      label: `layer ${layer + 1}${views[0]?.head ? ' (head)' : ''}`,
      units,
      values: hits.map((h, o) => h / (sizes[o] as number)),
    }
  })
  const trainable = trainableMask(spec, selected)
  const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0)
  let changed = 0
  for (let i = 0; i < spec.size; i++) if (!Object.is(original[i], unlearned[i])) changed += 1
  const d = spec.size
  return {
    layers,
    heatmap: {
      layers: heatRows.map(({ layer, label, units }) => ({ layer, label, units })),
      values: heatRows.map((r) => r.values),
    },
    totals: {
      entries: d,
      selected: count(selected),
      selectedFraction: count(selected) / d,
      trainable: count(trainable),
      trainableFraction: count(trainable) / d,
      changed,
      changedFraction: changed / d,
    },
    bits: encodeMask(selected),
  }
}

interface Resolved {
  fraction: number
  localization: Localization
  granularity: Granularity
  score: Criterion
}

function resolve(options: DelOptions): Resolved {
  const fraction = options.fraction ?? DEL_DEFAULT_FRACTION
  if (!(fraction > 0 && fraction <= 1))
    throw new LetheError('BAD_INPUT', `The DEL fraction must be in (0, 1]; got ${fraction}.`)
  const localization = options.localization ?? 'del'
  if (!['del', 'random', 'saliency'].includes(localization))
    throw new LetheError('BAD_INPUT', `Unknown localization "${localization}": del, random or saliency.`)
  return {
    fraction,
    localization,
    granularity: options.granularity ?? (localization === 'saliency' ? 'param' : 'unit'),
    score: options.score ?? (localization === 'saliency' ? 'gradient' : 'weighted'),
  }
}

/** The localization alone: which ⌊α·d⌋ entries to reset, by the chosen rule. */
export async function localize(
  context: UnlearnContext,
  options: DelOptions,
  seed: number,
): Promise<Uint8Array> {
  const { spec, original, data, forgetRows } = context
  const r = resolve(options)
  const k = budgetOf(r.fraction, spec.size)
  if (r.localization === 'random') return selectRandom(spec.size, k, seed)
  const scores = await forgetScores(spec, original.params, data, forgetRows, r.score, seed)
  return selectTop(r.granularity === 'unit' ? unitScores(spec, scores) : scores, k)
}

const RESET_SEED_OFFSET = 104_729

export const delMethod: UnlearningMethod<DelOptions> = {
  name: 'del',
  label: 'DEL: localized reset and fine-tuning',
  description:
    'Finds the parameters that carry the forgotten rows most (|θ·∇loss| on them, per neuron or channel), resets that share of the model (30% by default) to a fresh initialisation and retrains only those and the classifier head on the retained rows. The rest of the model is left exactly as it was. Cheaper than retraining; nothing bounds what remains.',
  guarantee: (): Guarantee => ({
    kind: 'empirical',
    meaning:
      'No formal guarantee: no bound on what remains of the removed rows is claimed. The evidence is the verification against exact retraining (forget accuracy, membership inference, distance).',
  }),
  async unlearn(context, options) {
    const { spec, original } = context
    const recorded = original.manifest.training
    const r = resolve(options)
    const reset = options.reset ?? 'fresh'
    if (reset !== 'fresh' && reset !== 'initial')
      throw new LetheError('BAD_INPUT', `Unknown reset target "${String(reset)}": fresh or initial.`)
    const resetSeed =
      reset === 'initial' ? recorded.initSeed : (options.resetSeed ?? recorded.initSeed + RESET_SEED_OFFSET)
    if (context.forgetRows.length === 0) throw new LetheError('BAD_INPUT', 'There are no rows to forget.')

    const begun = performance.now()
    const selected = await localize(context, options, resetSeed)
    const localizeMs = performance.now() - begun

    // θ ← (1 − m) ⊙ θ + m ⊙ θ_init. 'initial' redraws θ₀ exactly: training starts from
    // initParams(spec, training.initSeed) (jobs.trainModel), and the manifest records that seed.
    const init = initParams(spec, resetSeed)
    const start = Float32Array.from(original.params, (v, i) => (selected[i] ? (init[i] as number) : v))

    // The code's recipe: SGD, momentum 0.9, no weight decay, cosine annealing to 0.01·lr stepped per epoch.
    const config: TrainConfig = {
      ...recorded,
      optimizer: 'sgd',
      momentum: 0.9,
      l2: 0,
      schedule: { kind: 'cosine', floor: 0.01, perEpoch: true },
      epochs: options.epochs ?? Math.max(1, Math.round(recorded.epochs / 2)),
      learningRate: options.learningRate ?? recorded.learningRate,
      seed: recorded.seed + 3,
      samePermutationEachEpoch: false,
      projectRadius: null,
    }
    const finetuneBegun = performance.now()
    const result = await train(spec, context.data, context.retainRows, config, start, {
      signal: context.signal,
      onProgress: context.onProgress,
      mask: trainableMask(spec, selected),
    })
    const finetuneMs = performance.now() - finetuneBegun
    return {
      params: result.params,
      details: {
        ...r,
        reset: { target: reset, seed: resetSeed },
        epochs: config.epochs,
        learningRate: config.learningRate,
        steps: result.steps,
        schedule: 'SGD, momentum 0.9, no weight decay, cosine to 0.01·lr stepped per epoch',
        timings: { localizeMs, finetuneMs },
        mask: maskView(spec, selected, original.params, result.params),
      },
    }
  },
}
