/**
 * The baselines every comparison needs: exact retraining (replayed or independent),
 * fine-tuning on the retained rows, and gradient ascent on the forget rows (NegGrad and
 * NegGrad+), stopped on a budget.
 */
import { LetheError } from '../../contract'
import type { UnlearnOptions } from '../../contract/engine'
import { evaluateRows } from '../metrics'
import { lossAndGradient } from '../models/forward'
import { initParams } from '../models/spec'
import { tf } from '../tf'
import { batchPlan, replayPlan, train, type TrainConfig } from '../train'
import { Random } from '../random'
import type { Guarantee, UnlearnContext, UnlearnOutcome, UnlearningMethod } from './method'

export type RetrainMode = NonNullable<UnlearnOptions['retrain']['mode']>

/** What a retrained model is: the optimum itself (a convex recipe), or one run of SGD/Adam. */
export type RetrainReference = 'optimum' | 'replayed trajectory' | 'independent run'

/**
 * Training again without the forget rows. A convex recipe ('lbfgs') is solved to its unique
 * optimum on the retained rows, in both modes: replay starts from the original's parameters
 * (closer, so faster), independent from the initialisation. For SGD or Adam, replay keeps the
 * seed, the initialisation, the batch order and the learning-rate schedule, with the forget
 * rows taken out of each batch: the reference that a recorded run can be compared with
 * parameter by parameter, a trajectory, not an optimum. Independent draws a fresh
 * initialisation and shuffle: one more sample of the retrained model, whose distance to
 * another is the noise floor. An imported model has no recorded run, so both modes train it
 * afresh with the recipe stated at import, and the details say the recipe was Lethe's.
 */
export async function retrain(context: UnlearnContext, mode: RetrainMode, draw = 1): Promise<UnlearnOutcome> {
  const { spec, data, original, trainRows, forgetRows, retainRows } = context
  const recorded = original.manifest.training
  const forget = new Set(forgetRows)
  // An imported model's recipe is Lethe's, stated at import: the original's is not in the file, and
  // there is no trajectory of it to replay.
  const recipe = original.manifest.origin ? { recipe: 'lethe' as const } : {}
  if (recorded.optimizer === 'lbfgs') {
    const start = mode === 'replay' ? original.params : initParams(spec, recorded.initSeed)
    const result = await train(spec, data, retainRows, recorded, start, {
      signal: context.signal,
      onProgress: context.onProgress,
    })
    const reference: RetrainReference = 'optimum'
    return { params: result.params, details: { mode, reference, convergence: result.convergence, ...recipe } }
  }
  if (mode === 'replay' && !original.manifest.origin) {
    const result = await train(spec, data, trainRows, recorded, initParams(spec, recorded.initSeed), {
      plan: replayPlan(trainRows, forget, recorded),
      signal: context.signal,
      onProgress: context.onProgress,
    })
    const reference: RetrainReference = 'replayed trajectory'
    return {
      params: result.params,
      details: { mode, reference, steps: result.steps, epochs: recorded.epochs },
    }
  }
  const fresh: TrainConfig = { ...recorded, seed: recorded.seed + 7919 * draw }
  const result = await train(
    spec,
    data,
    retainRows,
    fresh,
    initParams(spec, recorded.initSeed + 7919 * draw),
    {
      signal: context.signal,
      onProgress: context.onProgress,
    },
  )
  const reference: RetrainReference = 'independent run'
  return {
    params: result.params,
    details: { mode, reference, steps: result.steps, epochs: fresh.epochs, seed: fresh.seed, ...recipe },
  }
}

export const retrainMethod: UnlearningMethod<UnlearnOptions['retrain']> = {
  name: 'retrain',
  label: 'Exact retraining',
  description:
    'Trains the model again from scratch on the retained rows only. The result never saw the forgotten rows, so the removal is exact; it costs a full training run. A logistic regression trained with L-BFGS is solved to its unique optimum, so the result is the retrained model itself; for SGD or Adam it is the original run replayed without the rows, one trajectory rather than the optimum.',
  guarantee: (): Guarantee => ({
    kind: 'exact',
    strength: 'exact',
    meaning:
      'The new model was trained without the removed rows: it is what the model would have been had they never been given.',
  }),
  unlearn: (context, options) => retrain(context, options.mode ?? 'replay'),
}

