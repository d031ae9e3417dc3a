import { z } from 'zod'
import { defineMethod } from './define'
import { demoDatasets } from './demos'
import { events } from './events'
import { withStrength } from './guarantee'
import { ModelExport } from './ledger'

const Id = z.string().regex(/^(ds|m)-[0-9a-f]{12}$/, 'an id looks like ds-0123456789ab or m-0123456789ab')
const Path = z.string().trim().min(1).max(4096)
const RequestId = z.string().regex(/^RTBF-\d{4}-\d{4,}$/, 'a request id looks like RTBF-2026-0001')
/** Why a version is deleted or kept: required, since the decision is on record for good. */
const Reason = z.string().trim().min(1, 'give a reason').max(2000)

/** When a version's data was shredded, why, and for which request: its manifest stays as a tombstone. */
export const Deletion = z.object({ at: z.string(), reason: z.string(), requestId: z.string().nullable() })

export const DatasetInfo = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['tabular', 'image']),
  source: z.object({ file: z.string(), format: z.enum(['csv', 'tsv', 'jsonl', 'parquet', 'idx']) }),
  contentHash: z.string(),
  rows: z.number(),
  featureDim: z.number(),
  shape: z.array(z.number()).nullable(),
  classes: z.array(z.string()),
  columns: z.object({ subject: z.string(), label: z.string() }).nullable(),
  split: z.object({ seed: z.number(), testFraction: z.number(), train: z.number(), test: z.number() }),
  subjects: z.number(),
  createdAt: z.string(),
  /** The dataset version this one was made from by removing subjects; null for an import. */
  replaces: z.string().nullable(),
  /** Set once its files were shredded, with the version that replaced it. */
  deleted: Deletion.extend({ replacedBy: z.string() }).nullable(),
})

export const ArchitectureInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('logreg') }),
  z.object({
    kind: z.literal('mlp'),
    hidden: z.array(z.number().int().min(1).max(4096)).min(1).max(4).default([64]),
  }),
  z.object({
    kind: z.literal('cnn'),
    filters: z.array(z.number().int().min(1).max(256)).min(1).max(3).default([8, 16]),
    kernel: z.number().int().min(1).max(7).default(3),
    dense: z.number().int().min(1).max(1024).default(64),
  }),
])

/** A noisy release's default accuracy floor: the trained model's test accuracy less this. */
export const DEFAULT_ACCURACY_DROP = 0.05

/**
 * The L2 penalty the desk and the CLI suggest for an L-BFGS recipe: L-BFGS's iterations grow as
 * l2 shrinks (on 3,000 Fashion-MNIST rows: 244 at 0.01, 662 at 0.001, 1,617 at 0.0001).
 */
export const LBFGS_DEFAULT_L2 = 1e-3

/** The base64 a model upload may carry in all: about 72 MiB of files (onnx, or model.json and shards). */
export const MAX_UPLOAD_BASE64 = 96 * 1024 * 1024

export const TrainOptions = z.object({
  /** 'lbfgs' solves a convex recipe (logistic regression, l2 > 0) to its unique optimum, full batch in float64. */
  optimizer: z.enum(['sgd', 'adam', 'lbfgs']).default('sgd'),
  learningRate: z.number().positive().max(10).default(0.05),
  momentum: z.number().min(0).max(0.999).default(0.9),
  epochs: z.number().int().min(1).max(1000).default(20),
  batchSize: z.number().int().min(1).max(65536).default(64),
  l2: z.number().min(0).max(1).default(1e-4),
  /** 'exponential' is η_t = η₀·lrDecay^t per step (HF's schedule); 'step' divides by 10 at thirds. */
  schedule: z.enum(['constant', 'cosine', 'step', 'exponential']).default('constant'),
  lrDecay: z.number().gt(0).max(1).default(0.995),
  seed: z.number().int().min(0).default(1),
  samePermutationEachEpoch: z.boolean().default(false),
  projectRadius: z.number().positive().nullable().default(null),
  /**
   * lbfgs only: training stops within tolerance·max(1, ‖θ‖) of the optimum, that is when
   * ‖∇F(θ)‖ ≤ tolerance·l2·max(1, ‖θ‖) (F is l2-strongly convex); as l2 ≤ 1, also
   * ‖∇F(θ)‖ ≤ tolerance·max(1, ‖θ‖).
   */
  tolerance: z.number().gt(0).max(0.1).default(1e-6),
})

