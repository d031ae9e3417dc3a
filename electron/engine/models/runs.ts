/**
 * The record of an unlearning run, kept beside the model version it produced: what was removed,
 * by which method, with which guarantee, and the verification report. Read by the main process
 * (the run view, certificates) without loading the engine.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { LetheError } from '../../contract'
import { withStrength } from '../../contract/guarantee'
import { parseStored } from '../../ledger/durable'
import { folders } from '../folders'
import type { Guarantee } from '../methods/method'
import type { RetrainMode } from '../methods/baselines'
import type { VerificationReport } from '../verify'
import type { ModelManifest } from './store'

export const UNLEARNING_FILE = 'unlearning.json'

/** What an unlearning run produced and measured, kept beside the new model version. */
export interface UnlearnResult {
  model: ModelManifest
  parent: { id: string; sha256: string }
  /** The training rows this run removed (the request's own, not earlier requests'). */
  forgottenRows: number[]
  method: string
  guarantee: Guarantee
  forgotten: number
  /** The subjects' rows that were held out for testing: never trained on, nothing to unlearn. */
  heldOut: number
  report: VerificationReport
  /** recipe 'lethe': an imported model, retrained with the recipe stated at import (absent in older records: 'original'). */
  reference: { mode: RetrainMode; ms: number; recipe?: 'original' | 'lethe' } | null
  timings: { unlearnMs: number }
  details: Record<string, unknown>
  /** SHA-256 of the noiseless estimate kept beside a noisy certified release (never published). */
  noiselessSha256?: string
}

/** The evidence of the unlearning run that produced a model version. */
export async function unlearningOf(dataDir: string, modelId: string): Promise<UnlearnResult> {
  const file = path.join(folders(dataDir).models, path.basename(modelId), UNLEARNING_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    throw new LetheError(
      'NOT_FOUND',
      `${modelId} was not produced by an unlearning run in Lethe, so there is no evidence to certify.`,
    )
  }
  const record = parseStored<UnlearnResult>(file, text)
  // Records written before guarantees were graded: their kind and ε give the grade.
  return { ...record, guarantee: withStrength(record.guarantee) }
}
