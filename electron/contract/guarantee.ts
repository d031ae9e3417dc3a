/**
 * How much a release's guarantee promises, in one grade and one sentence, shared by the engine
 * (which records it), the desk, the CLI and the certificate (which say it). An (ε, δ) guarantee
 * bounds how much likelier any outcome can be with the rows than without them by e^ε: at ε = 1
 * that is a factor of 2.7, at ε = 100 a number with 44 digits, which promises nothing.
 */

export const guaranteeStrengths = ['exact', 'strong', 'moderate', 'weak', 'none'] as const
export type GuaranteeStrength = (typeof guaranteeStrengths)[number]

/** The grade of a certified release: ε ≤ 1 strong, ε ≤ 10 moderate, beyond (or not a number) weak. */
export function guaranteeStrength(epsilon: number): 'strong' | 'moderate' | 'weak' {
  if (epsilon <= 1) return 'strong'
  if (epsilon <= 10) return 'moderate'
  return 'weak'
}

interface GuaranteeLike {
  kind: 'exact' | 'certified' | 'empirical'
  epsilon?: number
  strength?: GuaranteeStrength
}

/** The grade a guarantee carries, or, for one recorded before grades were, the one its kind and ε give. */
export function strengthOf(guarantee: GuaranteeLike): GuaranteeStrength {
  if (guarantee.strength) return guarantee.strength
  if (guarantee.kind === 'exact') return 'exact'
  if (guarantee.kind === 'certified') return guaranteeStrength(guarantee.epsilon ?? NaN)
  return 'none'
}

/** A guarantee with its grade: old run records and manifests lack it. */
export function withStrength<G extends GuaranteeLike>(guarantee: G): G & { strength: GuaranteeStrength } {
  return { ...guarantee, strength: strengthOf(guarantee) }
}

const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹'

/** e^ε as text: e¹ for whole numbers, e^0.5 otherwise. */
function ePower(epsilon: number): string {
  const digits = String(epsilon)
  return /^\d+$/.test(digits) ? `e${[...digits].map((d) => SUPERSCRIPT[Number(d)]).join('')}` : `e^${digits}`
}

/** The factor e^ε in words a reader can weigh: 2.7, 148, 22,026, 2.7 × 10⁴³. */
export function likelihoodFactor(epsilon: number): string {
  const factor = Math.exp(epsilon)
  if (factor < 10) return factor.toFixed(1)
  if (factor < 1e6) return Math.round(factor).toLocaleString('en')
  const exponent = Math.floor(epsilon / Math.LN10)
  const mantissa = 10 ** (epsilon / Math.LN10 - exponent)
  const power = [...String(exponent)].map((d) => SUPERSCRIPT[Number(d)]).join('')
  return `${mantissa.toFixed(1)} × 10${power}`
}

/** One plain sentence on what the guarantee's grade promises, with e^ε worked out for a certified one. */
export function strengthSentence(guarantee: GuaranteeLike): string {
  const epsilon = guarantee.epsilon ?? NaN
  const bound = `any outcome of using the model is at most ${ePower(epsilon)} ≈ ${likelihoodFactor(epsilon)} times more or less likely than had the rows never been used`
  switch (strengthOf(guarantee)) {
    case 'exact':
      return 'Exact: the model was retrained without the rows, so it is what it would have been had they never been given.'
    case 'strong':
      return `Strong: ${bound}, so the model is almost indistinguishable from one trained without them.`
    case 'moderate':
      return `Moderate: ${bound}; a real bound, but the two can be told apart more easily than at ε ≤ 1.`
    case 'weak':
      return `Weak: this is a formal bound, but too loose to promise anything a person would recognise: ${bound}.`
    case 'none':
      return 'None: no formal bound; the removal was measured (forget accuracy, membership inference), not proven.'
  }
}

/** The badge of a guarantee: "Exact", "Empirical", or "Certified · weak (ε = 100)", never certified without its grade. */
export function guaranteeLabel(guarantee: GuaranteeLike): string {
  if (guarantee.kind === 'exact') return 'Exact'
  if (guarantee.kind === 'empirical') return 'Empirical'
  return `Certified · ${strengthOf(guarantee)} (ε = ${guarantee.epsilon ?? '?'})`
}
