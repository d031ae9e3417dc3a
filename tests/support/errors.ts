import { expect } from 'vitest'
import { LetheError } from '../../electron/contract'

/** Runs `fn`, expecting it to throw a LetheError with `code`, and returns the error. */
export function letheError(code: string, fn: () => unknown): LetheError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(LetheError)
    expect((error as LetheError).code).toBe(code)
    return error as LetheError
  }
  throw new Error(`expected a LetheError ${code}`)
}

/** Awaits `promise`, expecting it to reject with a LetheError with `code`, and returns the error. */
export async function rejection(code: string, promise: Promise<unknown>): Promise<LetheError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(LetheError)
  expect((error as LetheError).code).toBe(code)
  return error as LetheError
}
