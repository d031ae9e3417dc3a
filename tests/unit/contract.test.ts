import { describe, expect, it } from 'vitest'
import { LetheError, methodNames, methods } from '../../electron/contract'
import { dispatch } from '../../electron/contract/dispatch'
import { recordingHandlers, sampleInfo } from '../support/fixtures'

const cli = { transport: 'cli' } as const

describe('the API contract', () => {
  it('declares each method with a summary and input and output schemas', () => {
    expect(methodNames).toContain('system.info')
    for (const name of methodNames) {
      const spec = methods[name]
      expect(spec.summary.length).toBeGreaterThan(10)
      expect(typeof spec.input.safeParse).toBe('function')
      expect(typeof spec.output.safeParse).toBe('function')
    }
  })
})

describe('dispatch', () => {
  it('runs the service and returns its checked output', async () => {
    const { handlers, calls } = recordingHandlers()
    const result = await dispatch(handlers, 'system.info', {}, cli)
    expect(result).toEqual({ ok: true, value: sampleInfo() })
    expect(calls).toEqual([{}])
  })

  it('refuses an unknown method and lists the known ones', async () => {
    const { handlers, calls } = recordingHandlers()
    const result = await dispatch(handlers, 'system.shutdown', {}, cli)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error.code).toBe('UNKNOWN_METHOD')
    expect(result.error.message).toContain('system.shutdown')
    expect(result.error.details).toEqual({ known: methodNames })
    expect(calls).toEqual([])
  })

  it('refuses input that breaks the schema, naming each issue, without running the service', async () => {
    const { handlers, calls } = recordingHandlers()
    const result = await dispatch(handlers, 'system.info', { verbose: true }, cli)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error.code).toBe('BAD_INPUT')
    expect(result.error.message).toMatch(/Invalid input for system\.info/)
    expect((result.error.details as { issues: unknown[] }).issues.length).toBeGreaterThan(0)
    expect(calls).toEqual([])
  })

  it('refuses a non-object input', async () => {
    const { handlers } = recordingHandlers()
    const result = await dispatch(handlers, 'system.info', 'hello', cli)
    expect(result.ok ? 'ok' : result.error.code).toBe('BAD_INPUT')
  })

  it('keeps the code, message and details of a typed service error', async () => {
    const { handlers } = recordingHandlers(() => {
      throw new LetheError('NOT_FOUND', 'No request RTBF-2026-0042.', { id: 'RTBF-2026-0042' })
    })
    const result = await dispatch(handlers, 'system.info', {}, cli)
    expect(result).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'No request RTBF-2026-0042.', details: { id: 'RTBF-2026-0042' } },
    })
  })

  it('turns an untyped throw into INTERNAL with its message', async () => {
    const { handlers } = recordingHandlers(() => {
      throw new TypeError('x is undefined')
    })
    const result = await dispatch(handlers, 'system.info', {}, cli)
    expect(result).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'Unexpected error: x is undefined' },
    })
  })

  it('catches a service whose output breaks the contract', async () => {
    const { handlers } = recordingHandlers(() => ({ ...sampleInfo(), version: 7 }))
    const result = await dispatch(handlers, 'system.info', {}, cli)
    expect(result.ok ? 'ok' : result.error.code).toBe('INTERNAL')
  })
})
