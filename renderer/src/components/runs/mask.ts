/**
 * DEL (localized reset and fine-tuning) as people set it and read it: the options typed in the
 * Runs form, checked and turned into what unlearn.start takes; and the mask a DEL run's record
 * carries, read tolerantly (a record from an older build may lack parts, or the mask altogether).
 */
import type { z } from 'zod'
import type { MaskLayer as MaskLayerSchema, MaskView as MaskViewSchema } from '@contract/engine'
import type { RunRecord } from '../../stores/runs'

export type Localization = 'del' | 'random' | 'saliency' | 'shallow' | 'deep' | 'critmem'
export type ResetTarget = 'fresh' | 'initial'

/** The localizations in the order the form offers them, each in words (`name`: the panel's short form). */
export const localizations: { value: Localization; label: string; name: string; about: string }[] = [
  {
    value: 'del',
    label: 'DEL score: |θ·∇loss| per neuron or channel',
    name: 'DEL score',
    about:
      'Scores each neuron (or conv channel) by its weights times the loss gradient on the forgotten rows, and resets the highest-scoring ones whole: the paper’s method.',
  },
  {
    value: 'random',
    label: 'Random mask',
    name: 'Random mask',
    about:
      'Resets a random selection of the same size: the paper’s baseline showing that which parameters are chosen matters, not only how many.',
  },
  {
    value: 'saliency',
    label: 'Saliency mask (SalUn)',
    name: 'Saliency (SalUn)',
    about:
      'Scores each single parameter by the loss gradient on the forgotten rows alone (|∇loss|, no weighting), and resets the highest: SalUn’s mask, the paper’s other baseline.',
  },
  {
    value: 'shallow',
    label: 'Shallowest layers',
    name: 'Shallowest layers',
    about:
      'Resets whole layers from the input up to the same budget (the layer cut at the budget by the DEL score): a baseline testing whether the first layers hold what was memorised.',
  },
  {
    value: 'deep',
    label: 'Deepest layers',
    name: 'Deepest layers',
    about:
      'Resets whole layers from the classifier head down to the same budget (the layer cut at the budget by the DEL score): a baseline for the common belief that the last layers memorise.',
  },
  {
    value: 'critmem',
    label: 'CritMem: the neurons each row depends on',
    name: 'CritMem',
    about:
      'For each forgotten row, switches off the hidden neurons (or channels) it depends on most, one at a time, until the model’s prediction for it changes, then resets the neurons most often needed, within the budget (after Maini et al. 2023). Slower: one search per row.',
  },
]

export const resetTargets: { value: ResetTarget; label: string; about: string }[] = [
  {
    value: 'fresh',
    label: 'A fresh random draw',
    about: 'A new seeded draw of the initialiser, as the paper’s code does.',
  },
  {
    value: 'initial',
    label: 'The original initialisation',
    about: 'The exact values the model started training from (θ₀), redrawn from its recorded seed.',
  },
]

/** The paper's operating point: 30 % of all parameters. */
export const DEFAULT_FRACTION_PERCENT = 30

/** What the form holds: α as a percent, the two choices, and the advanced fields as typed text. */
export interface DelForm {
  percent: number | null
  localization: Localization
  reset: ResetTarget
  epochsText: string
  learningRateText: string
}

export const blankDelForm = (): DelForm => ({
  percent: DEFAULT_FRACTION_PERCENT,
  localization: 'del',
  reset: 'fresh',
  epochsText: '',
  learningRateText: '',
})

export interface DelChecked {
  options: Record<string, unknown>
  errors: { percent: string | null; epochs: string | null; learningRate: string | null }
  valid: boolean
}

/** The form's values as unlearn.start's options; empty advanced fields are left to the engine's defaults. */
export function checkDelForm(form: DelForm): DelChecked {
  const percent = form.percent
  const percentError =
    typeof percent === 'number' && Number.isFinite(percent) && percent >= 1 && percent <= 100
      ? null
      : 'A share from 1 to 100 %.'
  const epochsText = form.epochsText.trim()
  const epochs = epochsText === '' ? null : Number(epochsText)
  const epochsError =
    epochs === null || (Number.isInteger(epochs) && epochs >= 1 && epochs <= 1000)
      ? null
      : 'A whole number of at least 1 and at most 1000, or empty for the default.'
  const rateText = form.learningRateText.trim()
  const learningRate = rateText === '' ? null : Number(rateText)
  const rateError =
    learningRate === null || (Number.isFinite(learningRate) && learningRate > 0 && learningRate <= 10)
      ? null
      : 'A number above 0, such as 0.05, or empty for the default.'
  const errors = { percent: percentError, epochs: epochsError, learningRate: rateError }
  return {
    options: {
      ...(percentError === null && percent !== null ? { fraction: percent / 100 } : {}),
      localization: form.localization,
      reset: form.reset,
      ...(epochs !== null && epochsError === null ? { epochs } : {}),
      ...(learningRate !== null && rateError === null ? { learningRate } : {}),
    },
    errors,
    valid: percentError === null && epochsError === null && rateError === null,
  }
}

