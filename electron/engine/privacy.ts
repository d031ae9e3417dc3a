/**
 * The Gaussian mechanism behind certified unlearning: a model whose distance to the retrained one
 * is at most Δ (the sensitivity) becomes (ε, δ)-indistinguishable from it once N(0, σ²I) is added.
 * ALGORITHMS.md §1.
 */
import { randomFillSync } from 'node:crypto'
import { LetheError } from '../contract/errors'

// ---------------------------------------------------------------------------------------------
// The normal distribution's tails, accurate to ~1e-15 relative far out (Φ(−37) ≈ 6e-300): the
// calibration subtracts tail probabilities that are both tiny, so a 1e-7 approximation would
// decide σ by its own error.

const ONE_OVER_SQRT_PI = 0.5641895835477563 // 1/√π

/** e^(−y²) without the rounding error of squaring a large y: y² = ŷ² + (y − ŷ)(y + ŷ), ŷ = ⌊16y⌋/16. */
function expMinusSquare(y: number): number {
  const head = Math.trunc(y * 16) / 16
  return Math.exp(-head * head) * Math.exp(-(y - head) * (y + head))
}

/**
 * erfc(y) for y ≥ 0, or e^(y²)·erfc(y) when `scaled` (which never underflows). W. J. Cody's rational
 * Chebyshev approximations ("Rational Chebyshev approximations for the error function",
 * Math. Comp. 23, 1969; the SPECFUN routine CALERF), with his coefficients for IEEE doubles.
 */
/* eslint-disable no-loss-of-precision -- Cody's 18-digit coefficients, verbatim so they can be checked against the source */
function erfcNonNegative(y: number, scaled: boolean): number {
  if (y <= 0.46875) {
    // erf(y) = y·P(y²)/Q(y²).
    const z = y * y
    const num =
      (((0.185777706184603153 * z + 3.1611237438705656) * z + 113.864154151050156) * z +
        377.485237685302021) *
        z +
      3209.37758913846947
    const den =
      (((z + 23.6012909523441209) * z + 244.024637934444173) * z + 1282.61652607737228) * z +
      2844.23683343917062
    const erfc = 1 - (y * num) / den
    return scaled ? Math.exp(z) * erfc : erfc
  }
  let scaledErfc: number
  if (y <= 4) {
    const num =
      (((((((2.15311535474403846e-8 * y + 0.564188496988670089) * y + 8.88314979438837594) * y +
        66.1191906371416295) *
        y +
        298.635138197400131) *
        y +
        881.95222124176909) *
        y +
        1712.04761263407058) *
        y +
        2051.07837782607147) *
        y +
      1230.33935479799725
    const den =
      (((((((y + 15.7449261107098347) * y + 117.693950891312499) * y + 537.181101862009858) * y +
        1621.38957456669019) *
        y +
        3290.79923573345963) *
        y +
        4362.61909014324716) *
        y +
        3439.36767414372164) *
        y +
      1230.33935480374942
    scaledErfc = num / den
  } else {
    // Asymptotic form: e^(y²)·erfc(y) = (1/√π − R(1/y²)/y²)/y.
    if (!scaled && y >= 26.543) return 0 // erfc underflows a double beyond here
    const z = 1 / (y * y)
    const num =
      ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z +
        0.125781726111229246) *
        z +
        0.0160837851487422766) *
        z +
      6.58749161529837803e-4
    const den =
      ((((z + 2.56852019228982242) * z + 1.87295284992346047) * z + 0.527905102951428412) * z +
        0.0605183413124413191) *
        z +
      0.00233520497626869185
    scaledErfc = (ONE_OVER_SQRT_PI - (z * num) / den) / y
  }
  return scaled ? scaledErfc : expMinusSquare(y) * scaledErfc
}
/* eslint-enable no-loss-of-precision */

/** The standard normal CDF Φ(x), with full relative accuracy in the lower tail. */
export function standardNormalCdf(x: number): number {
  const upperTail = 0.5 * erfcNonNegative(Math.abs(x) * Math.SQRT1_2, false)
  return x < 0 ? upperTail : 1 - upperTail
}

/** e^(x²/2)·Φ(−x) for x ≥ 0: the lower tail with its Gaussian factor taken out, so it never underflows. */
const scaledTail = (x: number): number => 0.5 * erfcNonNegative(x * Math.SQRT1_2, true)

// ---------------------------------------------------------------------------------------------
// Calibration.

function checkBudget(epsilon: number, delta: number, sensitivity: number): void {
  if (!(epsilon > 0 && Number.isFinite(epsilon))) {
    throw new LetheError('BAD_INPUT', `The privacy budget ε must be a positive number, not ${epsilon}.`)
  }
  if (!(delta > 0 && delta < 1)) {
    throw new LetheError(
      'BAD_INPUT',
      `The failure probability δ must lie strictly between 0 and 1, not ${delta}.`,
    )
  }
  if (!(sensitivity >= 0 && Number.isFinite(sensitivity))) {
    throw new LetheError('BAD_INPUT', `The sensitivity Δ must be a finite number ≥ 0, not ${sensitivity}.`)
  }
}

/**
 * The smallest σ for which N(0, σ²) noise makes a Δ-sensitive release (ε, δ)-private: the analytic
 * Gaussian mechanism of Balle & Wang (ICML 2018, Algorithm 1), valid for every ε > 0.
 */
