/**
 * Certified unlearning (HF and the certified Newton step) as people type and read it: ε a plain
 * number, δ in scientific notation (1e-5), each checked against the bounds the settings accept;
 * and what a certified run's record carries.
 */
import type { z } from 'zod'
import type { Certification as CertificationSchema } from '@contract/engine'
import type { RunRecord } from '../../stores/runs'

export type Certification = z.infer<typeof CertificationSchema>
export type CertificationConstant = Certification['constants'][number]

/** Bounds the settings accept: ε in (0, 100], δ in (0, 0.1). */
export const EPSILON_MAX = 100
export const DELTA_MAX = 0.1

type Parsed = { value: number; error: null } | { value: null; error: string }

const number = (text: string) => {
  const trimmed = text.trim()
  return trimmed === '' ? NaN : Number(trimmed)
}

export function parseEpsilon(text: string): Parsed {
  const value = number(text)
  if (!Number.isFinite(value)) return { value: null, error: 'ε is a number, such as 1 or 0.5.' }
  if (value <= 0 || value > EPSILON_MAX) return { value: null, error: 'ε must be above 0 and at most 100.' }
  return { value, error: null }
}

export function parseDelta(text: string): Parsed {
  const value = number(text)
  if (!Number.isFinite(value)) return { value: null, error: 'δ is a number, such as 1e-5 or 0.00001.' }
  if (value <= 0 || value >= DELTA_MAX) return { value: null, error: 'δ must be above 0 and below 0.1.' }
  return { value, error: null }
}

/** ε as written: 1, 0.5, 2.25. */
export const formatEpsilon = (epsilon: number) => String(Number(epsilon.toPrecision(4)))

/** δ in scientific notation when small (1e-5, 2.5e-6), plainly otherwise (0.01). */
export const formatDelta = (delta: number) =>
  delta < 0.001 ? Number(delta.toPrecision(3)).toExponential() : String(Number(delta.toPrecision(3)))

/** A measured quantity to three significant digits, in scientific notation when far from 1. */
export function formatQuantity(x: number): string {
  if (x === 0) return '0'
  if (!Number.isFinite(x)) return String(x)
  const magnitude = Math.abs(x)
  if (magnitude >= 1e-3 && magnitude < 1e5) return String(Number(x.toPrecision(3)))
  return x.toExponential(2).replace('e+', 'e')
}

/** Where a constant's value came from, in words and as a tag colour. */
export const provenance = {
  set: { text: 'set', type: 'primary', about: 'chosen: a training setting or a policy value' },
  measured: { text: 'measured', type: 'success', about: 'computed exactly from this model and its data' },
  estimated: { text: 'estimated', type: 'warning', about: 'estimated numerically; not a proven bound' },
  assumed: { text: 'assumed', type: 'danger', about: 'taken as true without a check' },
} as const

/** The methods whose runs carry a certification, and take (ε, δ) and a noise switch. */
export const certifiedMethods = ['hf', 'certified'] as const
export type CertifiedMethod = (typeof certifiedMethods)[number]
export const isCertifiedMethod = (method: string): method is CertifiedMethod =>
  (certifiedMethods as readonly string[]).includes(method)

/**
 * An accuracy floor typed as a percent ("90", "90.5"), as the fraction the engine takes; empty is
 * null (the engine's default: the trained model's accuracy minus 5 points).
 */
export function parseAccuracyFloor(text: string): { value: number | null; error: string | null } {
  if (text.trim() === '') return { value: null, error: null }
  const value = number(text)
  if (!Number.isFinite(value) || value < 0 || value > 100)
    return { value: null, error: 'A percentage from 0 to 100, or empty for the default.' }
  return { value: value / 100, error: null }
}

