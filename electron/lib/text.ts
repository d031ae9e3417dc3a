/** Text files that come in, decoded strictly as UTF-8 (control characters: contract/text.ts). */
import { LetheError } from '../contract/errors'

const LF = 0x0a
const CR = 0x0d

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Which UTF-16 the bytes are, if they are: a byte order mark, or a NUL in most even or most odd
 * positions, which is what UTF-16 makes of Latin text (UTF-8 text has no NULs).
 */
function utf16Order(bytes: Uint8Array): 'little-endian' | 'big-endian' | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'little-endian'
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'big-endian'
  const sample = bytes.subarray(0, 4096)
  let evenNuls = 0
  let oddNuls = 0
  for (let i = 0; i < sample.length; i++) {
    if (sample[i] !== 0) continue
    if (i % 2 === 0) evenNuls++
    else oddNuls++
  }
  const pairs = sample.length / 2
  if (oddNuls > pairs / 2) return 'little-endian'
  if (evenNuls > pairs / 2) return 'big-endian'
  return undefined
}

/** Offset of the first byte that starts no valid UTF-8 character; the decoder itself judges each one. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const lead = bytes[i] as number
    if (lead < 0x80) {
      i++
      continue
    }
    const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
    try {
      strictUtf8.decode(bytes.subarray(i, i + size))
    } catch {
      return i
    }
    i += size
  }
  return bytes.length
}

/** 1-based line of `offset`, counting LF, CRLF and a lone CR as line breaks, as the CSV reader does. */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === LF || (bytes[i] === CR && bytes[i + 1] !== LF)) line++
  }
  return line
}

/**
 * A text file's contents, refused unless they are UTF-8 (a byte order mark is dropped): other
 * encodings would otherwise turn into U+FFFD replacement characters without a word.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  const utf16 = utf16Order(bytes)
  if (utf16 !== undefined) {
    throw new LetheError('BAD_INPUT', `${file} is UTF-16 (${utf16}); save it as UTF-8 and import it again.`, {
      file,
      encoding: `UTF-16 ${utf16}`,
    })
  }
  try {
    return strictUtf8.decode(bytes)
  } catch {
    const offset = firstInvalidUtf8(bytes)
    const line = lineAt(bytes, offset)
    const byte = `0x${(bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0')}`
    throw new LetheError(
      'BAD_INPUT',
      `${file}: line ${line} is not UTF-8 (byte ${byte} at offset ${offset} starts no UTF-8 character; the file is probably Latin-1 or Windows-1252); save it as UTF-8 and import it again.`,
      { file, line, offset },
    )
  }
}