/** A shape's fields optional and without their defaults: what a caller chose, to merge over other defaults. */
const chosenOnly = <S extends Record<string, z.ZodDefault<z.ZodType>>>(shape: S) =>
  z.object(
    Object.fromEntries(Object.entries(shape).map(([key, field]) => [key, field.unwrap().optional()])) as {
      [K in keyof S]: z.ZodOptional<ReturnType<S[K]['unwrap']>>
    },
  )

/** The TrainOptions a caller set, no more: an imported model's recipe fills the rest with its own defaults. */
export const TrainChoices = chosenOnly(TrainOptions.shape).strict()

/**
 * Why a recipe cannot use the full-batch solver, one reason per entry (empty for other optimizers):
 * it needs a convex loss with a unique optimum, and it replays no mini-batch trajectory.
 */
export function lbfgsProblems(recipe: {
  arch: string
  optimizer: string
  l2: number
  prepare?: string
}): string[] {
  if (recipe.optimizer !== 'lbfgs') return []
  const problems: string[] = []
  if (recipe.arch !== 'logreg')
    problems.push(
      `optimizer 'lbfgs' is only for logistic regression (arch logreg), whose loss is convex; a ${recipe.arch} trains with 'sgd' or 'adam'`,
    )
  if (!(recipe.l2 > 0))
    problems.push(
      "optimizer 'lbfgs' needs l2 > 0: without regularisation the optimum may not exist or be unique",
    )
  if (recipe.prepare === 'hf')
    problems.push(
      "HF preparation records a plain SGD trajectory: optimizer 'lbfgs' has none (choose optimizer 'sgd' with momentum 0)",
    )
  return problems
}

/**
 * Why the trained root of a chain cannot take a certified (noisy) release, one reason per entry.
 * Besides the paper's protocol (Adam with a projection radius C), a logistic regression trained by
 * 'lbfgs' qualifies: its loss is strongly convex and the solver stops at the optimum, so it needs
 * no projection (‖θ*‖ stands in for C). An imported model never qualifies: it was trained by a
 * recipe Lethe did not run, so nothing it records bounds the distance to retraining.
 */
export function certifiedConformity(root: {
  method: string
  arch: string
  optimizer: string
  projectRadius: number | null
}): string[] {
  if (root.method === 'import')
    return [
      'it was imported: trained elsewhere, by a recipe Lethe did not run, so the bound has nothing to stand on (a noisy release needs Lethe’s own constrained training)',
    ]
  if (root.optimizer === 'lbfgs' && root.arch === 'logreg') return []
  const problems: string[] = []
  if (root.optimizer !== 'adam')
    problems.push(
      'certified unlearning follows the paper’s protocol: Adam with a projection onto a ball (or, for logistic regression, L-BFGS to the optimum)',
    )
  if (root.projectRadius === null)
    problems.push(
      'it needs a projection radius C (‖θ‖ ≤ C after every step): the bound on the distance to the retrained model is built on it',
    )
  return problems
}

/** Train-time recording a method needs before it can unlearn ('hf': per-sample statistics; 'certified': only a training it can certify, Adam with a projection radius). */
export const preparations = ['hf', 'certified'] as const

/** What a prepared model recorded while it trained. */
export const Preparation = z.object({
  method: z.enum(preparations),
  /** The recording's own id, which its statistics file carries. */
  runId: z.string(),
  file: z.string(),
  bytes: z.number(),
  dtype: z.enum(['float32', 'float16']),
  rows: z.number(),
  dim: z.number(),
  /** Wall time of training with recording, and what the recording alone took. */
  trainMs: z.number(),
  recordMs: z.number(),
  createdAt: z.string(),
})

/** Where an imported model version came from: the file's format, SHA-256 and name. */
export const ModelOrigin = z.object({
  /** 'tfjs': a TF.js Layers model, whose SHA-256 is its model.json's. */
  format: z.enum(['onnx', 'tfjs']),
  sha256: z.string(),
  fileName: z.string(),
  /** What the graph's output was: the engine computes logits, the graph may end in (log-)softmax. */
  output: z.enum(['logits', 'softmax', 'logsoftmax']).optional(),
  /** The source's ONNX opset. */
  opset: z.number().optional(),
  /** How the graph took its input: flat rows [N, features] or images [N, C, H, W]; export gives it back. */
  input: z.enum(['rows', 'images']).optional(),
  /** BatchNormalization nodes folded on import into the Conv or dense layer before them. */
  folded: z.array(z.string()).optional(),
})