// ── The record ──────────────────────────────────────────────────────────────────────────────

export type MaskLayer = z.infer<typeof MaskLayerSchema>
/** The record's mask as the panel reads it (the bitset stays in the record). */
export type MaskView = Omit<z.infer<typeof MaskViewSchema>, 'bits'>

/** What a DEL run stored beside its mask. */
export interface DelRun {
  mask: MaskView
  fraction: number | null
  localization: string | null
  granularity: string | null
  score: string | null
  reset: { target: string; seed: number | null } | null
  epochs: number | null
  learningRate: number | null
  steps: number | null
  schedule: string | null
  timings: { localizeMs: number | null; finetuneMs: number | null } | null
  /** CritMem's search: rows searched, how many flipped, units per flip, the cap, units found and reset. */
  critmem: {
    rows: number
    flipped: number
    meanUnits: number | null
    cap: number | null
    units: number | null
    selectedUnits: number | null
  } | null
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null
const numbers = (x: Record<string, unknown>, keys: string[]) => keys.every((k) => typeof x[k] === 'number')
const numberOrNull = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null)
const stringOrNull = (x: unknown) => (typeof x === 'string' ? x : null)

function layersOf(x: unknown): MaskLayer[] {
  if (!Array.isArray(x)) return []
  return x
    .filter(
      (l): l is Record<string, unknown> =>
        isObject(l) && typeof l.name === 'string' && numbers(l, ['units', 'entries', 'selected']),
    )
    .map((l) => ({
      name: l.name as string,
      layer: numberOrNull(l.layer) ?? 0,
      role: l.role === 'bias' ? 'bias' : 'weight',
      head: l.head === true,
      units: l.units as number,
      entries: l.entries as number,
      selected: l.selected as number,
      changedUnits: numberOrNull(l.changedUnits) ?? 0,
    }))
}

function heatmapOf(x: unknown): MaskView['heatmap'] {
  if (!isObject(x) || !Array.isArray(x.layers) || !Array.isArray(x.values)) return { layers: [], values: [] }
  const layers: MaskView['heatmap']['layers'] = []
  const values: number[][] = []
  x.layers.forEach((row, i) => {
    const cells = (x.values as unknown[])[i]
    if (!isObject(row) || typeof row.units !== 'number' || !Array.isArray(cells)) return
    layers.push({
      layer: numberOrNull(row.layer) ?? i,
      label: typeof row.label === 'string' ? row.label : `layer ${i + 1}`,
      units: row.units,
    })
    values.push(cells.map((v) => (typeof v === 'number' ? v : 0)))
  })
  return { layers, values }
}

/** A DEL run's mask and facts, or null where the record carries no mask (another method, or an older build). */
export function delRunOf(record: RunRecord): DelRun | null {
  const d = record.details
  const mask = d.mask
  if (!isObject(mask) || !isObject(mask.totals) || !numbers(mask.totals, ['entries', 'selected'])) return null
  const t = mask.totals
  const entries = t.entries as number
  const selected = t.selected as number
  const share = (n: number | null) => (n !== null && entries > 0 ? n / entries : 0)
  const trainable = numberOrNull(t.trainable)
  const changed = numberOrNull(t.changed)
  const reset = isObject(d.reset) ? d.reset : null
  const timings = isObject(d.timings) ? d.timings : null
  const critmem = isObject(d.critmem) && numbers(d.critmem, ['rows', 'flipped']) ? d.critmem : null
  return {
    mask: {
      layers: layersOf(mask.layers),
      heatmap: heatmapOf(mask.heatmap),
      totals: {
        entries,
        selected,
        selectedFraction: numberOrNull(t.selectedFraction) ?? share(selected),
        trainable: trainable ?? selected,
        trainableFraction: numberOrNull(t.trainableFraction) ?? share(trainable ?? selected),
        changed: changed ?? 0,
        changedFraction: numberOrNull(t.changedFraction) ?? share(changed),
      },
    },
    fraction: numberOrNull(d.fraction),
    localization: stringOrNull(d.localization),
    granularity: stringOrNull(d.granularity),
    score: stringOrNull(d.score),
    reset: reset
      ? { target: typeof reset.target === 'string' ? reset.target : 'fresh', seed: numberOrNull(reset.seed) }
      : null,
    epochs: numberOrNull(d.epochs),
    learningRate: numberOrNull(d.learningRate),
    steps: numberOrNull(d.steps),
    schedule: stringOrNull(d.schedule),
    timings: timings
      ? { localizeMs: numberOrNull(timings.localizeMs), finetuneMs: numberOrNull(timings.finetuneMs) }
      : null,
    critmem: critmem
      ? {
          rows: critmem.rows as number,
          flipped: critmem.flipped as number,
          meanUnits: numberOrNull(critmem.meanUnits),
          cap: numberOrNull(critmem.cap),
          units: numberOrNull(critmem.units),
          selectedUnits: numberOrNull(critmem.selectedUnits),
        }
      : null,
  }
}
