import { describe, expect, it } from 'vitest'
import {
  analyticGaussianSigma,
  classicGaussianSigma,
  gaussianDelta,
  gaussianNoise,
  standardNormalCdf,
} from '../../electron/engine/privacy'
import { Guarantee } from '../../electron/contract/engine'
import {
  guaranteeLabel,
  guaranteeStrength,
  likelihoodFactor,
  strengthSentence,
} from '../../electron/contract/guarantee'

const epsilons = [0.1, 0.5, 1, 2, 5, 10]
const deltas = [1e-3, 1e-5, 1e-8]

describe('standard normal CDF', () => {
  it('keeps full relative accuracy deep in the lower tail', () => {
    // Reference values from mpmath.ncdf at 40 significant digits.
    const reference: [number, number][] = [
      [-37, 5.725571222524577e-300],
      [-20, 2.7536241186062337e-89],
      [-8, 6.220960574271784e-16],
      [-5, 2.866515718791939e-7],
      [-1, 0.15865525393145705],
      [0.5, 0.6914624612740131],
      [3, 0.9986501019683699],
    ]
    for (const [x, phi] of reference) expect(Math.abs(standardNormalCdf(x) / phi - 1)).toBeLessThan(1e-12)
    expect(standardNormalCdf(0)).toBe(0.5)
  })
})

describe('analytic Gaussian mechanism', () => {
  it('gives a σ whose exact privacy profile is the requested δ', () => {
    for (const epsilon of epsilons) {
      for (const delta of deltas) {
        const sigma = analyticGaussianSigma(epsilon, delta, 1)
        expect(Math.abs(gaussianDelta(epsilon, sigma, 1) / delta - 1)).toBeLessThan(1e-6)
      }
    }
  })

  it('matches an independent high-precision value', () => {
    // σ(ε = 1, δ = 1e-5, Δ = 1) = 3.730631634815942: Balle & Wang's Theorem 8 solved for σ by
    // 200 bisection steps in mpmath at 50 digits (no caseA/caseB involved); the classic bound is
    // √(2 ln 125000) = 4.8448.
    expect(analyticGaussianSigma(1, 1e-5, 1)).toBeCloseTo(3.730631634815942, 10)
    expect(classicGaussianSigma(0.99999, 1e-5, 1)).toBeCloseTo(4.8448, 3)
  })

  it('scales linearly in the sensitivity and shrinks as ε grows', () => {
    for (const delta of deltas) {
      const unit = analyticGaussianSigma(1, delta, 1)
      expect(analyticGaussianSigma(1, delta, 7.5) / unit).toBeCloseTo(7.5, 9)
      const sigmas = epsilons.map((epsilon) => analyticGaussianSigma(epsilon, delta, 1))
      for (let i = 1; i < sigmas.length; i++) expect(sigmas[i]).toBeLessThan(sigmas[i - 1] as number)
    }
    expect(analyticGaussianSigma(1, 1e-5, 0)).toBe(0)
  })

  it('is tighter than the classic calibration where that one holds (ε < 1)', () => {
    for (const epsilon of [0.1, 0.5, 0.9]) {
      for (const delta of deltas) {
        expect(analyticGaussianSigma(epsilon, delta, 2)).toBeLessThan(classicGaussianSigma(epsilon, delta, 2))
      }
    }
  })

  it('stays finite for budgets where e^ε overflows', () => {
    const sigma = analyticGaussianSigma(1000, 1e-5, 1)
    expect(sigma).toBeGreaterThan(0)
    expect(Math.abs(gaussianDelta(1000, sigma, 1) / 1e-5 - 1)).toBeLessThan(1e-6)
  })

  it('rejects budgets outside their range', () => {
    const rejects = (run: () => unknown) =>
      expect(run).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    rejects(() => analyticGaussianSigma(0, 1e-5, 1))
    rejects(() => analyticGaussianSigma(-1, 1e-5, 1))
    rejects(() => analyticGaussianSigma(Infinity, 1e-5, 1))
    rejects(() => analyticGaussianSigma(1, 0, 1))
    rejects(() => analyticGaussianSigma(1, 1, 1))
    rejects(() => analyticGaussianSigma(1, NaN, 1))
    rejects(() => analyticGaussianSigma(1, 1e-5, -1))
    rejects(() => analyticGaussianSigma(1, 1e-5, Infinity))
    rejects(() => classicGaussianSigma(1, 1e-5, 1))
    rejects(() => gaussianDelta(1, -1, 1))
  })
})

