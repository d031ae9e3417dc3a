/**
 * HF: Hessian-free online certified unlearning (ALGORITHMS.md §2).
 *
 * While the model trains, one vector per training row tracks how far the final parameters would
 * move had that row been left out of the replayed run: at every step t, at θ_t before the update,
 * first every vector already started is propagated, A ← (I − η_t H_t) A (exact batched
 * Hessian-vector products), then each row of the batch injects its own first-order effect. A
 * deletion is then w + Σ_u A[u] plus calibrated Gaussian noise: milliseconds, no data needed.
 *
 * The reference is our replayed retrain, whose batch loss is the mean over the rows that remain
 * (as in the paper's retrain code). For that reference the exact first-order injection of row u
 * in a batch B of b rows is η/(b − 1)·(∇ℓ_u − ḡ_B), with ḡ_B the batch's mean cross-entropy
 * gradient; the paper's η/b·∇f_u is the same to first order only near a stationary batch.
 */
import { createHash, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../../contract'
import { z } from 'zod'
import type { Certification as CertificationSchema, UnlearnOptions } from '../../contract/engine'
import { guaranteeStrength } from '../../contract/guarantee'
import { DurableJsonFile, parseStored } from '../../ledger/durable'
import { l2Norm } from '../metrics'
import type { ModelSpec } from '../models/spec'
import { loadModel, type ModelManifest } from '../models/store'
import { analyticGaussianSigma } from '../privacy'
import { hvp, hvpChunkRows, perSampleGradients, topEigenvalue } from '../second-order'
import { tf } from '../tf'
import { batchPlan, learningRateAt, type StepContext, type TrainConfig } from '../train'
import { StatisticsFile, writeStatistics } from './hf-store'
import { accuracyFloor, addNoiseAboveFloor } from './floor'
import { chainRoot, releaseCertification } from './lineage'
import type { Guarantee, Recorder, UnlearningMethod } from './method'

type Certification = z.infer<typeof CertificationSchema>

export const STATISTICS_FILE = 'hf-statistics.bin'
const RECORDING_FILE = 'hf-recording.json'

/** Host memory the n × d statistics may take while recording. */
const MAX_STATISTICS_BYTES = 4 * 1024 ** 3
/** The Hessian's spectrum is estimated at about this many steps spread over training. */
const SPECTRUM_SAMPLES = 16

/** What the recording measured for the bound, kept beside the statistics; read back, it is checked. */
const HfRecording = z.object({
  format: z.literal('lethe-hf-recording'),
  runId: z.string(),
  /**
   * G̃: the largest ‖∇ℓ_u − ḡ_B‖ over every step and every row u of its batch B: what a removed
   * row's injection is made of, measured on the original run (no clipping bound needed).
   */
  gradientBound: z.number().min(0),
  /**
   * Ends of the batch-Hessian spectrum seen at the sampled steps. For softmax regression the
   * low end is the L2 coefficient (the cross-entropy Hessian is positive semi-definite).
   */
  spectrum: z.object({
    low: z.number(),
    high: z.number(),
    lowSource: z.enum(['analytic', 'estimated']),
    samples: z.array(z.object({ step: z.number(), low: z.number(), high: z.number() })),
  }),
  steps: z.number().int().positive(),
  recordMs: z.number(),
})
type HfRecording = z.infer<typeof HfRecording>

/** The recording summary beside the statistics: damaged, or from another run than they are, it is CORRUPT. */
async function readRecording(file: string, runId: string): Promise<HfRecording> {
  const parsed = HfRecording.safeParse(parseStored<unknown>(file, await readFile(file, 'utf8')))
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new LetheError(
      'CORRUPT',
      `${file} is damaged (${issue?.path.join('.') || 'the document'}: ${issue?.message}): HF cannot bound its noise without it. Train the model again with HF recording.`,
      { file },
    )
  }
  if (parsed.data.runId !== runId)
    throw new LetheError(
      'CORRUPT',
      `${file} belongs to another recording run than the statistics beside it. Train the model again with HF recording.`,
      { file },
    )
  return parsed.data
}

const DEFAULTS = { epsilon: 1, delta: 1e-5, noiseLimit: 1 }

