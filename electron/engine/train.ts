/**
 * Mini-batch training on a flat parameter vector: SGD (with momentum) or Adam, L2, learning-
 * rate schedules, and a batch order fixed by a recorded seed, so a run can be replayed
 * exactly, with or without some rows. Methods record what they need through `onStep`, which
 * sees θ_t before each update. A convex recipe ('lbfgs') is solved full batch by convex.ts.
 */
import { tf } from './tf'
import { LetheError } from '../contract'
import { checkConvexRecipe, solveLogreg, type Convergence } from './convex'
import { logits, lossAndGradient } from './models/forward'
import type { ModelSpec } from './models/spec'
import { Random } from './random'

export interface TrainConfig {
  /** 'lbfgs': full batch to the optimum (logistic regression with l2 > 0); the batch settings do not apply. */
  optimizer: 'sgd' | 'adam' | 'lbfgs'
  learningRate: number
  /** SGD only; 0 is plain SGD (what HF requires). */
  momentum: number
  epochs: number
  batchSize: number
  l2: number
  schedule:
    | { kind: 'constant' }
    | { kind: 'step'; everyEpochs: number; gamma: number }
    /**
     * Half a cosine from η₀ down to floor·η₀ (default 0) over the run, per step; or, with
     * perEpoch, one rate per epoch as PyTorch's CosineAnnealingLR(T_max = epochs) stepped once
     * an epoch (DEL's recipe).
     */
    | { kind: 'cosine'; floor?: number; perEpoch?: boolean }
    /** η_t = η₀·γ^t with t the global step (HF's schedule: the decay makes the recursion contract). */
    | { kind: 'exponential'; gamma: number }
  /** Seeds the batch order. */
  seed: number
  /** The same permutation every epoch (HF), or a fresh one per epoch. */
  samePermutationEachEpoch: boolean
  /** Project onto the ball ‖θ‖ ≤ C after every step (certified DNN), or null. */
  projectRadius: number | null
  /** lbfgs: stop within tolerance·max(1, ‖θ‖) of the optimum (default 1e-6). */
  tolerance?: number
  /** lbfgs, on the version it trained: where the solver stopped. */
  convergence?: Convergence
}

export const defaultTrainConfig: TrainConfig = {
  optimizer: 'sgd',
  learningRate: 0.1,
  momentum: 0.9,
  epochs: 20,
  batchSize: 64,
  l2: 1e-4,
  schedule: { kind: 'constant' },
  seed: 1,
  samePermutationEachEpoch: false,
  projectRadius: null,
}

/** One planned batch: its position in the original schedule, and its rows. */
export interface PlannedBatch {
  step: number
  rows: Int32Array
}

/** The batches of one epoch, from the training rows and the seed alone. */
export function batchPlan(rows: Int32Array, config: TrainConfig, epoch: number): PlannedBatch[] {
  const random = new Random(config.seed * 1_000_003 + (config.samePermutationEachEpoch ? 0 : epoch))
  const order = Int32Array.from(random.shuffle(rows))
  const perEpoch = Math.ceil(rows.length / config.batchSize)
  const plan: PlannedBatch[] = []
  for (let b = 0; b < perEpoch; b++) {
    plan.push({
      step: epoch * perEpoch + b,
      rows: order.subarray(b * config.batchSize, (b + 1) * config.batchSize),
    })
  }
  return plan
}

/**
 * The plan of a replayed run without `forget`: the same batches with those rows taken out;
 * a batch left empty is skipped (not a NaN), and every other batch keeps its step number,
 * so it also keeps its learning rate.
 */
export function replayPlan(rows: Int32Array, forget: ReadonlySet<number>, config: TrainConfig) {
  return (epoch: number): PlannedBatch[] =>
    batchPlan(rows, config, epoch)
      .map((b) => ({ step: b.step, rows: b.rows.filter((r) => !forget.has(r)) }))
      .filter((b) => b.rows.length > 0)
}

export function learningRateAt(
  config: TrainConfig,
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
): number {
  const { schedule, learningRate } = config
  switch (schedule.kind) {
    case 'constant':
      return learningRate
    case 'step':
      return learningRate * schedule.gamma ** Math.floor(step / stepsPerEpoch / schedule.everyEpochs)
    case 'cosine': {
      const angle = schedule.perEpoch
        ? (Math.PI * Math.floor(step / stepsPerEpoch)) / Math.max(1, config.epochs)
        : (Math.PI * step) / Math.max(1, totalSteps)
      const cosine = 0.5 * learningRate * (1 + Math.cos(angle))
      const floor = schedule.floor ?? 0
      return floor ? floor * learningRate + (1 - floor) * cosine : cosine
    }
    case 'exponential':
      return learningRate * schedule.gamma ** step
  }
}