describe('Gaussian noise', () => {
  it('has mean 0 and variance σ² within five standard errors', () => {
    const n = 200_000
    const sigma = 2.5
    const noise = gaussianNoise(n, sigma)
    expect(noise.length).toBe(n)
    let sum = 0
    let squares = 0
    for (const value of noise) {
      sum += value
      squares += value * value
    }
    const mean = sum / n
    const variance = squares / n - mean * mean
    expect(Math.abs(mean)).toBeLessThan((5 * sigma) / Math.sqrt(n))
    // The sample variance of normals has standard error σ²·√(2/n).
    expect(Math.abs(variance - sigma ** 2)).toBeLessThan(5 * sigma ** 2 * Math.sqrt(2 / n))
  })

  it('differs from call to call and handles odd and empty sizes', () => {
    const a = gaussianNoise(1001, 1)
    const b = gaussianNoise(1001, 1)
    expect(a.some((value, i) => value !== b[i])).toBe(true)
    expect(Number.isFinite(a[1000])).toBe(true)
    expect(a[1000]).not.toBe(0)
    expect(gaussianNoise(0, 1).length).toBe(0)
    expect(gaussianNoise(5, 0).every((value) => value === 0)).toBe(true)
    expect(() => gaussianNoise(-1, 1)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
  })
})

describe('guarantee strength', () => {
  it('grades ε: at most 1 strong, at most 10 moderate, beyond weak', () => {
    expect(guaranteeStrength(0.1)).toBe('strong')
    expect(guaranteeStrength(1)).toBe('strong')
    expect(guaranteeStrength(1.0001)).toBe('moderate')
    expect(guaranteeStrength(10)).toBe('moderate')
    expect(guaranteeStrength(10.0001)).toBe('weak')
    expect(guaranteeStrength(100)).toBe('weak')
    expect(guaranteeStrength(NaN)).toBe('weak')
  })

  it('says in plain words what e^ε means, and never calls a weak release indistinguishable', () => {
    expect(likelihoodFactor(1)).toBe('2.7')
    expect(likelihoodFactor(5)).toBe('148')
    expect(likelihoodFactor(100)).toBe('2.7 × 10⁴³')
    const at = (epsilon: number) => strengthSentence({ kind: 'certified', epsilon })
    expect(at(1)).toMatch(/^Strong: .*at most e¹ ≈ 2\.7 times more or less likely.*indistinguishable/)
    expect(at(5)).toMatch(/^Moderate: .*e⁵ ≈ 148 times/)
    expect(at(0.5)).toContain('e^0.5 ≈ 1.6 times')
    expect(at(100)).toMatch(/^Weak: this is a formal bound, but too loose .*e¹⁰⁰ ≈ 2\.7 × 10⁴³ times/)
    expect(at(100)).not.toMatch(/indistinguishable/)
    expect(strengthSentence({ kind: 'exact' })).toMatch(/^Exact/)
    expect(strengthSentence({ kind: 'empirical' })).toMatch(/^None/)
  })

  it('labels a certified badge with its grade', () => {
    expect(guaranteeLabel({ kind: 'certified', epsilon: 100 })).toBe('Certified · weak (ε = 100)')
    expect(guaranteeLabel({ kind: 'certified', epsilon: 1 })).toBe('Certified · strong (ε = 1)')
    expect(guaranteeLabel({ kind: 'exact' })).toBe('Exact')
    expect(guaranteeLabel({ kind: 'empirical' })).toBe('Empirical')
  })

  it('reads guarantees recorded before grades, deriving the grade from kind and ε', () => {
    const old = (g: object) => Guarantee.parse({ meaning: 'as recorded', ...g })
    expect(old({ kind: 'certified', epsilon: 100, delta: 1e-5 })).toMatchObject({ strength: 'weak' })
    expect(old({ kind: 'certified', epsilon: 1, delta: 1e-5 })).toMatchObject({ strength: 'strong' })
    expect(old({ kind: 'exact' })).toMatchObject({ strength: 'exact' })
    expect(old({ kind: 'empirical' })).toMatchObject({ strength: 'none' })
    // A recorded grade must match its kind.
    expect(Guarantee.safeParse({ kind: 'exact', strength: 'weak', meaning: '' }).success).toBe(false)
  })
})
