/**
 * Typed errors that cross the API boundary. Electron's `invoke` drops error classes and
 * fields, so every transport carries errors as plain `{code, message, details}` payloads.
 */
export const errorCodes = [
  'BAD_INPUT', // the input failed its schema: details lists each issue
  'UNKNOWN_METHOD', // no such method in the contract
  'UNAUTHORIZED', // bridge: missing or wrong bearer token
  'FORBIDDEN', // IPC: the sender is not our own window; bridge: foreign origin or host
  'TOO_LARGE', // the request exceeds the size limit
  'NOT_FOUND', // a named record does not exist
  'CONFLICT', // the action is not allowed in the record's current state
  'LOCKED', // another Lethe process is writing the same data folder
  'CORRUPT', // a stored file is damaged: details name it and the backups that can replace it
  'ENGINE_UNAVAILABLE', // the compute engine could not start or has no usable backend
  'ENGINE_CRASHED', // the engine process died while working; nothing was committed
  'CANCELLED', // the user cancelled the job
  'INTERNAL', // a bug: the service broke its own contract
] as const

export type ErrorCode = (typeof errorCodes)[number]

export interface ErrorPayload {
  code: ErrorCode
  message: string
  details?: unknown
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload }

export class LetheError extends Error {
  override readonly name = 'LetheError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }

  toPayload(): ErrorPayload {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }

  static fromPayload(payload: ErrorPayload): LetheError {
    return new LetheError(payload.code, payload.message, payload.details)
  }
}

export function isErrorPayload(value: unknown): value is ErrorPayload {
  if (typeof value !== 'object' || value === null) return false
  const { code, message } = value as Record<string, unknown>
  return (
    typeof message === 'string' &&
    typeof code === 'string' &&
    (errorCodes as readonly string[]).includes(code)
  )
}

/** Anything thrown becomes a payload; only LetheErrors keep their code. */
export function toErrorPayload(error: unknown): ErrorPayload {
  if (error instanceof LetheError) return error.toPayload()
  if (isErrorPayload(error)) return error
  const message = error instanceof Error ? error.message : String(error)
  return { code: 'INTERNAL', message: `Unexpected error: ${message}` }
}

export const ok = <T>(value: T): Result<T> => ({ ok: true, value })
export const fail = (code: ErrorCode, message: string, details?: unknown): Result<never> => ({
  ok: false,
  error: new LetheError(code, message, details).toPayload(),
})