/** The data a run trains on, resident on the backend (one upload, gathered per batch). */
export interface TrainingData {
  x: tf.Tensor2D
  y: tf.Tensor1D
}

export function uploadData(features: Float32Array, labels: Int32Array, featureDim: number): TrainingData {
  return {
    x: tf.tensor2d(features, [labels.length, featureDim]),
    y: tf.tensor1d(labels, 'int32'),
  }
}

export interface StepContext {
  epoch: number
  step: number
  rows: Int32Array
  learningRate: number
  /** θ_t, before this step's update. */
  params: tf.Tensor1D
  x: tf.Tensor2D
  y: tf.Tensor1D
}

export interface TrainProgress {
  epoch: number
  epochs: number
  step: number
  steps: number
  loss: number
  /** Accuracy on the latest batch, after its update. */
  accuracy: number
  etaMs: number
  /** A full-batch solver: epoch counts iterations, and epochs is an estimate of their total. */
  fullBatch?: boolean
}

export interface TrainHooks {
  onStep?: (context: StepContext) => void | Promise<void>
  onProgress?: (progress: TrainProgress) => void
  signal?: AbortSignal
  /** Override the batch plan (replayed retraining). */
  plan?: (epoch: number) => PlannedBatch[]
  /**
   * The entries that may train (non-zero = trainable), one per parameter. The gradient is
   * masked before the optimiser (so momentum and Adam state stay zero outside), and the final
   * update, after L2 and any projection, is taken only inside: every other entry keeps its
   * initial value bit for bit (localized unlearning, DEL).
   */
  mask?: Float32Array | Uint8Array
}

export interface TrainResult {
  params: Float32Array
  /** Mean training loss of each epoch (over the batches seen). */
  epochLoss: number[]
  steps: number
  /** Updates whose projection onto the ball actually moved θ. */
  projections: number
  /** lbfgs only. */
  convergence?: Convergence
}

const PROGRESS_EVERY_MS = 200

export async function train(
  spec: ModelSpec,
  data: TrainingData,
  rows: Int32Array,
  config: TrainConfig,
  init: Float32Array,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  if (init.length !== spec.size)
    throw new LetheError(
      'BAD_INPUT',
      `Initial parameters have ${init.length} values; the model has ${spec.size}.`,
    )
  if (rows.length === 0) throw new LetheError('BAD_INPUT', 'There are no rows to train on.')
  if (hooks.mask && hooks.mask.length !== spec.size)
    throw new LetheError(
      'BAD_INPUT',
      `The training mask has ${hooks.mask.length} entries; the model has ${spec.size}.`,
    )
  if (config.optimizer === 'lbfgs') return trainToOptimum(spec, data, rows, config, init, hooks)
  const plan = hooks.plan ?? ((epoch: number) => batchPlan(rows, config, epoch))
  const stepsPerEpoch = Math.ceil(rows.length / config.batchSize)
  const totalSteps = stepsPerEpoch * config.epochs
  const initial = tf.tensor1d(init)
  const params = tf.variable(initial, false)
  initial.dispose()
  const first = tf.zeros([spec.size])
  const second = tf.zeros([spec.size])
  const state = { m: tf.variable(first, false), v: tf.variable(second, false) }
  first.dispose()
  second.dispose()
  const mask = hooks.mask ? tf.tensor1d(Float32Array.from(hooks.mask, (m) => (m ? 1 : 0))) : null
  const trainable = mask ? tf.cast(mask, 'bool') : null
  const epochLoss: number[] = []
  let taken = 0
  let projections = 0
  let lastReport = 0
  let accuracy = Number.NaN
  const started = performance.now()
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      let sum = tf.scalar(0)
      let batches = 0
      for (const batch of plan(epoch)) {
        if (hooks.signal?.aborted) throw new LetheError('CANCELLED', 'Training was cancelled.')
        const lr = learningRateAt(config, batch.step, totalSteps, stepsPerEpoch)
        const index = tf.tensor1d(batch.rows, 'int32')
        const x = tf.gather(data.x, index) as tf.Tensor2D
        const y = tf.gather(data.y, index) as tf.Tensor1D
        index.dispose()
        if (hooks.onStep)
          await hooks.onStep({ epoch, step: batch.step, rows: batch.rows, learningRate: lr, params, x, y })
        const { loss, grad: full } = lossAndGradient(spec, params, x, y, config.l2)
        const grad = mask ? (tf.mul(full, mask) as tf.Tensor1D) : full
        if (mask) full.dispose()
        let next = tf.tidy(() => update(config, params, grad, state, lr, taken + 1))
        grad.dispose()
        const radius = config.projectRadius
        if (radius !== null) {
          const norm = tf.tidy(() => tf.norm(next).dataSync()[0] as number)
          if (norm > radius) {
            projections += 1
            const projected = tf.mul(next, radius / norm) as tf.Tensor1D
            next.dispose()
            next = projected
          }
        }
        if (trainable) {
          const kept = tf.where(trainable, next, params) as tf.Tensor1D
          next.dispose()
          next = kept
        }
        params.assign(next)
        next.dispose()
        const total = tf.add(sum, loss) as tf.Scalar
        sum.dispose()
        sum = total
        batches += 1
        taken += 1
        const now = performance.now()
        if (hooks.onProgress && now - lastReport > PROGRESS_EVERY_MS) {
          lastReport = now
          const elapsed = now - started
          const correct = tf.tidy(() =>
            tf.mean(tf.cast(tf.equal(tf.argMax(logits(spec, params, x), 1), y), 'float32')),
          )
          accuracy = (await correct.data())[0] as number
          correct.dispose()
          hooks.onProgress({
            epoch,
            epochs: config.epochs,
            step: taken,
            steps: totalSteps,
            loss: (await loss.data())[0] as number,
            accuracy,
            etaMs: (elapsed / taken) * (totalSteps - taken),
          })
          await new Promise((resolve) => setImmediate(resolve)) // let a cancel message in
        }
        x.dispose()
        y.dispose()
        loss.dispose()
      }
      epochLoss.push(batches ? ((await sum.data())[0] as number) / batches : Number.NaN)
      sum.dispose()
    }
    hooks.onProgress?.({
      epoch: config.epochs - 1,
      epochs: config.epochs,
      step: taken,
      steps: totalSteps,
      loss: epochLoss.at(-1) ?? Number.NaN,
      accuracy,
      etaMs: 0,
    })
    return { params: (await params.data()) as Float32Array, epochLoss, steps: taken, projections }
  } finally {
    params.dispose()
    state.m.dispose()
    state.v.dispose()
    mask?.dispose()
    trainable?.dispose()
  }
}

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }

