/**
 * IEEE 754 half precision (binary16) by hand: Node 20 has no Float16Array. Values travel as their
 * raw 16-bit patterns in a Uint16Array.
 */

let decodeTable: Float32Array | undefined

/** Every half value as a float32, indexed by its bit pattern: decoding is one lookup. */
function halfToFloatTable(): Float32Array {
  if (decodeTable) return decodeTable
  const table = new Float32Array(65536)
  const bits = new Uint32Array(table.buffer)
  for (let half = 0; half < 65536; half++) {
    const sign = (half & 0x8000) << 16
    const exponent = (half >>> 10) & 0x1f
    const mantissa = half & 0x3ff
    if (exponent === 0) {
      // Zero or subnormal: mantissa · 2⁻²⁴, exact in float32.
      table[half] = (sign ? -mantissa : mantissa) * 2 ** -24
    } else if (exponent === 31) {
      // Infinity, or NaN with its payload kept.
      bits[half] = sign | 0x7f800000 | (mantissa << 13)
    } else {
      // Rebias the exponent from 15 to 127.
      bits[half] = sign | ((exponent + 112) << 23) | (mantissa << 13)
    }
  }
  decodeTable = table
  return table
}

function checkLengths(src: ArrayLike<number>, dst: ArrayLike<number>): void {
  if (src.length !== dst.length) {
    throw new RangeError(`Source holds ${src.length} values but the destination ${dst.length}.`)
  }
}

/** Encodes float32 values as half bit patterns: round to nearest even, overflow to ±Infinity. */
export function toFloat16Bits(src: Float32Array, dst: Uint16Array): void {
  checkLengths(src, dst)
  // Work on the float32 bit patterns directly, without copying.
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length)
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i] as number
    const sign = (x >>> 16) & 0x8000
    const magnitude = x & 0x7fffffff
    let half: number
    if (magnitude >= 0x7f800000) {
      // Infinity stays infinite; NaN keeps its top payload bits and stays a (quiet) NaN.
      half = magnitude === 0x7f800000 ? 0x7c00 : 0x7e00 | ((magnitude >>> 13) & 0x3ff)
    } else if (magnitude >= 0x477ff000) {
      // 65520 and above round past the largest half (65504).
      half = 0x7c00
    } else if (magnitude >= 0x38800000) {
      // Normal half (≥ 2⁻¹⁴): round the 13 dropped bits to nearest even; a carry bumps the exponent.
      const rounded = magnitude + 0xfff + ((magnitude >>> 13) & 1)
      half = (rounded >>> 13) - (112 << 10)
    } else {
      // Subnormal half: k · 2⁻²⁴ with k = mantissa(with implicit bit) · 2^(exponent − 126).
      const exponent = magnitude >>> 23
      const shift = 126 - exponent
      if (shift > 24) {
        half = 0 // below 2⁻²⁵: rounds to zero (float32 subnormals included)
      } else {
        const mantissa = (magnitude & 0x7fffff) | 0x800000
        const halfway = 1 << (shift - 1)
        const remainder = mantissa & ((1 << shift) - 1)
        half = mantissa >>> shift
        if (remainder > halfway || (remainder === halfway && half & 1)) half++
      }
    }
    dst[i] = sign | half
  }
}

/** Decodes half bit patterns into float32 or float64 values. */
export function fromFloat16Bits(src: Uint16Array, dst: Float32Array | Float64Array): void {
  checkLengths(src, dst)
  const table = halfToFloatTable()
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i] as number] as number
}

/** dst[i] += scale · half(src[i]); the sum is as precise as dst (float64 for a Float64Array). */
export function addFloat16Bits(src: Uint16Array, dst: Float32Array | Float64Array, scale = 1): void {
  checkLengths(src, dst)
  const table = halfToFloatTable()
  for (let i = 0; i < src.length; i++) {
    dst[i] = (dst[i] as number) + scale * (table[src[i] as number] as number)
  }
}