/** Why a training configuration cannot carry HF statistics, one reason per entry. */
export function hfConformity(spec: ModelSpec, config: TrainConfig, rows: number): string[] {
  const problems: string[] = []
  if (config.optimizer !== 'sgd' || config.momentum !== 0)
    problems.push('HF needs plain SGD (no momentum, no Adam): the recursion models the plain SGD update only')
  if (!config.samePermutationEachEpoch)
    problems.push('HF needs the same batch order in every epoch, so a row keeps its place in the trajectory')
  if (config.projectRadius !== null)
    problems.push('HF cannot follow a projection onto a ball: it is not part of the recursion')
  if (config.batchSize < 2) problems.push('HF needs batches of at least 2 rows')
  else if (rows % config.batchSize === 1)
    problems.push(
      `the last batch of each epoch would hold a single row (${rows} rows, batches of ${config.batchSize}); choose another batch size`,
    )
  const bytes = rows * spec.size * 4
  if (bytes > MAX_STATISTICS_BYTES)
    problems.push(
      `the statistics would take ${(bytes / 1024 ** 3).toFixed(1)} GB of memory (${rows} rows × ${spec.size} parameters), more than the 4 GB Lethe allows; train on fewer rows or a smaller model`,
    )
  return problems
}

/** The rows in the order of the fixed permutation: a row's slot in the statistics file. */
export function slotOrder(rows: Int32Array, config: TrainConfig): Int32Array {
  const order = new Int32Array(rows.length)
  let at = 0
  for (const batch of batchPlan(rows, config, 0)) {
    order.set(batch.rows, at)
    at += batch.rows.length
  }
  return order
}

const orderHash = (order: Int32Array) =>
  createHash('sha256')
    .update(new Uint8Array(order.buffer, order.byteOffset, order.byteLength))
    .digest('hex')

class HfRecorder implements Recorder {
  private readonly size: number
  private readonly vectors: Float32Array
  private readonly slotOf = new Map<number, number>()
  private readonly order: Int32Array
  private readonly totalSteps: number
  private readonly spectrumEvery: number
  private readonly runId = randomUUID()
  /** Slots [0, active) have been injected; the rest are still zero and need no propagation. */
  private active = 0
  private gradientBound = 0
  private readonly samples: HfRecording['spectrum']['samples'] = []
  private recordMs = 0
  readonly hooks: Recorder['hooks']

  constructor(
    private readonly spec: ModelSpec,
    private readonly config: TrainConfig,
    rows: Int32Array,
    private readonly dtype: 'float32' | 'float16',
  ) {
    this.size = spec.size
    this.order = slotOrder(rows, config)
    this.order.forEach((row, slot) => this.slotOf.set(row, slot))
    this.vectors = new Float32Array(rows.length * this.size)
    this.totalSteps = Math.ceil(rows.length / config.batchSize) * config.epochs
    this.spectrumEvery = Math.max(1, Math.ceil(this.totalSteps / SPECTRUM_SAMPLES))
    this.hooks = { onStep: (step) => this.step(step) }
  }

  private async step({ step, rows, learningRate: eta, params, x, y }: StepContext): Promise<void> {
    const started = performance.now()
    const { spec, size } = this
    const l2 = this.config.l2
    // (1) A ← (I − η_t H_t) A for every vector already started, a block of rows per HVP call.
    // Blocks of the size one HVP pass takes, so it never slices them again.
    const block = hvpChunkRows(spec, rows.length)
    for (let start = 0; start < this.active; start += block) {
      const k = Math.min(block, this.active - start)
      const view = this.vectors.subarray(start * size, (start + k) * size)
      const next = tf.tidy(() => {
        const a = tf.tensor2d(view, [k, size])
        return tf.sub(a, tf.mul(hvp(spec, params, x, y, l2, a), eta))
      })
      view.set((await next.data()) as Float32Array)
      next.dispose()
    }
    // (2) Each row of the batch injects η/(b − 1)·(∇ℓ_u − ḡ_B): the replayed retrain's first step apart.
    const b = rows.length
    const [injection, norms] = tf.tidy(() => {
      const g = perSampleGradients(spec, params, x, y)
      const centred = tf.sub(g, tf.mean(g, 0, true))
      return [tf.mul(centred, eta / (b - 1)), tf.sqrt(tf.sum(tf.square(centred), 1))]
    })
    const added = (await injection.data()) as Float32Array
    const rowNorms = (await norms.data()) as Float32Array
    injection.dispose()
    norms.dispose()
    for (let i = 0; i < b; i++) {
      const slot = this.slotOf.get(rows[i] as number) as number
      const target = this.vectors.subarray(slot * size, (slot + 1) * size)
      const source = added.subarray(i * size, (i + 1) * size)
      for (let j = 0; j < size; j++) target[j] = (target[j] as number) + (source[j] as number)
      this.active = Math.max(this.active, slot + 1)
      this.gradientBound = Math.max(this.gradientBound, rowNorms[i] as number)
    }
    // (3) Now and then, the ends of this batch's Hessian spectrum (for ρ_t = ‖I − η_t H_t‖).
    if (step % this.spectrumEvery === 0 || step === this.totalSteps - 1)
      this.sampleSpectrum(step, params, x, y)
    this.recordMs += performance.now() - started
  }