export const ModelInfo = z.object({
  id: z.string(),
  name: z.string(),
  /** The architecture's kind (logreg, mlp, cnn, convnet); `description` says the rest in words. */
  archKind: z.string(),
  description: z.string(),
  parameters: z.number(),
  paramsSha256: z.string(),
  datasetId: z.string(),
  parentId: z.string().nullable(),
  method: z.string(),
  requestId: z.string().nullable(),
  forgottenRows: z.number(),
  backend: z.string(),
  /** The train-time recording a research method needs (HF statistics), on the trained version. */
  preparation: Preparation.nullable(),
  /** The training options of the chain's trained version (an unlearned version keeps its parent's), from its manifest. */
  training: TrainOptions,
  createdAt: z.string(),
  /** Set once the version's parameters were shredded; listed as a tombstone, usable by nothing. */
  deleted: Deletion.nullable(),
  /** The imported file a version (or its chain's root) came from; null for models Lethe trained. */
  origin: ModelOrigin.nullable(),
  /** The files this version was exported as, from the ledger's registry (each file's name, SHA-256, size). */
  exports: z.array(ModelExport),
})

/** A version still trained on a request's rows (or deleted or kept on purpose for it). */
export const HoldingVersion = z.object({
  id: z.string(),
  name: z.string(),
  method: z.string(),
  datasetId: z.string(),
  createdAt: z.string(),
  /** The request's training rows the version learned from and was not unlearned of. */
  remaining: z.number(),
  deleted: Deletion.nullable(),
  /** Why it is kept, when a model.retained event for the request says so. */
  keptReason: z.string().nullable(),
})

export const unlearningMethods = ['retrain', 'finetune', 'neggrad', 'hf', 'certified', 'del'] as const
export type UnlearningMethodName = (typeof unlearningMethods)[number]

/**
 * A finite number in a stated range (`above`, `below`: the ends are excluded), whose error says
 * the range: z.number() already refuses NaN and ±Infinity.
 */
