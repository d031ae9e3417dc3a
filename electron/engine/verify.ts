/**
 * The verification report: forget, retain and test accuracy and loss, the membership-
 * inference attack on the forget rows, for the original, the unlearned and (when run) the
 * exactly retrained model, which is the reference every number should be read against.
 */
import type { Dataset } from './data/dataset'
import {
  agreement,
  evaluateRows,
  l2Distance,
  meanKl,
  membershipInference,
  type MiaResult,
  type RowsEvaluation,
} from './metrics'
import type { ModelSpec } from './models/spec'
import type { TrainingData } from './train'

export interface SetScore {
  rows: number
  accuracy: number
  loss: number
}

export interface ModelScores {
  forget: SetScore
  retain: SetScore
  test: SetScore
  mia: MiaResult
}

export interface VerificationReport {
  original: ModelScores
  unlearned: ModelScores
  reference: ModelScores | null
  distance: {
    /** ‖θ_original − θ_reference‖₂: how far the original was from what the law asks for. */
    originalToReference: number | null
    /** ‖θ_unlearned − θ_reference‖₂: how far the result still is. */
    unlearnedToReference: number | null
    /** Distance between two independent retrains: below this, differences are noise. */
    noiseFloor: number | null
  }
  /** Share of test and forget rows on which the unlearned and the reference model agree. */
  agreementWithReference: { test: number; forget: number } | null
  /** Mean KL(reference ‖ unlearned) of the predicted distributions on the test rows. */
  klToReference: number | null
}

interface Evaluated {
  scores: ModelScores
  test: RowsEvaluation
  forget: RowsEvaluation
}

const score = (e: RowsEvaluation): SetScore => ({ rows: e.rows, accuracy: e.accuracy, loss: e.loss })

export async function scoreModel(
  spec: ModelSpec,
  params: Float32Array,
  data: TrainingData,
  dataset: Dataset,
  forgetRows: Int32Array,
  retainRows: Int32Array,
): Promise<Evaluated> {
  const forget = await evaluateRows(spec, params, data, forgetRows)
  const retain = await evaluateRows(spec, params, data, retainRows)
  const test = await evaluateRows(spec, params, data, dataset.test)
  const mia = membershipInference(forget.losses, test.losses)
  return { scores: { forget: score(forget), retain: score(retain), test: score(test), mia }, test, forget }
}

export async function verificationReport(
  spec: ModelSpec,
  data: TrainingData,
  dataset: Dataset,
  rows: { forget: Int32Array; retain: Int32Array },
  models: {
    original: Float32Array
    unlearned: Float32Array
    reference?: Float32Array
    /** Two independent retrains: their distance is the noise floor. */
    independentRetrains?: [Float32Array, Float32Array]
  },
): Promise<VerificationReport> {
  const run = (params: Float32Array) => scoreModel(spec, params, data, dataset, rows.forget, rows.retain)
  const original = await run(models.original)
  const unlearned = await run(models.unlearned)
  const reference = models.reference ? await run(models.reference) : null
  return {
    original: original.scores,
    unlearned: unlearned.scores,
    reference: reference?.scores ?? null,
    distance: {
      originalToReference: models.reference ? l2Distance(models.original, models.reference) : null,
      unlearnedToReference: models.reference ? l2Distance(models.unlearned, models.reference) : null,
      noiseFloor: models.independentRetrains
        ? l2Distance(models.independentRetrains[0], models.independentRetrains[1])
        : null,
    },
    agreementWithReference: reference
      ? {
          test: agreement(unlearned.test, reference.test),
          forget: agreement(unlearned.forget, reference.forget),
        }
      : null,
    klToReference: reference ? meanKl(reference.test, unlearned.test, spec.classes) : null,
  }
}