/** One optimiser step on the flat vector; `t` counts steps from 1 (Adam's bias correction). */
function update(
  config: TrainConfig,
  params: tf.Tensor1D,
  grad: tf.Tensor1D,
  state: { m: tf.Variable; v: tf.Variable },
  lr: number,
  t: number,
): tf.Tensor1D {
  if (config.optimizer === 'adam') {
    state.m.assign(tf.add(tf.mul(ADAM.beta1, state.m), tf.mul(1 - ADAM.beta1, grad)))
    state.v.assign(tf.add(tf.mul(ADAM.beta2, state.v), tf.mul(1 - ADAM.beta2, tf.square(grad))))
    const mHat = tf.div(state.m, 1 - ADAM.beta1 ** t)
    const vHat = tf.div(state.v, 1 - ADAM.beta2 ** t)
    return tf.sub(params, tf.mul(lr, tf.div(mHat, tf.add(tf.sqrt(vHat), ADAM.epsilon))))
  }
  if (config.momentum > 0) {
    state.m.assign(tf.add(tf.mul(config.momentum, state.m), grad))
    return tf.sub(params, tf.mul(lr, state.m))
  }
  return tf.sub(params, tf.mul(lr, grad))
}

/** The full-batch solver behind optimizer 'lbfgs': no trajectory, so no step hooks, plan or mask. */
async function trainToOptimum(
  spec: ModelSpec,
  data: TrainingData,
  rows: Int32Array,
  config: TrainConfig,
  init: Float32Array,
  hooks: TrainHooks,
): Promise<TrainResult> {
  checkConvexRecipe(spec, config.l2)
  if (hooks.onStep || hooks.plan || hooks.mask)
    throw new LetheError(
      'BAD_INPUT',
      "Optimizer 'lbfgs' solves for the optimum over all rows at once: it has no mini-batch steps to record, replay or mask. Choose optimizer 'sgd' or 'adam' for this.",
    )
  const { params, convergence } = await solveLogreg(
    {
      features: (await data.x.data()) as Float32Array,
      labels: (await data.y.data()) as Int32Array,
      rows,
      inputs: spec.inputs,
      classes: spec.classes,
      l2: config.l2,
    },
    init,
    { tolerance: config.tolerance, signal: hooks.signal, onProgress: hooks.onProgress },
  )
  const stored = Float32Array.from(params)
  const radius = config.projectRadius
  if (radius !== null) {
    // The optimum is unconstrained: a ball that excludes it would make it another problem.
    const norm = Math.sqrt(stored.reduce((sum, v) => sum + v * v, 0))
    if (norm > radius)
      throw new LetheError(
        'BAD_INPUT',
        `The optimum lies outside the projection ball: ‖θ*‖ = ${norm.toFixed(4)} > projectRadius ${radius}. Raise projectRadius or l2.`,
      )
  }
  return {
    params: stored,
    epochLoss: [convergence.loss],
    steps: convergence.iterations,
    projections: 0,
    convergence,
  }
}