function ranged(low: number, high: number, ends: { whole?: boolean; above?: boolean; below?: boolean } = {}) {
  const bounds =
    ends.above || ends.below
      ? `${ends.above ? 'above' : 'at least'} ${low} and ${ends.below ? 'below' : 'at most'} ${high}`
      : `from ${low} to ${high}`
  const error = `must be ${ends.whole ? 'a whole number' : 'a number'} ${bounds}`
  const number = ends.whole ? z.number({ error }).int({ error }) : z.number({ error })
  const floored = ends.above ? number.gt(low, { error }) : number.min(low, { error })
  return ends.below ? floored.lt(high, { error }) : floored.max(high, { error })
}
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` })
const onOff = z.boolean({ error: 'must be true or false' })

/** Passes over the data, as in training. */
const Epochs = ranged(1, 1000, { whole: true })
const LearningRate = ranged(0, 10, { above: true })
/** (ε, δ) within what the certification settings allow. */
const Epsilon = ranged(0, 100, { above: true })
const Delta = ranged(0, 0.1, { above: true, below: true })
/** Seeds are 32-bit (random.ts). */
const Seed = ranged(0, 2 ** 32 - 1, { whole: true })

export const localizations = ['del', 'random', 'saliency', 'shallow', 'deep', 'critmem'] as const

/** Each method's own options, each optional (the engine's default, often from the model's training, applies). */
export const unlearnOptions = {
  retrain: z.strictObject({
    /** 'replay' keeps the seed, initialisation and batch order; 'independent' draws fresh ones. */
    mode: oneOf(['replay', 'independent']).optional(),
  }),
  finetune: z.strictObject({
    /** Default: a quarter of the original training's. */
    epochs: Epochs.optional(),
    /** Default: the original training's. */
    learningRate: LearningRate.optional(),
  }),
  neggrad: z.strictObject({
    /** 1 is pure gradient ascent on the forget rows; below 1 mixes in descent on the retained rows (NegGrad+: 0.99). */
    alpha: ranged(0, 1).optional(),
    epochs: Epochs.optional(),
    learningRate: LearningRate.optional(),
    /** Stop once the forget rows are no better predicted than the test rows. */
    stopAtTestAccuracy: onOff.optional(),
  }),
  hf: z.strictObject({
    epsilon: Epsilon.optional(),
    delta: Delta.optional(),
    /** False skips the noise, for measurement only: the result is then not certified. */
    noise: onOff.optional(),
    /** Largest relative noise σ·√d/‖θ‖ Lethe publishes; past it the deletion capacity is spent (1e12: no limit, to measure). */
    noiseLimit: ranged(0, 1e12, { above: true }).optional(),
    /** Lowest test accuracy Lethe publishes a noisy model at; default the trained model's minus {@link DEFAULT_ACCURACY_DROP}. */
    accuracyFloor: ranged(0, 1).optional(),
  }),
  certified: z.strictObject({
    epsilon: Epsilon.optional(),
    delta: Delta.optional(),
    /** False skips the noise, for measurement only: the result is then not certified. */
    noise: onOff.optional(),
    /** λ: the local-convexity term added to the Hessian, (H + λI). */
    lambda: ranged(0, 1e6).optional(),
    /** H: the LiSSA scale, an upper bound on the Hessian's norm; by default twice its estimated top eigenvalue. */
    lissaScale: ranged(0, 1e12, { above: true }).optional(),
    /** s: LiSSA recursion depth, one Hessian-vector product per step. */
    lissaDepth: ranged(1, 100_000, { whole: true }).optional(),
    /** s₁: independent LiSSA runs averaged. */
    lissaRepetitions: ranged(1, 100, { whole: true }).optional(),
    /** Rows per stochastic Hessian sample (drawn with replacement); the whole retained set gives the exact Neumann series. */
    lissaBatch: ranged(1, 10_000_000, { whole: true }).optional(),
    /** M: the Hessian's Lipschitz constant, assumed (it is not measured). */
    hessianLipschitz: ranged(0, 1e6, { above: true }).optional(),
    /** ρ: LiSSA's failure probability; the certificate holds with probability 1 − ρ. */
    failureProbability: ranged(0, 1, { above: true, below: true }).optional(),
    /** Lowest test accuracy Lethe publishes a noisy model at; default the trained model's minus {@link DEFAULT_ACCURACY_DROP}. */
    accuracyFloor: ranged(0, 1).optional(),
    /** Seed of LiSSA's batch draws (not of the noise, which is never seeded). */
    seed: Seed.optional(),
    /** How (H + λI)⁻¹g is applied: 'exact' (float64 Hessian, Cholesky; small models only) or 'lissa'; default exact when the model is small enough. */
    solver: oneOf(['exact', 'lissa']).optional(),
  }),
  del: z.strictObject({
    /** α: the share of all parameters to reset and retrain (the paper's operating point: 0.3). */
    fraction: ranged(0, 1, { above: true }).optional(),
    localization: oneOf(localizations).optional(),
    /** Override the score's granularity: per output unit (DEL and the layer baselines) or per entry (saliency). */
    granularity: oneOf(['unit', 'param']).optional(),
    /** Override the score: |Σ θ ⊙ ∇L_F| (weighted, DEL) or |Σ ∇L_F| (gradient, SalUn's saliency). */
    score: oneOf(['weighted', 'gradient']).optional(),
    /** 'fresh': a new seeded draw of the initialiser (the code's choice); 'initial': the original θ₀. */
    reset: oneOf(['fresh', 'initial']).optional(),
    /** Seed of the fresh initialisation (and of the random mask); recorded either way. */
    resetSeed: Seed.optional(),
    /** Fine-tuning epochs; default the original training's (the paper's scripts: 30 and 30). */
    epochs: Epochs.optional(),
    /** Default: the original training's learning rate. */
    learningRate: LearningRate.optional(),
  }),
} satisfies Record<UnlearningMethodName, z.ZodObject>

export type UnlearnOptions = { [M in UnlearningMethodName]: z.infer<(typeof unlearnOptions)[M]> }

export interface OptionProblem {
  path: string[]
  message: string
}

/** A run's options checked against its method's schema: the options, or each problem in words that name the option and what it allows. */
export function parseUnlearnOptions<M extends UnlearningMethodName>(
  method: M,
  options: unknown,
): { ok: true; options: UnlearnOptions[M] } | { ok: false; problems: OptionProblem[] } {
  const schema = unlearnOptions[method]
  const parsed = schema.safeParse(options)
  if (parsed.success) return { ok: true, options: parsed.data as UnlearnOptions[M] }
  const given = (options ?? {}) as Record<string, unknown>
  const shown = (value: unknown) =>
    typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))
  const problems = parsed.error.issues.map((issue): OptionProblem => {
    const path = issue.path.map(String)
    if (issue.code === 'unrecognized_keys')
      return {
        path,
        message: `${method} has no option ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; its options are ${Object.keys(schema.shape).join(', ')}`,
      }
    const name = path.join('.')
    return { path, message: `${method}'s option ${name} ${issue.message}, not ${shown(given[name])}` }
  })
  return { ok: false, problems }
}

/** One constant a certified guarantee rests on, with where its value came from. */
export const CertificationConstant = z.object({
  symbol: z.string(),
  name: z.string(),
  value: z.number(),
  source: z.enum(['set', 'estimated', 'measured', 'assumed']),
  note: z.string(),
})