/** What the certified Newton step stored beside its certification. */
export interface NewtonStep {
  convergence: { case: 'converged' | 'nonconvergent'; trainedGradientNorm: number } | null
  /** How (H + λI)⁻¹g was applied. */
  solver: 'exact' | 'lissa'
  /** ‖g‖ on the retained rows and the step ‖Δθ‖. */
  gradientNorm: number | null
  stepNorm: number | null
  lissa: {
    scale: number
    depth: number
    repetitions: number
    batchSize: number
    /** ‖h‖ along the first repetition of the recursion. */
    trace: { step: number; norm: number }[]
  } | null
  /** The exact solve: the Hessian built analytically (logreg) or from d HVPs, then factored. */
  exact: { hessian: 'analytic' | 'hvp'; buildMs: number; factorMs: number } | null
  /** The published model's test accuracy (a fraction). */
  testAccuracy: number | null
  /** The floor's check: test accuracy of unpublished noise draws, and their mean. */
  floorCheck: { probes: number[]; expectedAccuracy: number } | null
}

/** What a certified run stored beside its certification: HF's statistics, or the Newton step's LiSSA. */
export interface CertifiedRun {
  certification: Certification
  /** HF: the statistics it read. */
  statistics: {
    bytes: number
    dtype: string
    rows: number
    dim: number
    createdAt: string
    recordMs: number
  } | null
  /** applyMs: the whole deletion; readMs: HF reading the rows' vectors; solveMs: the Newton step's solve. */
  timings: { applyMs: number; readMs: number | null; solveMs: number | null } | null
  /** The certified Newton step's own details; null for HF. */
  newton: NewtonStep | null
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null
const numbers = (x: Record<string, unknown>, keys: string[]) => keys.every((k) => typeof x[k] === 'number')
const numberOrNull = (x: unknown) => (typeof x === 'number' ? x : null)

/** The certification a run's record carries in its details, or null for a method without one. */
export function certificationOf(record: RunRecord): CertifiedRun | null {
  const { certification, statistics, timings, convergence, lissa, exact, testAccuracy, floorCheck } =
    record.details
  // Records made before the exact solver keep ‖g‖ and ‖Δθ‖ inside their LiSSA details.
  const norms = isObject(lissa) ? { ...lissa, ...record.details } : record.details
  // The engine writes these to the contract's schema; a record from an older build may lack parts.
  if (
    !isObject(certification) ||
    !numbers(certification, ['epsilon', 'delta', 'sensitivity', 'sigma', 'rowsDeleted', 'capacityRows']) ||
    !Array.isArray(certification.constants) ||
    !Array.isArray(certification.assumptions)
  )
    return null
  return {
    certification: certification as unknown as Certification,
    statistics:
      isObject(statistics) && numbers(statistics, ['bytes', 'rows', 'dim', 'recordMs'])
        ? (statistics as unknown as CertifiedRun['statistics'])
        : null,
    timings:
      isObject(timings) && typeof timings.applyMs === 'number'
        ? {
            applyMs: timings.applyMs,
            readMs: numberOrNull(timings.readMs),
            // Records made before the exact solver call it lissaMs.
            solveMs: numberOrNull(timings.solveMs ?? timings.lissaMs),
          }
        : null,
    newton:
      record.method === 'certified'
        ? {
            convergence:
              isObject(convergence) && typeof convergence.trainedGradientNorm === 'number'
                ? (convergence as unknown as NonNullable<NewtonStep['convergence']>)
                : null,
            solver: isObject(exact) ? 'exact' : 'lissa',
            gradientNorm: numberOrNull(norms.gradientNorm),
            stepNorm: numberOrNull(norms.stepNorm),
            lissa:
              isObject(lissa) && numbers(lissa, ['scale', 'depth']) && Array.isArray(lissa.trace)
                ? (lissa as unknown as NonNullable<NewtonStep['lissa']>)
                : null,
            exact:
              isObject(exact) && numbers(exact, ['buildMs', 'factorMs'])
                ? (exact as unknown as NonNullable<NewtonStep['exact']>)
                : null,
            testAccuracy: numberOrNull(testAccuracy),
            floorCheck:
              isObject(floorCheck) &&
              typeof floorCheck.expectedAccuracy === 'number' &&
              Array.isArray(floorCheck.probes)
                ? (floorCheck as unknown as NonNullable<NewtonStep['floorCheck']>)
                : null,
          }
        : null,
  }
}