/** Continues training the original on the retained rows: SGD, momentum 0.9, cosine schedule, no weight decay. */
export const finetuneMethod: UnlearningMethod<UnlearnOptions['finetune']> = {
  name: 'finetune',
  label: 'Fine-tuning on the retained data',
  description:
    'Continues training the original model on the retained rows only, so the influence of the forgotten rows fades. Cheap, but nothing bounds what remains.',
  guarantee: (): Guarantee => ({
    kind: 'empirical',
    strength: 'none',
    meaning:
      'No formal guarantee: the removal is measured (forget accuracy, membership inference), not proven.',
  }),
  async unlearn(context, options) {
    const recorded = context.original.manifest.training
    const config: TrainConfig = {
      ...recorded,
      optimizer: 'sgd',
      momentum: 0.9,
      l2: 0,
      schedule: { kind: 'cosine' },
      epochs: options.epochs ?? Math.max(1, Math.round(recorded.epochs / 4)),
      learningRate: options.learningRate ?? recorded.learningRate,
      seed: recorded.seed + 1,
      projectRadius: null,
    }
    const result = await train(
      context.spec,
      context.data,
      context.retainRows,
      config,
      context.original.params,
      {
        signal: context.signal,
        onProgress: context.onProgress,
      },
    )
    return { params: result.params, details: { epochs: config.epochs, steps: result.steps } }
  },
}

/**
 * Gradient ascent on the forget rows (NegGrad), or NegGrad+ (Kurmanji et al. 2023):
 * minimise α·CE(retain) − (1 − α)·CE(forget) over paired batches. Ascent alone wrecks a
 * model quickly, so it stops on a budget: a number of epochs, or as soon as forget accuracy
 * has fallen to test accuracy.
 */
export const negGradMethod: UnlearningMethod<UnlearnOptions['neggrad']> = {
  name: 'neggrad',
  label: 'Gradient ascent (NegGrad / NegGrad+)',
  description:
    'Pushes the model away from the forgotten rows by gradient ascent on their loss, optionally balanced by descent on retained rows (NegGrad+). Fast; it can damage accuracy, so it stops on a budget.',
  guarantee: (): Guarantee => ({
    kind: 'empirical',
    strength: 'none',
    meaning:
      'No formal guarantee: the removal is measured (forget accuracy, membership inference), not proven.',
  }),
  async unlearn(context, options) {
    const { spec, data, original, forgetRows, retainRows, dataset } = context
    if (forgetRows.length === 0) throw new LetheError('BAD_INPUT', 'There are no rows to forget.')
    const recorded = original.manifest.training
    const alpha = options.alpha ?? 1
    const epochs = options.epochs ?? 2
    const lr = options.learningRate ?? 0.1 * recorded.learningRate
    const batchSize = Math.min(recorded.batchSize, 64)
    const testAccuracy =
      options.stopAtTestAccuracy === false
        ? -1
        : (await evaluateRows(spec, original.params, data, dataset.test)).accuracy
    const params = tf.variable(tf.tensor1d(original.params), false)
    const random = new Random(recorded.seed + 2)
    let steps = 0
    let stoppedBy = 'budget'
    try {
      for (let epoch = 0; epoch < epochs && stoppedBy === 'budget'; epoch++) {
        const forgetBatches = batchPlan(
          forgetRows,
          { ...recorded, batchSize, seed: recorded.seed + epoch },
          0,
        )
        for (const batch of forgetBatches) {
          if (context.signal?.aborted) throw new LetheError('CANCELLED', 'Unlearning was cancelled.')
          const ascent = gradientOn(context, params, batch.rows)
          let direction = tf.neg(ascent) as tf.Tensor1D
          ascent.dispose()
          if (alpha < 1) {
            const retainBatch = Int32Array.from(
              { length: batchSize },
              () => retainRows[random.int(retainRows.length)] as number,
            )
            const descent = gradientOn(context, params, retainBatch)
            const mixed = tf.tidy(() =>
              tf.add(tf.mul(alpha, descent), tf.mul(1 - alpha, direction)),
            ) as tf.Tensor1D
            descent.dispose()
            direction.dispose()
            direction = mixed
          }
          const next = tf.tidy(() => tf.sub(params, tf.mul(lr, direction)))
          direction.dispose()
          params.assign(next as tf.Tensor1D)
          next.dispose()
          steps += 1
        }
        context.onProgress?.({
          epoch,
          epochs,
          step: steps,
          steps: epochs * forgetBatches.length,
          loss: Number.NaN,
          accuracy: Number.NaN,
          etaMs: 0,
        })
        if (testAccuracy >= 0) {
          const now = await evaluateRows(spec, (await params.data()) as Float32Array, data, forgetRows)
          if (now.accuracy <= testAccuracy) stoppedBy = 'forget accuracy reached test accuracy'
        }
      }
      return {
        params: (await params.data()) as Float32Array,
        details: { alpha, steps, stoppedBy, learningRate: lr },
      }
    } finally {
      params.dispose()
    }
  },
}

/** Gradient of the mean cross-entropy (no L2) on some rows. */
function gradientOn(context: UnlearnContext, params: tf.Tensor1D, rows: Int32Array): tf.Tensor1D {
  return tf.tidy(() => {
    const index = tf.tensor1d(rows, 'int32')
    const x = tf.gather(context.data.x, index) as tf.Tensor2D
    const y = tf.gather(context.data.y, index) as tf.Tensor1D
    const { loss, grad } = lossAndGradient(context.spec, params, x, y, 0)
    loss.dispose()
    return grad
  })
}

export const baselineMethods = [retrainMethod, finetuneMethod, negGradMethod]