/** The certification of a noisy release: constants, the bound, the noise, and the budget left. */
export const Certification = z.object({
  /** False when noise was switched off for measurement: then nothing is certified. */
  noise: z.boolean(),
  epsilon: z.number(),
  delta: z.number(),
  /** The bound on ‖unlearned − retrained‖ the noise is calibrated to (Δ). */
  sensitivity: z.number(),
  /** Standard deviation of the noise the published model carries in total, and what this release added. */
  sigma: z.number(),
  sigmaBefore: z.number(),
  topUp: z.number(),
  /** Expected noise norm σ·√d relative to ‖θ‖, and the limit past which Lethe refuses. */
  relativeNoise: z.number(),
  noiseLimit: z.number(),
  rowsThisRequest: z.number(),
  /** Rows removed from the trained model so far, this request included, and how many in all the limit allows. */
  rowsDeleted: z.number(),
  capacityRows: z.number(),
  constants: z.array(CertificationConstant),
  assumptions: z.array(z.string()),
})

/** One parameter view of a DEL run's selection. */
export const MaskLayer = z.object({
  /** The parameter view (W1, b1, …), its layer from the input, and its role. */
  name: z.string(),
  layer: z.number(),
  role: z.enum(['weight', 'bias']),
  /** The classifier head: fine-tuned whole, whatever its selection. */
  head: z.boolean(),
  units: z.number(),
  entries: z.number(),
  selected: z.number(),
  /** Units with at least one selected entry. */
  changedUnits: z.number(),
})

/** What a DEL run reset, for the UI: the selection per view, a layers × units heat map, and the totals. */
export const MaskView = z.object({
  layers: z.array(MaskLayer),
  heatmap: z.object({
    /** One row per layer, from the input: weight and bias of each unit together. */
    layers: z.array(z.object({ layer: z.number(), label: z.string(), units: z.number() })),
    /** Fraction of each unit's entries selected; rows are as wide as their layer. */
    values: z.array(z.array(z.number())),
  }),
  totals: z.object({
    entries: z.number(),
    selected: z.number(),
    selectedFraction: z.number(),
    /** Selected plus the head: what fine-tuning could move. */
    trainable: z.number(),
    trainableFraction: z.number(),
    /** Entries that differ from the original after fine-tuning (measured). */
    changed: z.number(),
    changedFraction: z.number(),
  }),
  /** The selection as a base64 bitset over the flat parameter vector. */
  bits: z.string(),
})

const Cell = z.union([z.string(), z.number()])

export const MatchedDataset = z.object({
  datasetId: z.string(),
  name: z.string(),
  kind: z.enum(['tabular', 'image']),
  /** [height, width, channels] of image rows, whose values are 0–255 pixels; null for tables. */
  shape: z.array(z.number()).nullable(),
  columns: z.array(z.string()),
  /** Rows whose subject id is one of the request's, by split (only training rows were learned from). */
  matched: z.object({ train: z.number(), test: z.number() }),
  /** The first matched rows, decoded back to their source values (the subject id is not shown). */
  preview: z.array(
    z.object({
      row: z.number(),
      split: z.enum(['train', 'test']),
      label: z.string(),
      values: z.array(Cell),
    }),
  ),
  /** Models trained on the dataset, with how many matched training rows each still learned from. */
  models: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      method: z.string(),
      parentId: z.string().nullable(),
      requestId: z.string().nullable(),
      createdAt: z.string(),
      remaining: z.number(),
      /** When the version was deleted (its parameters shredded): it holds nothing any more. */
      deletedAt: z.string().nullable(),
    }),
  ),
})

/** What a release promises, with its grade (guarantee.ts): exact, strong, moderate, weak or none. */
export const Guarantee = z.preprocess(
  // Records written before guarantees were graded have no strength: their kind and ε give it.
  (value) =>
    typeof value === 'object' && value !== null && 'kind' in value
      ? withStrength(value as Parameters<typeof withStrength>[0])
      : value,
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('exact'), strength: z.literal('exact'), meaning: z.string() }),
    z.object({
      kind: z.literal('certified'),
      epsilon: z.number(),
      delta: z.number(),
      strength: z.enum(['strong', 'moderate', 'weak']),
      meaning: z.string(),
    }),
    z.object({ kind: z.literal('empirical'), strength: z.literal('none'), meaning: z.string() }),
  ]),
)

export const MethodInfo = z.object({
  name: z.enum(unlearningMethods),
  label: z.string(),
  /** One paragraph: what the method does and what it costs. */
  description: z.string(),
  /** The guarantee with default options. */
  guarantee: Guarantee,
})