  private sampleSpectrum(step: number, params: tf.Tensor1D, x: tf.Tensor2D, y: tf.Tensor1D): void {
    const { spec } = this
    const l2 = this.config.l2
    const options = { iterations: 50, tolerance: 1e-3, seed: step }
    const dominant = topEigenvalue(spec, params, x, y, l2, options).value
    if (spec.arch.kind === 'logreg') {
      this.samples.push({ step, low: l2, high: dominant })
      return
    }
    const other = topEigenvalue(spec, params, x, y, l2, { ...options, shift: dominant }).value
    this.samples.push({ step, low: Math.min(dominant, other), high: Math.max(dominant, other) })
  }

  async save(dir: string, model: { id: string; paramsSha256: string }) {
    const createdAt = new Date().toISOString()
    const { bytes } = await writeStatistics(
      path.join(dir, STATISTICS_FILE),
      {
        modelId: model.id,
        paramsSha256: model.paramsSha256,
        runId: this.runId,
        dim: this.size,
        count: this.order.length,
        dtype: this.dtype,
        trainRowsSha256: orderHash(this.order),
        createdAt,
      },
      this.vectors,
    )
    const analytic = this.spec.arch.kind === 'logreg'
    const recording: HfRecording = {
      format: 'lethe-hf-recording',
      runId: this.runId,
      gradientBound: this.gradientBound,
      spectrum: {
        low: Math.min(...this.samples.map((s) => s.low)),
        high: Math.max(...this.samples.map((s) => s.high)),
        lowSource: analytic ? 'analytic' : 'estimated',
        samples: this.samples,
      },
      steps: this.totalSteps,
      recordMs: this.recordMs,
    }
    await new DurableJsonFile<HfRecording>(path.join(dir, RECORDING_FILE)).write(recording)
    return {
      method: 'hf' as const,
      runId: this.runId,
      file: STATISTICS_FILE,
      bytes,
      dtype: this.dtype,
      rows: this.order.length,
      dim: this.size,
      recordMs: this.recordMs,
      createdAt,
    }
  }
}

/** The per-step facts of the recorded run the bound needs: learning rates, batch sizes, ρ_t. */
interface Trajectory {
  /** η_t for every step. */
  rates: Float64Array
  /** Size of each batch of an epoch (the same every epoch). */
  sizes: number[]
  /** log Π_{s>t} ρ_s: how much what is injected at step t can grow by the end. */
  logGrowth: Float64Array
  rhoMax: number
}

/** The batches of every epoch, as the recording saw them: consecutive runs of the slot order. */
function batchesOf(order: Int32Array, batchSize: number): Int32Array[] {
  const batches: Int32Array[] = []
  for (let start = 0; start < order.length; start += batchSize)
    batches.push(order.subarray(start, start + batchSize))
  return batches
}

function trajectoryOf(config: TrainConfig, order: Int32Array, recording: HfRecording): Trajectory {
  const sizes = batchesOf(order, config.batchSize).map((b) => b.length)
  const perEpoch = sizes.length
  const total = perEpoch * config.epochs
  const rates = new Float64Array(total)
  for (let t = 0; t < total; t++) rates[t] = learningRateAt(config, t, total, perEpoch)
  const { low, high } = recording.spectrum
  const logGrowth = new Float64Array(total)
  let rhoMax = 0
  let sum = 0
  for (let t = total - 1; t >= 0; t--) {
    logGrowth[t] = sum
    const eta = rates[t] as number
    const rho = Math.max(Math.abs(1 - eta * low), Math.abs(1 - eta * high))
    rhoMax = Math.max(rhoMax, rho)
    sum += Math.log(rho)
  }
  return { rates, sizes, logGrowth, rhoMax }
}

