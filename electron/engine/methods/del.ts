/**
 * DEL, deletion by example localization (ALGORITHMS.md §4): localize the forget rows in at most
 * α of all parameters (localize.ts: DEL's score or one of the paper's baselines), reset those to
 * a seeded fresh initialisation (or θ₀), and fine-tune only them plus the classifier head on the
 * retained rows. Every other parameter stays bit for bit what it was.
 *
 * Lethe's architectures have no batch normalisation (spec.ts: dense and 'same' conv layers,
 * ReLU, max-pooling), so there are no running statistics that fine-tuning could move outside
 * the mask (the code's pitfall 1): the parameters are the whole state.
 */
import type { z } from 'zod'
import { LetheError } from '../../contract'
import type {
  MaskLayer as MaskLayerSchema,
  MaskView as MaskViewSchema,
  UnlearnOptions,
} from '../../contract/engine'
import { initParams, type ModelSpec, type ParamView } from '../models/spec'
import { train, type TrainConfig } from '../train'
import { localize, resolveLocalization, unitsOf } from './localize'
import type { Guarantee, UnlearningMethod } from './method'

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

export type MaskLayer = z.infer<typeof MaskLayerSchema>
export type MaskView = z.infer<typeof MaskViewSchema>

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

const RESET_SEED_OFFSET = 104_729

export const delMethod: UnlearningMethod<UnlearnOptions['del']> = {
  name: 'del',
  label: 'DEL: localized reset and fine-tuning',
  description:
    'Finds the parameters that carry the forgotten rows most (|θ·∇loss| on them, per neuron or channel), resets that share of the model (30% by default) to a fresh initialisation and retrains only those and the classifier head on the retained rows. The rest of the model is left exactly as it was. Fine-tuning runs as many epochs as the original training, as in the paper, so it takes about as long as retraining; nothing bounds what remains.',
  guarantee: (): Guarantee => ({
    kind: 'empirical',
    strength: 'none',
    meaning:
      'No formal guarantee: no bound on what remains of the removed rows is claimed. The evidence is the verification against exact retraining (forget accuracy, membership inference, distance).',
  }),
  async unlearn(context, options) {
    const { spec, original } = context
    const recorded = original.manifest.training
    const r = resolveLocalization(options)
    const reset = options.reset ?? 'fresh'
    if (reset !== 'fresh' && reset !== 'initial')
      throw new LetheError('BAD_INPUT', `Unknown reset target "${String(reset)}": fresh or initial.`)
    const resetSeed =
      reset === 'initial' ? recorded.initSeed : (options.resetSeed ?? recorded.initSeed + RESET_SEED_OFFSET)

    const begun = performance.now()
    const { selected, search } = await localize({ ...context, params: original.params }, options, resetSeed)
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
      epochs: options.epochs ?? recorded.epochs,
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
        ...(search ? { critmem: search } : {}),
        timings: { localizeMs, finetuneMs },
        mask: maskView(spec, selected, original.params, result.params),
      },
    }
  },
}