export function analyticGaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  checkBudget(epsilon, delta, sensitivity)
  if (sensitivity === 0) return 0
  // Balle & Wang's caseA/caseB with e^ε·Φ(−√(ε(s+2))) rewritten as e^(−εs/2)·scaledTail(√(ε(s+2))):
  // the same values, without e^ε overflowing or Φ underflowing for large ε.
  const caseA = (s: number) =>
    standardNormalCdf(Math.sqrt(epsilon * s)) -
    Math.exp((-epsilon * s) / 2) * scaledTail(Math.sqrt(epsilon * (s + 2)))
  const caseB = (s: number) =>
    Math.exp((-epsilon * s) / 2) *
    (scaledTail(Math.sqrt(epsilon * s)) - scaledTail(Math.sqrt(epsilon * (s + 2))))
  const threshold = caseA(0)
  if (delta === threshold) return sensitivity / Math.sqrt(2 * epsilon)
  // caseA grows from the threshold towards 1, caseB falls from it towards 0.
  const above = delta > threshold
  const profile = above ? caseA : caseB
  const tooFar = (s: number) => (above ? profile(s) > delta : profile(s) < delta)

  let low = 0
  let high = 1
  while (!(above ? profile(high) >= delta : profile(high) <= delta)) {
    low = high
    high *= 2
  }
  // The reference stops at |profile(s) − δ| ≤ 1e-12; relative to δ here, since δ itself may be 1e-10.
  let s = low + (high - low) / 2
  while (Math.abs(profile(s) - delta) > 1e-12 * delta && s !== low && s !== high) {
    if (tooFar(s)) high = s
    else low = s
    s = low + (high - low) / 2
  }
  const alpha = above ? Math.sqrt(1 + s / 2) - Math.sqrt(s / 2) : Math.sqrt(1 + s / 2) + Math.sqrt(s / 2)
  return (alpha * sensitivity) / Math.sqrt(2 * epsilon)
}

/**
 * The exact δ that N(0, σ²) noise achieves at ε for a Δ-sensitive release (Balle & Wang, Theorem 8):
 * δ = Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ).
 */
export function gaussianDelta(epsilon: number, sigma: number, sensitivity: number): number {
  if (!(epsilon > 0 && Number.isFinite(epsilon))) {
    throw new LetheError('BAD_INPUT', `The privacy budget ε must be a positive number, not ${epsilon}.`)
  }
  if (!(sigma >= 0) || !(sensitivity >= 0 && Number.isFinite(sensitivity))) {
    throw new LetheError('BAD_INPUT', `σ and Δ must be numbers ≥ 0, not ${sigma} and ${sensitivity}.`)
  }
  if (sensitivity === 0) return 0
  if (sigma === 0) return 1
  const shift = (epsilon * sigma) / sensitivity // εσ/Δ
  const half = sensitivity / (2 * sigma) // Δ/(2σ)
  // e^ε·Φ(−(shift + half)) = e^(−(shift − half)²/2)·scaledTail(shift + half), as in the calibrator.
  const gaussian = Math.exp(-((shift - half) ** 2) / 2)
  const second = gaussian * scaledTail(shift + half)
  const first = shift >= half ? gaussian * scaledTail(shift - half) : standardNormalCdf(half - shift)
  return Math.max(0, first - second)
}

/**
 * The textbook calibration σ = Δ·√(2 ln(1.25/δ))/ε (Dwork & Roth, Theorem A.1), looser than the
 * analytic one and proven only for ε < 1; kept for comparison in reports.
 */
export function classicGaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  checkBudget(epsilon, delta, sensitivity)
  if (epsilon >= 1) {
    throw new LetheError(
      'BAD_INPUT',
      `The classic Gaussian mechanism holds only for ε < 1, not ε = ${epsilon}.`,
    )
  }
  return (sensitivity * Math.sqrt(2 * Math.log(1.25 / delta))) / epsilon
}

// ---------------------------------------------------------------------------------------------
// Noise.

/** Pairs of normals drawn per call to the CSPRNG: bounds the scratch memory for large models. */
const PAIRS_PER_BLOCK = 65536

/**
 * `size` independent N(0, σ²) draws from the operating system's CSPRNG. Never seeded: noise that
 * protects a published model must not be reproducible by anyone.
 */
export function gaussianNoise(size: number, sigma: number): Float32Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new LetheError('BAD_INPUT', `The noise size must be a whole number ≥ 0, not ${size}.`)
  }
  if (!(sigma >= 0 && Number.isFinite(sigma))) {
    throw new LetheError('BAD_INPUT', `The noise scale σ must be a finite number ≥ 0, not ${sigma}.`)
  }
  const out = new Float32Array(size)
  // Four 32-bit words per pair: two 53-bit uniforms.
  const words = new Uint32Array(4 * Math.min(PAIRS_PER_BLOCK, Math.ceil(size / 2)))
  for (let start = 0; start < size; start += 2 * PAIRS_PER_BLOCK) {
    randomFillSync(words)
    const end = Math.min(size, start + 2 * PAIRS_PER_BLOCK)
    for (let i = start, w = 0; i < end; i += 2, w += 4) {
      const u1 = ((words[w] as number) * 2 ** 21 + ((words[w + 1] as number) >>> 11)) / 2 ** 53
      const u2 = ((words[w + 2] as number) * 2 ** 21 + ((words[w + 3] as number) >>> 11)) / 2 ** 53
      // Box–Muller; 1 − u1 lies in (0, 1], so the logarithm is finite.
      const radius = sigma * Math.sqrt(-2 * Math.log(1 - u1))
      const angle = 2 * Math.PI * u2
      out[i] = radius * Math.cos(angle)
      if (i + 1 < end) out[i + 1] = radius * Math.sin(angle)
    }
  }
  return out
}
