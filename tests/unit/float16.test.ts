import { describe, expect, it } from 'vitest'
import { addFloat16Bits, fromFloat16Bits, toFloat16Bits } from '../../electron/lib/float16'

/** A half's value straight from its definition, independent of the lookup table. */
function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >>> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa ? NaN : sign * Infinity
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

const encode = (value: number): number => {
  const out = new Uint16Array(1)
  toFloat16Bits(Float32Array.of(value), out)
  return out[0] as number
}

describe('float16', () => {
  it('decodes every half exactly and encodes it back to the same bits', () => {
    const all = new Uint16Array(65536).map((_, i) => i)
    const decoded = new Float32Array(65536)
    fromFloat16Bits(all, decoded)
    const encoded = new Uint16Array(65536)
    toFloat16Bits(decoded, encoded)
    const wrong: string[] = []
    for (let bits = 0; bits < 65536; bits++) {
      const expected = halfValue(bits)
      const back = encoded[bits] as number
      const ok = Number.isNaN(expected)
        ? Number.isNaN(decoded[bits]) && (back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0 // still a NaN
        : Object.is(decoded[bits], expected) && back === bits
      if (!ok) wrong.push(`0x${bits.toString(16)} → ${decoded[bits]} → 0x${back.toString(16)}`)
    }
    expect(wrong).toEqual([])
  })

  it('rounds to nearest even, overflows to infinity and keeps subnormals', () => {
    expect(encode(1 + 2 ** -11)).toBe(0x3c00) // tie between 1 and 1 + 2⁻¹⁰: even mantissa wins
    expect(encode(1 + 3 * 2 ** -11)).toBe(0x3c02) // tie between odd 0x3c01 and even 0x3c02
    expect(encode(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01) // just above the tie
    expect(encode(65504)).toBe(0x7bff) // the largest half
    expect(encode(65519)).toBe(0x7bff)
    expect(encode(65520)).toBe(0x7c00) // tie with 65536, which is out of range: +Infinity
    expect(encode(-1e6)).toBe(0xfc00)
    expect(encode(Infinity)).toBe(0x7c00)
    expect(encode(6e-8)).toBe(0x0001) // 6e-8 ≈ 1.007 · 2⁻²⁴, the smallest subnormal
    expect(encode(2 ** -25)).toBe(0x0000) // tie between 0 and 2⁻²⁴: rounds to even 0
    expect(encode(3 * 2 ** -25)).toBe(0x0002) // tie between 1 and 2 (× 2⁻²⁴)
    expect(encode(1023.5 * 2 ** -24)).toBe(0x0400) // the largest subnormal rounds up into the normals
    expect(encode(2 ** -14)).toBe(0x0400)
    expect(encode(1e-10)).toBe(0x0000)
    expect(encode(-0)).toBe(0x8000)
    expect(encode(1.5e-45)).toBe(0x0000) // a float32 subnormal
    expect(halfValue(encode(NaN))).toBeNaN()
  })

  it('keeps the relative error of normal values within half an ulp (2⁻¹¹)', () => {
    const values = new Float32Array(10000).map((_, i) => (i % 2 ? -1 : 1) * 2 ** (-14 + (i * 30) / 10000))
    const bits = new Uint16Array(values.length)
    toFloat16Bits(values, bits)
    const back = new Float64Array(values.length)
    fromFloat16Bits(bits, back)
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number
      expect(Math.abs((back[i] as number) - v) / Math.abs(v)).toBeLessThanOrEqual(2 ** -11)
    }
  })

  it('adds scaled halves into float32 and float64 targets', () => {
    const bits = new Uint16Array(3)
    toFloat16Bits(Float32Array.of(1, -2, 0.5), bits)
    const wide = Float64Array.of(0.1, 0.2, 0.3)
    addFloat16Bits(bits, wide, 3)
    expect(Array.from(wide)).toEqual([0.1 + 3, 0.2 - 6, 0.3 + 1.5])
    const narrow = new Float32Array(3)
    addFloat16Bits(bits, narrow)
    expect(Array.from(narrow)).toEqual([1, -2, 0.5])
    expect(() => addFloat16Bits(bits, new Float32Array(2))).toThrow(RangeError)
  })
})
