/**
 * The chain of releases a certified method builds on: every version since the trained one must
 * come from the same method (another method's change is not covered by its bound), each
 * release's record says what the next one inherits (rows removed, the bound, the noise), and
 * each release tops the noise up to what its own bound needs.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { z } from 'zod'
import { LetheError } from '../../contract'
import type { Certification } from '../../contract/engine'
import { parseStored } from '../../ledger/durable'
import { UNLEARNING_FILE, type UnlearnResult } from '../models/runs'
import { gaussianNoise } from '../privacy'
import { loadNoiseless, readManifest, type ModelManifest } from '../models/store'

/**
 * The trained version at the root of `model`'s chain, refusing a step made by another method;
 * `consequence` finishes the refusal (why that matters, and what to do).
 */
export async function chainRoot(
  modelsDir: string,
  model: ModelManifest,
  method: { name: string; label: string },
  consequence: string,
): Promise<ModelManifest> {
  let current = model
  while (current.parentId) {
    if (current.method !== method.name)
      throw new LetheError(
        'CONFLICT',
        `${current.id} was changed by ${current.method}, not by ${method.label}. ${consequence}`,
      )
    current = await readManifest(modelsDir, current.parentId)
  }
  return current
}

/** The run record of the release `model`, or null for a trained version. */
export async function releaseRecord(modelsDir: string, model: ModelManifest): Promise<UnlearnResult | null> {
  if (!model.parentId) return null
  const file = path.join(modelsDir, model.id, UNLEARNING_FILE)
  if (!existsSync(file))
    throw new LetheError('CORRUPT', `${model.id} has no record of the run that produced it (${file}).`)
  return parseStored<UnlearnResult>(file, await readFile(file, 'utf8'))
}

/** The certification a release's run record carries. */
export function certificationIn(record: UnlearnResult): z.infer<typeof Certification> {
  const certification = record.details.certification as z.infer<typeof Certification> | undefined
  if (!certification)
    throw new LetheError('CORRUPT', `The record of ${record.model.id} carries no certification.`)
  return certification
}

/** The certification the release `model` carries, or null for a trained version (nothing removed, no noise). */
export async function releaseCertification(
  modelsDir: string,
  model: ModelManifest,
): Promise<z.infer<typeof Certification> | null> {
  const record = await releaseRecord(modelsDir, model)
  return record && certificationIn(record)
}

/**
 * The parameters the next request in a chain starts from: the noiseless estimate kept beside a
 * noisy release (`record`, the version's run record), or the version's own parameters (a trained
 * version, or a release without noise).
 */
export async function chainState(
  modelsDir: string,
  model: { manifest: ModelManifest; params: Float32Array },
  record: UnlearnResult | null,
): Promise<Float32Array> {
  if (!record?.noiselessSha256) return model.params
  return loadNoiseless(modelsDir, model.manifest, record.noiselessSha256)
}

/**
 * Adds N(0, σ² − σ_before²) to `params`, so that with the noise the parent already carries the
 * release holds N(0, σ²) in all (never a noiseless intermediate); returns the top-up's σ.
 */
export function topUpNoise(params: Float32Array, sigma: number, sigmaBefore: number): number {
  const topUp = Math.sqrt(Math.max(0, sigma ** 2 - sigmaBefore ** 2))
  if (topUp > 0) {
    const draw = gaussianNoise(params.length, topUp)
    for (let j = 0; j < params.length; j++) params[j] = (params[j] as number) + (draw[j] as number)
  }
  return topUp
}