/**
 * Δ(m): a bound on ‖(θ + Σ_u A[u]) − θ_retrain‖ for any m removed rows, by the triangle inequality
 * through θ: both the estimate Σ A[u] and the true difference follow the recursion, each row's
 * injection bounded by G̃·η_t/(b − 1) (estimate) or G̃·η_t/(b − m) (truth, a batch losing up to m
 * rows), and grown by Π ρ_s afterwards; the worst batch position counts m times.
 */
export function sensitivity(trajectory: Trajectory, gradientBound: number, m: number): number {
  if (m === 0) return 0
  const { rates, sizes, logGrowth } = trajectory
  let worst = 0
  for (let j = 0; j < sizes.length; j++) {
    const b = sizes[j] as number
    let total = 0
    for (let t = j; t < rates.length; t += sizes.length)
      total +=
        (rates[t] as number) * (1 / (b - 1) + 1 / Math.max(1, b - m)) * Math.exp(logGrowth[t] as number)
    worst = Math.max(worst, total)
  }
  return gradientBound * m * worst
}

function guaranteeOf(certification: Certification, arch: ModelSpec['arch']['kind']): Guarantee {
  if (!certification.noise)
    return {
      kind: 'empirical',
      strength: 'none',
      meaning:
        'Not certified: the calibrated noise was switched off for measurement. The model is the HF estimate of retraining without the rows, and nothing bounds what remains.',
    }
  const { epsilon, delta, sigma, sensitivity: bound } = certification
  const scope =
    arch === 'logreg'
      ? 'The loss (L2-regularised softmax regression) is convex, the case the theory covers; the top of the Hessian spectrum was estimated during training.'
      : 'The network’s loss is not convex: the bound rests on the Hessian-spectrum ends estimated at sampled training steps, not proven, and it grows exponentially with the number of steps.'
  return {
    kind: 'certified',
    epsilon,
    delta,
    strength: guaranteeStrength(epsilon),
    meaning: `Gaussian noise of σ = ${sigma.toPrecision(3)} on every parameter hides any difference up to Δ = ${bound.toPrecision(3)} between this model and one retrained without the removed rows (the same training run replayed without them). ${scope}`,
  }
}