const SetScore = z.object({ rows: z.number(), accuracy: z.number().nullable(), loss: z.number().nullable() })
export const ModelScores = z.object({
  forget: SetScore,
  retain: SetScore,
  test: SetScore,
  mia: z.object({
    auc: z.number().nullable(),
    ci: z.tuple([z.number(), z.number()]).nullable(),
    accuracy: z.number().nullable(),
    perClass: z.number(),
    roc: z.object({ fpr: z.array(z.number()), tpr: z.array(z.number()) }).nullable(),
    note: z.string().nullable(),
  }),
})

/** What an unlearning run removed, how, with which guarantee, and its verification report. */
export const RunRecord = z.object({
  model: z.object({ id: z.string(), name: z.string(), paramsSha256: z.string(), createdAt: z.string() }),
  parent: z.object({ id: z.string(), sha256: z.string() }),
  method: z.string(),
  guarantee: Guarantee,
  forgotten: z.number(),
  heldOut: z.number(),
  report: z.object({
    original: ModelScores,
    unlearned: ModelScores,
    reference: ModelScores.nullable(),
    distance: z.object({
      originalToReference: z.number().nullable(),
      unlearnedToReference: z.number().nullable(),
      noiseFloor: z.number().nullable(),
    }),
    agreementWithReference: z.object({ test: z.number(), forget: z.number() }).nullable(),
    klToReference: z.number().nullable(),
  }),
  reference: z
    .object({
      mode: z.enum(['replay', 'independent']),
      ms: z.number(),
      /** 'lethe' when the model was imported: retrained with the recipe stated at import, not the original's. */
      recipe: z.enum(['original', 'lethe']).optional(),
    })
    .nullable(),
  timings: z.object({ unlearnMs: z.number() }),
  details: z.record(z.string(), z.unknown()),
})

export const JobKind = z.enum(['train', 'unlearn'])
export const JobStatus = z.object({
  jobId: z.string(),
  kind: JobKind,
  state: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  progress: z.object({ fraction: z.number().nullable(), message: z.string() }),
  /** The loss curve so far (thinned to at most a few hundred points per phase). */
  curve: z.array(events['job.progress'].shape.point.unwrap()),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  result: z.unknown().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
})

export const DemoDataset = z.enum(Object.keys(demoDatasets) as [keyof typeof demoDatasets])

