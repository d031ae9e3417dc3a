/**
 * The accuracy floor of a noisy release (HF, the certified Newton step): Lethe publishes only
 * when the test accuracy the noise leaves reaches it. Two gates: first the mean of noise draws
 * that are never published (would this release typically be useful?), then the draw actually
 * released. Refusing that draw is post-processing of it, so the (ε, δ) guarantee stands, and no
 * model below the floor is ever published. Its facts go into the run's details (`floorCheck`),
 * where certificates read them.
 */
import { LetheError } from '../../contract'
import { DEFAULT_ACCURACY_DROP } from '../../contract/engine'
import type { Dataset } from '../data/dataset'
import { evaluateRows } from '../metrics'
import type { ModelSpec } from '../models/spec'
import type { TrainingData } from '../train'
import { topUpNoise } from './lineage'

/** Unpublished noise draws the accuracy floor is judged on. */
export const FLOOR_PROBES = 3

/** What the floor check measured, kept in the run's details as `floorCheck`. */
export interface FloorCheck {
  /** The lowest test accuracy Lethe publishes at. */
  floor: number
  trainedAccuracy: number
  /** Test accuracy of each unpublished draw, and their mean. */
  probes: number[]
  expectedAccuracy: number
  /** Test accuracy of the published draw. */
  releasedAccuracy: number
}

/** The floor asked for, or by default the trained model's test accuracy less 0.05. */
export async function accuracyFloor(
  spec: ModelSpec,
  data: TrainingData,
  dataset: Pick<Dataset, 'test'>,
  trained: Float32Array,
  asked: number | undefined,
): Promise<{ floor: number; trainedAccuracy: number }> {
  const trainedAccuracy = (await evaluateRows(spec, trained, data, dataset.test)).accuracy
  return { floor: asked ?? trainedAccuracy - DEFAULT_ACCURACY_DROP, trainedAccuracy }
}

export interface FloorRelease {
  spec: ModelSpec
  data: TrainingData
  dataset: Pick<Dataset, 'test'>
  /** The parameters before this release's noise, and the noise: N(0, σ² − σ_before²) on top. */
  estimate: Float32Array
  sigma: number
  sigmaBefore: number
  /** From {@link accuracyFloor}. */
  floor: { floor: number; trainedAccuracy: number }
  /** How the refusal names the release and its noise, and what to change. */
  release: string
  noise: string
  advice: string
}

/**
 * Adds the release's noise to `params` (N(0, σ² − σ_before²) on top of the parent's) once both
 * gates pass; refuses (CONFLICT, with every number, nothing changed on disk) when either fails.
 */
export async function addNoiseAboveFloor(
  r: FloorRelease,
  params: Float32Array,
): Promise<{ topUp: number; floorCheck: FloorCheck }> {
  const { floor, trainedAccuracy } = r.floor
  const accuracyOf = async (p: Float32Array) =>
    (await evaluateRows(r.spec, p, r.data, r.dataset.test)).accuracy
  const probes: number[] = []
  for (let i = 0; i < FLOOR_PROBES; i++) {
    const probe = Float32Array.from(r.estimate)
    topUpNoise(probe, r.sigma, r.sigmaBefore)
    probes.push(await accuracyOf(probe))
  }
  const expectedAccuracy = probes.reduce((a, b) => a + b, 0) / probes.length
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`
  const numbers = { expectedAccuracy, probes, accuracyFloor: floor, trainedAccuracy, sigma: r.sigma }
  if (expectedAccuracy < floor)
    throw new LetheError(
      'CONFLICT',
      `The ${r.release} would be useless: the noise it needs (${r.noise}) brings test accuracy to ${pct(expectedAccuracy)} on average over ${FLOOR_PROBES} draws it did not publish (${probes.map(pct).join(', ')}), below the floor of ${pct(floor)} (trained: ${pct(trainedAccuracy)}). ${r.advice}`,
      numbers,
    )
  const released = Float32Array.from(params)
  const topUp = topUpNoise(released, r.sigma, r.sigmaBefore)
  const releasedAccuracy = await accuracyOf(released)
  if (releasedAccuracy < floor)
    throw new LetheError(
      'CONFLICT',
      `The noise drawn for the ${r.release} (${r.noise}) brought test accuracy to ${pct(releasedAccuracy)}, below the floor of ${pct(floor)} (trained: ${pct(trainedAccuracy)}; ${FLOOR_PROBES} unpublished draws averaged ${pct(expectedAccuracy)}). The draw was discarded and nothing was published. ${r.advice}`,
      { ...numbers, releasedAccuracy },
    )
  params.set(released)
  return { topUp, floorCheck: { floor, trainedAccuracy, probes, expectedAccuracy, releasedAccuracy } }
}
