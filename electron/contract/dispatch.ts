import type { z } from 'zod'
import { fail, ok, toErrorPayload, type Result } from './errors'
import { isMethodName, methodNames, methods, type MethodName, type Methods } from './index'

/** Who is calling: the transports fill it in, services may use it for the audit actor. */
export interface CallContext {
  transport: 'ipc' | 'http' | 'cli'
}

/** One service function per contract method: parsed input in, plain output back. */
export type Handlers = {
  [M in MethodName]: (
    input: z.output<Methods[M]['input']>,
    context: CallContext,
  ) => Promise<z.input<Methods[M]['output']>>
}

/**
 * Largest serialised input a transport accepts (1 MiB): files travel by path, not body, except
 * where a method states its own limit (a model uploaded from a browser's file input).
 */
export const MAX_INPUT_BYTES = 1024 * 1024

/** The input limit of `method`: its own, or MAX_INPUT_BYTES (also for unknown names, refused later). */
export function inputLimit(method: string): number {
  return (isMethodName(method) ? methods[method].maxInputBytes : undefined) ?? MAX_INPUT_BYTES
}

/**
 * The one generic call path shared by every transport: look the method up, validate the
 * input, run the service, check its output against the contract, and return a result union.
 */
export async function dispatch(
  handlers: Handlers,
  method: string,
  input: unknown,
  context: CallContext,
): Promise<Result<unknown>> {
  if (!isMethodName(method)) {
    return fail('UNKNOWN_METHOD', `Unknown method "${method}".`, { known: methodNames })
  }
  const spec = methods[method]
  const parsed = spec.input.safeParse(input ?? {})
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: issue.path.join('.'),
      message: issue.message,
    }))
    const first = issues[0]
    const where = first && first.path ? ` at "${first.path}"` : ''
    return fail('BAD_INPUT', `Invalid input for ${method}${where}: ${first?.message}`, { issues })
  }
  try {
    const handler = handlers[method] as (i: unknown, c: CallContext) => Promise<unknown>
    const value = await handler(parsed.data, context)
    const checked = spec.output.safeParse(value)
    if (!checked.success) {
      return fail('INTERNAL', `${method} returned a value that breaks the contract.`, {
        issues: checked.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      })
    }
    return ok(checked.data)
  } catch (error) {
    return { ok: false, error: toErrorPayload(error) }
  }
}

/** Serialised size of an input, for transports that receive it already parsed (IPC). */
export function inputBytes(input: unknown): number {
  return new TextEncoder().encode(JSON.stringify(input ?? null) ?? '').length
}