export const engineMethods = {
  'datasets.import': defineMethod({
    summary:
      'Import a table (CSV, TSV, JSON Lines or Parquet, by extension; with its subject-id and label columns) or an IDX image set; registered in the ledger.',
    input: z
      .object({
        path: Path,
        labelsPath: Path.optional(),
        subjectColumn: z.string().min(1).max(200).optional(),
        labelColumn: z.string().min(1).max(200).optional(),
        /** Feature columns by kind; unlisted columns are numeric when every value is a number. */
        numeric: z.array(z.string().min(1).max(200)).max(10_000).optional(),
        categorical: z.array(z.string().min(1).max(200)).max(10_000).optional(),
        ignore: z.array(z.string().min(1).max(200)).max(10_000).optional(),
        /** The feature columns to use; every other column but the subject and the label is left out. Default: all. */
        features: z.array(z.string().min(1).max(200)).min(1).max(10_000).optional(),
        /** Tables only: the numeric feature columns are the pixels of images this tall, wide and deep (row-major), so a CNN can read them. */
        imageShape: z
          .tuple([
            z.number().int().min(1).max(4096),
            z.number().int().min(1).max(4096),
            z.number().int().min(1).max(4),
          ])
          .optional(),
        name: z.string().trim().min(1).max(200).optional(),
        testFraction: z.number().min(0.05).max(0.5).default(0.2),
        seed: z.number().int().min(0).default(42),
      })
      .strict(),
    output: DatasetInfo,
  }),
  'datasets.columns': defineMethod({
    summary:
      "A table file's columns, with a few values of each, read from its header and first rows: for choosing the subject, label and feature columns before importing.",
    input: z.object({ path: Path }).strict(),
    output: z.object({
      format: z.enum(['csv', 'tsv', 'jsonl', 'parquet']),
      columns: z.array(z.object({ name: z.string(), sample: z.array(z.string()), numeric: z.boolean() })),
      /** Data rows, where the format tells without reading them all (Parquet). */
      rows: z.number().optional(),
    }),
  }),
  'datasets.importDemo': defineMethod({
    summary: 'Import one of the demo datasets that ship with Lethe.',
    input: z.object({ demo: DemoDataset }).strict(),
    output: DatasetInfo,
  }),
  'datasets.list': defineMethod({
    summary: 'Imported datasets.',
    input: z.object({}).strict(),
    output: z.array(DatasetInfo),
  }),
  'models.list': defineMethod({
    summary: 'Model versions with their lineage.',
    input: z.object({}).strict(),
    output: z.array(ModelInfo),
  }),
  'models.train': defineMethod({
    summary:
      'Start training a model on a dataset’s training split, in the engine; progress streams as events.',
    input: z
      .object({
        datasetId: Id,
        arch: ArchitectureInput,
        training: TrainOptions.default(TrainOptions.parse({})),
        /** Record what a method needs while training ('hf': plain SGD and one fixed batch order required). */
        prepare: z.enum(preparations).optional(),
        /** Storage of HF statistics (float16 halves the file, at some fidelity cost). */
        statisticsDtype: z.enum(['float32', 'float16']).default('float32'),
        name: z.string().max(200).optional(),
      })
      .strict()
      .superRefine((v, context) => {
        const problems = lbfgsProblems({ arch: v.arch.kind, ...v.training, prepare: v.prepare })
        for (const message of problems)
          context.addIssue({ code: 'custom', path: ['training', 'optimizer'], message })
      }),
    output: z.object({ jobId: z.string() }),
  }),
  'models.import': defineMethod({
    summary:
      'Import a model trained elsewhere (ONNX: a chain of optional Conv stages, each with Relu, Sigmoid or Tanh and a 2×2 MaxPool or AveragePool, optional GlobalAveragePool, then Gemm or MatMul + Add layers with one hidden activation, BatchNormalization folded into the layer before it; or a TF.js Layers model.json, as tensorflowjs_converter writes a Keras model, of Conv2D, pooling, Flatten, Dropout, Activation and Dense layers) for a dataset; registered in the ledger.',
    input: z
      .object({
        datasetId: Id,
        /** The ONNX file, or a TF.js Layers model.json with its shards beside it, read by the engine (as dataset import reads its files); the format is told from the file. */
        path: Path.optional(),
        /**
         * Or the files themselves, from a browser's file input (which gives no path): one .onnx, or
         * a model.json with its weight shards, each by its bare file name.
         */
        upload: z
          .array(
            z.object({
              name: z
                .string()
                .min(1)
                .max(255)
                .regex(/^[^/\\]+$/, 'a bare file name, without a folder')
                .refine((name) => name !== '.' && name !== '..', 'a bare file name, without a folder'),
              base64: z.string().max(MAX_UPLOAD_BASE64),
            }),
          )
          .min(1)
          .max(64)
          .optional(),
        name: z.string().trim().min(1).max(200).optional(),
        /**
         * The recipe exact retraining will use (Lethe's, not the original's): what is given here, over
         * TrainOptions' defaults with Adam at 1e-3 for a network, 'lbfgs' with l2 = LBFGS_DEFAULT_L2 for
         * a logistic regression.
         */
        training: TrainChoices.optional(),
      })
      .strict()
      .refine((v) => (v.path === undefined) !== (v.upload === undefined), 'give either path or upload')
      .refine(
        (v) => !v.upload || new Set(v.upload.map((f) => f.name)).size === v.upload.length,
        'each uploaded file needs its own name',
      ),
    output: ModelInfo,
    maxInputBytes: MAX_UPLOAD_BASE64 + 64 * 1024,
  }),
  'models.export': defineMethod({
    summary:
      'Export a version as ONNX (every kind of model): Conv stages with their activation and pooling, then Gemm layers with their activation, ending in the output the model was imported with, else Softmax; or as a TF.js Layers model (model.json and one weight shard beside it, every kind of model), which tf.loadLayersModel loads. Deleted versions are refused.',
    input: z
      .object({
        modelId: Id,
        format: z.enum(['onnx', 'tfjs']),
        /** The file to write (for 'tfjs' the model.json; its weight shard is written beside it), by the engine (overwritten if it exists). */
        path: Path,
      })
      .strict(),
    output: z.object({
      modelId: z.string(),
      format: z.enum(['onnx', 'tfjs']),
      /** The main file (the .onnx, or model.json) with its digest and size. */
      path: z.string(),
      sha256: z.string(),
      bytes: z.number(),
      /** Every file written: the .onnx alone, or model.json and its weight shard. */
      files: z.array(z.object({ name: z.string(), sha256: z.string(), bytes: z.number() })),
    }),
  }),
  'unlearn.start': defineMethod({
    summary:
      'Start removing rows (or a request’s subjects) from a model; with `reference`, also retrain exactly to compare.',
    input: z
      .object({
        modelId: Id,
        method: z.enum(unlearningMethods),
        requestId: z.string().optional(),
        subjects: z.array(z.string().min(1).max(256)).max(100_000).optional(),
        rows: z.array(z.number().int().min(0)).max(1_000_000).optional(),
        reference: z.boolean().default(false),
        referenceMode: z.enum(['replay', 'independent']).optional(),
        /** Also retrain independently twice: their distance is the floor under which differences are noise. */
        noiseFloor: z.boolean().default(false),
        /** The method's own options (unlearnOptions): each in its stated range, unknown ones refused. */
        options: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .refine(
        (v) => [v.requestId, v.subjects, v.rows].filter((x) => x !== undefined).length === 1,
        'give exactly one of requestId, subjects or rows',
      )
      .superRefine((v, context) => {
        const checked = parseUnlearnOptions(v.method, v.options)
        if (!checked.ok)
          for (const { path, message } of checked.problems)
            context.addIssue({ code: 'custom', path: ['options', ...path], message })
      }),
    output: z.object({ jobId: z.string() }),
  }),
  'models.evaluate': defineMethod({
    summary:
      'Score a model on some rows (as a forget set), its retained rows and the test split, optionally beside a reference.',
    input: z
      .object({
        modelId: Id,
        referenceId: Id.optional(),
        rows: z.array(z.number().int().min(0)).min(1).max(1_000_000),
      })
      .strict(),
    output: z.record(z.string(), z.unknown()),
  }),
  'unlearn.methods': defineMethod({
    summary: 'The unlearning methods, each with what it does, what it costs and what it guarantees.',
    input: z.object({}).strict(),
    output: z.array(MethodInfo),
  }),
  'unlearn.get': defineMethod({
    summary: 'The record of the unlearning run that produced a model version, with its verification report.',
    input: z.object({ modelId: Id }).strict(),
    output: RunRecord,
  }),
  'matching.preview': defineMethod({
    summary:
      'The training records that match a request’s subject identifiers, per dataset and model, before anything runs.',
    input: z
      .object({
        requestId: RequestId,
        limit: z.number().int().min(0).max(200).default(10),
      })
      .strict(),
    output: z.object({ requestId: z.string(), datasets: z.array(MatchedDataset) }),
  }),
  'models.delete': defineMethod({
    summary:
      'Delete a model version for good: its parameters, HF statistics and noiseless estimate are shredded; the manifest stays as a tombstone with the hash, and the ledger records when and why.',
    input: z.object({ modelId: Id, reason: Reason, requestId: RequestId.optional() }).strict(),
    output: z.object({
      id: z.string(),
      paramsSha256: z.string(),
      deleted: Deletion,
      /** The files overwritten and removed. */
      shredded: z.array(z.string()),
    }),
  }),
  'models.retain': defineMethod({
    summary:
      'Record that a version still trained on a request’s rows is kept on purpose (a legal hold, say), and why.',
    input: z.object({ modelId: Id, requestId: RequestId, reason: Reason }).strict(),
    output: z.object({ modelId: z.string(), requestId: z.string(), reason: z.string() }),
  }),
  'models.holdingRows': defineMethod({
    summary:
      'The model versions trained on a request’s rows and not unlearned of them: each with its deletion or the reason it is kept.',
    input: z.object({ requestId: RequestId }).strict(),
    output: z.array(HoldingVersion),
  }),
  'datasets.removeSubjects': defineMethod({
    summary:
      'Make a new dataset version without the rows of a request’s subjects (or of the given subject ids), registered with the old one as parent; the old one’s files are shredded.',
    input: z
      .object({
        datasetId: Id,
        requestId: RequestId.optional(),
        subjects: z.array(z.string().min(1).max(256)).min(1).max(100_000).optional(),
      })
      .strict()
      .refine(
        (v) => (v.requestId === undefined) !== (v.subjects === undefined),
        'give either requestId or subjects',
      ),
    output: z.object({ dataset: DatasetInfo, removedRows: z.number() }),
  }),
  'jobs.get': defineMethod({
    summary: 'A job’s state, progress and result.',
    input: z.object({ jobId: z.string() }).strict(),
    output: JobStatus,
  }),
  'jobs.list': defineMethod({
    summary: 'Jobs of this session, newest first.',
    input: z.object({}).strict(),
    output: z.array(JobStatus),
  }),
  'jobs.cancel': defineMethod({
    summary: 'Cancel a running job; nothing it made is kept.',
    input: z.object({ jobId: z.string() }).strict(),
    output: JobStatus,
  }),
}
