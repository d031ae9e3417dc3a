/**
 * The one interface every unlearning method implements. A method gets the original model,
 * the data and the rows to forget, and returns new parameters; what it promises is stated
 * as a guarantee, in words a compliance officer can put in a certificate.
 */
import type { z } from 'zod'
import type { Guarantee as GuaranteeSchema, UnlearningMethodName } from '../../contract/engine'
import type { Dataset } from '../data/dataset'
import type { ModelManifest, Preparation } from '../models/store'
import type { ModelSpec } from '../models/spec'
import type { TrainConfig, TrainHooks, TrainingData } from '../train'

/** What a release promises, graded (contract/guarantee.ts). */
export type Guarantee = z.output<typeof GuaranteeSchema>

export interface UnlearnContext {
  spec: ModelSpec
  dataset: Dataset
  data: TrainingData
  original: { manifest: ModelManifest; params: Float32Array }
  /** The rows the original was trained on. */
  trainRows: Int32Array
  /** Training rows to forget, and the rest. */
  forgetRows: Int32Array
  retainRows: Int32Array
  signal?: AbortSignal
  onProgress?: TrainHooks['onProgress']
  /** The models folder, for methods that read what was recorded beside a version (HF statistics). */
  modelsDir?: string
}

/** The context for forgetting `forget` from a model trained on the dataset's training split. */
export function unlearnContext(
  base: Pick<
    UnlearnContext,
    'spec' | 'dataset' | 'data' | 'original' | 'signal' | 'onProgress' | 'modelsDir'
  >,
  forget: Iterable<number>,
): UnlearnContext {
  const forgetSet = new Set(forget)
  const trainRows = base.dataset.train
  return {
    ...base,
    trainRows,
    forgetRows: Int32Array.from([...forgetSet].sort((a, b) => a - b)),
    retainRows: trainRows.filter((r) => !forgetSet.has(r)),
  }
}

export interface UnlearnOutcome {
  params: Float32Array
  /** Method-specific facts for the report (epochs run, steps, budget used, …). */
  details: Record<string, unknown>
  /** The guarantee as this run established it (constants, noise), when it depends on more than the options. */
  guarantee?: Guarantee
  /** The estimate before its release noise, kept privately for the next request in the chain. */
  noiseless?: Float32Array
}

/** What a train-time recording leaves beside the trained version. */
export type PreparationRecord = Omit<Preparation, 'trainMs'>

/** A recording in progress: hooks for `train`, and how to store what they gathered. */
export interface Recorder {
  hooks: Pick<TrainHooks, 'onStep'>
  /** Writes the recording into the trained version's folder, bound to its parameters. */
  save(dir: string, model: { id: string; paramsSha256: string }): Promise<PreparationRecord>
}

export interface UnlearningMethod<Options = Record<string, unknown>> {
  name: UnlearningMethodName
  label: string
  /** One paragraph for the run view: what it does, what it costs. */
  description: string
  guarantee(options: Options): Guarantee
  /**
   * Train-time recording, for methods that need statistics gathered while the model learns
   * (HF's per-sample vectors). Refuses a training configuration the method cannot work with.
   * Baselines need none.
   */
  prepare?(
    spec: ModelSpec,
    config: TrainConfig,
    rows: Int32Array,
    options: { statisticsDtype: Preparation['dtype'] },
  ): Recorder
  unlearn(context: UnlearnContext, options: Options): Promise<UnlearnOutcome>
}
