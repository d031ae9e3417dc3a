/**
 * Strict parsers for option values. Commander hands them the text as typed; a value that is
 * not exactly a number of the right kind is refused, never truncated (`--epochs 1e9` is not
 * one epoch). Ranges are the contract's to check.
 */
import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'

/** Commander prints the option, the value and this message, and exits with 2: the caller's mistake. */
function refuse(expected: string): never {
  const error = new InvalidArgumentError(expected)
  error.exitCode = 2
  throw error
}

const isWholeNumber = (text: string) => /^-?\d+$/.test(text) && Number.isSafeInteger(Number(text))

/** A whole number in decimal digits, such as 42 or -7. */
export function integer(text: string): number {
  if (!isWholeNumber(text)) {
    refuse(
      `Give a whole number in decimal digits, such as 42: no exponent, no fraction, at most ${Number.MAX_SAFE_INTEGER}.`,
    )
  }
  return Number(text)
}

/** A finite decimal number, such as 0.2, -3 or 1e-5. */
export function number(text: string): number {
  const value = Number(text)
  if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) || !Number.isFinite(value)) {
    refuse('Give a finite decimal number, such as 0.2, -3 or 1e-5 (a point, not a comma; no hexadecimal).')
  }
  return value
}

/** Whole numbers separated by commas, such as 128,64. */
export function integers(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim())
  if (!parts.every(isWholeNumber)) refuse('Give whole numbers separated by commas, such as 128,64.')
  return parts.map(Number)
}

/** "28x28x1" (or with ×) → [28, 28, 1]. */
export function imageShape(text: string): [number, number, number] {
  const parts = text.split(/[x×]/i).map((part) => part.trim())
  if (parts.length !== 3 || !parts.every(isWholeNumber))
    refuse('Give the shape as height x width x channels, such as 8x8x1.')
  return parts.map(Number) as [number, number, number]
}

/** The entries of a file, one per line or separated by commas. */
export function fileEntries(file: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    refuse(`Cannot read it: ${(error as Error).message}.`)
  }
  return text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter(Boolean)
}

/** A file of row ids: whole numbers, one per line or separated by commas. */
export function rowIds(file: string): number[] {
  const entries = fileEntries(file)
  const wrong = entries.find((entry) => !isWholeNumber(entry))
  if (wrong !== undefined) {
    refuse(`It holds "${wrong}": give row ids as whole numbers, one per line or separated by commas.`)
  }
  return entries.map(Number)
}