export const hfMethod: UnlearningMethod<UnlearnOptions['hf']> = {
  name: 'hf',
  label: 'HF: certified unlearning in milliseconds',
  description:
    'Hessian-free online unlearning: while the model trains, Lethe records one vector per training row that says how the final model would differ without it. Forgetting is then adding those vectors and calibrated noise: milliseconds, no retraining, a certified (ε, δ) guarantee. It needs a model trained with HF recording (plain SGD, one fixed batch order), which is slower, and disk space for the vectors.',
  guarantee: (options): Guarantee =>
    options.noise === false
      ? { kind: 'empirical', strength: 'none', meaning: 'Not certified: noise switched off for measurement.' }
      : {
          kind: 'certified',
          epsilon: options.epsilon ?? DEFAULTS.epsilon,
          delta: options.delta ?? DEFAULTS.delta,
          strength: guaranteeStrength(options.epsilon ?? DEFAULTS.epsilon),
          meaning: 'Calibrated Gaussian noise hides the difference from a model retrained without the rows.',
        },

  prepare(spec, config, rows, options) {
    const problems = hfConformity(spec, config, rows.length)
    if (problems.length)
      throw new LetheError(
        'BAD_INPUT',
        `This training cannot record HF statistics: ${problems.join('; ')}.`,
        {
          problems,
        },
      )
    return new HfRecorder(spec, config, rows, options.statisticsDtype)
  },

  async unlearn(context, options) {
    const started = performance.now()
    const { spec, original, forgetRows, modelsDir } = context
    if (!modelsDir) throw new LetheError('INTERNAL', 'HF needs the models folder to find its statistics.')
    const epsilon = options.epsilon ?? DEFAULTS.epsilon
    const delta = options.delta ?? DEFAULTS.delta
    const noiseLimit = options.noiseLimit ?? DEFAULTS.noiseLimit
    const noise = options.noise !== false
    const root = await chainRoot(
      modelsDir,
      original.manifest,
      { name: 'hf', label: 'HF' },
      'HF statistics describe the original training run and stop applying once another method has changed the model; retrain it (with HF recording) instead.',
    )
    if (root.preparation?.method !== 'hf')
      throw new LetheError(
        'CONFLICT',
        `${root.id} was trained without HF recording, so there are no statistics to unlearn with. Train it again with "Record for HF" (plain SGD, one fixed batch order).`,
      )
    const preparation = root.preparation as NonNullable<ModelManifest['preparation']>
    const recordingFile = path.join(modelsDir, root.id, RECORDING_FILE)
    if (!existsSync(recordingFile))
      throw new LetheError(
        'CORRUPT',
        `${root.id} has HF statistics but no recording summary (${recordingFile}).`,
      )
    const recording = await readRecording(recordingFile, preparation.runId)
    const order = slotOrder(context.trainRows, root.training)

    // Rows this request adds; earlier requests' rows are already in the parent.
    const earlier = new Set(original.manifest.forgottenRows)
    const fresh = Array.from(forgetRows).filter((row) => !earlier.has(row))
    if (fresh.length === 0)
      throw new LetheError('BAD_INPUT', 'These rows were already removed from this model.')
    const removed = new Set(forgetRows)
    const emptied = batchesOf(order, root.training.batchSize).findIndex((b) => b.every((r) => removed.has(r)))
    if (emptied >= 0)
      throw new LetheError(
        'CONFLICT',
        `Every row of training batch ${emptied + 1} would be removed; HF's first-order statistics do not cover a batch that disappears. Retrain exactly instead.`,
      )

    // The rows' vectors first: a file from another model or run, or a damaged one, stops here.
    const statistics = StatisticsFile.open(path.join(modelsDir, root.id, preparation.file), {
      paramsSha256: root.paramsSha256,
      runId: preparation.runId,
      dim: spec.size,
      count: order.length,
    })
    const params = Float32Array.from(original.params)
    const reading = performance.now()
    try {
      if (statistics.header.trainRowsSha256 !== orderHash(order))
        throw new LetheError(
          'CONFLICT',
          `The HF statistics of ${root.id} were recorded over another order of training rows than the dataset now gives.`,
        )
      const slotOf = new Map<number, number>()
      order.forEach((row, slot) => slotOf.set(row, slot))
      statistics.addRows(
        fresh.map((row) => slotOf.get(row) as number),
        params,
      )
    } finally {
      statistics.close()
    }
    const readMs = performance.now() - reading

    const trajectory = trajectoryOf(root.training, order, recording)
    const deleted = forgetRows.length
    const bound = sensitivity(trajectory, recording.gradientBound, deleted)
    // Noise is measured against the trained model: earlier releases' noise must not loosen the limit.
    const trained =
      root.id === original.manifest.id ? original.params : (await loadModel(modelsDir, root.id)).params
    const thetaNorm = l2Norm(trained)
    // The Gaussian mechanism's σ is linear in Δ: calibrate once for Δ = 1.
    const perUnit = analyticGaussianSigma(epsilon, delta, 1)
    const sigmaFor = (rows: number) => perUnit * sensitivity(trajectory, recording.gradientBound, rows)
    const relative = (sigma: number) => (sigma * Math.sqrt(spec.size)) / thetaNorm
    const sigma = noise ? sigmaFor(deleted) : 0
    let capacity = 0
    for (let lo = 0, hi = context.trainRows.length; lo <= hi;) {
      const mid = Math.floor((lo + hi) / 2)
      if (relative(sigmaFor(mid)) <= noiseLimit) {
        capacity = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (noise && !(relative(sigma) <= noiseLimit))
      throw new LetheError(
        'CONFLICT',
        `HF's deletion capacity for this model is spent: removing ${deleted} rows in all needs noise of σ = ${sigma.toPrecision(3)}, ${relative(sigma).toFixed(2)}× the size of the parameters, beyond the limit of ${noiseLimit}. Retrain the model without these rows instead (exact retraining), then record HF again for later requests.`,
        { capacityRows: capacity, rowsDeleted: deleted },
      )
    const previous = (await releaseCertification(modelsDir, original.manifest)) ?? { sigma: 0 }
    // The same utility floor as the certified step (floor.ts): a bound loose enough to pass the
    // noise limit can still leave a model that predicts nothing.
    const floorStarted = performance.now()
    // Top-up: the published model then carries N(0, σ²) in all, what Δ for every row removed so far needs.
    const { topUp, floorCheck } = noise
      ? await addNoiseAboveFloor(
          {
            spec,
            data: context.data,
            dataset: context.dataset,
            estimate: params,
            sigma,
            sigmaBefore: previous.sigma,
            floor: await accuracyFloor(spec, context.data, context.dataset, trained, options.accuracyFloor),
            release: 'HF release',
            noise: `σ = ${sigma.toPrecision(3)} for Δ = ${bound.toPrecision(3)} at ε = ${epsilon}, ${relative(sigma).toFixed(2)}× the size of the parameters`,
            advice:
              'Retrain the model without these rows instead (exact retraining); a larger ε needs less noise but promises less, and accuracyFloor sets a lower floor.',
          },
          params,
        )
      : { topUp: 0, floorCheck: null }
    const floorMs = performance.now() - floorStarted

    // The deletion itself, without the floor's evaluations of the test rows.
    const applyMs = performance.now() - started - floorMs
    const config = root.training
    const certification: Certification = {
      noise,
      epsilon,
      delta,
      sensitivity: bound,
      sigma: noise ? sigma : previous.sigma,
      sigmaBefore: previous.sigma,
      topUp,
      relativeNoise: relative(noise ? sigma : previous.sigma),
      noiseLimit,
      rowsThisRequest: fresh.length,
      rowsDeleted: deleted,
      capacityRows: capacity,
      constants: [
        { symbol: 'ε', name: 'privacy loss', value: epsilon, source: 'set', note: 'asked for this release' },
        {
          symbol: 'δ',
          name: 'failure probability',
          value: delta,
          source: 'set',
          note: 'asked for this release',
        },
        {
          symbol: 'n',
          name: 'training rows',
          value: order.length,
          source: 'set',
          note: 'rows the model was trained on',
        },
        {
          symbol: 'T',
          name: 'SGD steps',
          value: recording.steps,
          source: 'set',
          note: `${config.epochs} epochs of ${trajectory.sizes.length} batches`,
        },
        {
          symbol: 'η₀',
          name: 'initial learning rate',
          value: config.learningRate,
          source: 'set',
          note:
            config.schedule.kind === 'exponential'
              ? `decayed by ${config.schedule.gamma} per step`
              : `${config.schedule.kind} schedule`,
        },
        {
          symbol: 'λ',
          name: 'L2 coefficient',
          value: config.l2,
          source: 'set',
          note: 'regularisation of the training loss',
        },
        {
          symbol: 'G̃',
          name: 'largest row injection',
          value: recording.gradientBound,
          source: 'measured',
          note: 'largest ‖∇ℓ_u − ḡ_B‖ of a row against its batch’s mean gradient, over every training step (no clipping)',
        },
        {
          symbol: 'λ_max',
          name: 'top of the Hessian spectrum',
          value: recording.spectrum.high,
          source: 'estimated',
          note: `power iteration on the batch Hessian at ${recording.spectrum.samples.length} of ${recording.steps} steps (largest)`,
        },
        recording.spectrum.lowSource === 'analytic'
          ? {
              symbol: 'λ_min',
              name: 'bottom of the Hessian spectrum',
              value: recording.spectrum.low,
              source: 'set',
              note: 'the L2 coefficient, a proven lower bound: the softmax cross-entropy Hessian is positive semi-definite',
            }
          : {
              symbol: 'λ_min',
              name: 'bottom of the Hessian spectrum',
              value: recording.spectrum.low,
              source: 'estimated',
              note: `shifted power iteration at ${recording.spectrum.samples.length} steps (smallest); negative means the loss is not convex there`,
            },
        {
          symbol: 'ρ',
          name: 'largest step contraction ‖I − η_t H_t‖',
          value: trajectory.rhoMax,
          source: 'estimated',
          note: 'from the spectrum ends and each step’s learning rate; above 1 the bound grows exponentially with the steps',
        },
      ],
      assumptions: [
        'The retrained model it is compared with replays the same training run (same initialisation, batch order and learning rates) without the removed rows.',
        'ρ bounds ‖I − η_t H_t‖ at every step, along the retrained run too; it was estimated by power iteration at sampled steps, not proven.',
        'Every batch keeps at least one row (checked), and the first-order statistics stay valid for the rows removed so far (their error grows with the number removed).',
        spec.arch.kind === 'logreg'
          ? 'The loss is convex (L2-regularised softmax regression).'
          : 'The loss of a neural network is not convex; the certificate holds only as far as the estimated spectrum holds.',
      ],
    }
    return {
      params,
      guarantee: guaranteeOf(certification, spec.arch.kind),
      details: {
        certification,
        statistics: {
          bytes: statistics.bytes,
          dtype: preparation.dtype,
          rows: preparation.rows,
          dim: preparation.dim,
          createdAt: preparation.createdAt,
          recordMs: preparation.recordMs,
        },
        timings: { readMs, applyMs, floorMs },
        ...(floorCheck && { floorCheck }),
      },
    }
  },
}
