import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LetheError, type LetheEvent } from '../../electron/contract'
import type { Handlers } from '../../electron/contract/dispatch'
import { startBridge, type Bridge } from '../../electron/bridge/server'
import { EventHub } from '../../electron/host/events'
import { recordingHandlers, sampleInfo, tempDir } from '../support/fixtures'

let bridge: Bridge | undefined
let folder: string | undefined
afterEach(async () => {
  await bridge?.close()
  bridge = undefined
  if (folder) rmSync(folder, { recursive: true, force: true })
  folder = undefined
})

async function start(maxBodyBytes?: number) {
  folder = tempDir('lethe-static-')
  const staticRoot = path.join(folder, 'renderer')
  mkdirSync(staticRoot)
  writeFileSync(path.join(staticRoot, 'index.html'), '<!doctype html><title>Lethe</title>')
  const events = new EventHub()
  const { handlers, calls } = recordingHandlers()
  bridge = await startBridge({ handlers, events, staticRoot, maxBodyBytes })
  return { bridge, events, calls, staticRoot }
}

/**
 * A raw request, so tests can send what a browser's fetch would not (bad Host, raw paths, and
 * with `target` a request target other than the URL's path, such as an absolute URL).
 */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; target?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const { method = 'GET', headers, target } = options
    const req = http.request(url, { method, headers, ...(target && { path: target }) }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

const callInfo = (b: Bridge, headers: Record<string, string>, body = '{}') =>
  request(`${b.origin}/api/call/system.info`, { method: 'POST', headers, body })

const auth = (b: Bridge) => ({ authorization: `Bearer ${b.token}`, 'content-type': 'application/json' })
const code = (body: string) => (JSON.parse(body) as { error?: { code: string } }).error?.code

describe('the loopback bridge', () => {
  it('listens on 127.0.0.1 only, on a random port, with a fresh token', async () => {
    const { bridge: b } = await start()
    expect(b.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(b.token.length).toBeGreaterThanOrEqual(40)
    expect(b.url).toBe(`${b.origin}/?token=${b.token}`)
  })

  it('answers a call with the token', async () => {
    const { bridge: b, calls } = await start()
    const res = await callInfo(b, auth(b))
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ ok: true, value: sampleInfo() })
    expect(calls).toHaveLength(1)
  })

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['a token without the scheme', { authorization: 'x' }],
  ])('refuses a call with %s', async (_label, headers) => {
    const { bridge: b, calls } = await start()
    const res = await callInfo(b, headers)
    expect(res.status).toBe(401)
    expect(code(res.body)).toBe('UNAUTHORIZED')
    expect(calls).toHaveLength(0)
  })

  it('refuses a foreign origin even with the token', async () => {
    const { bridge: b, calls } = await start()
    const res = await callInfo(b, { ...auth(b), origin: 'https://evil.example' })
    expect(res.status).toBe(403)
    expect(code(res.body)).toBe('FORBIDDEN')
    expect(calls).toHaveLength(0)
  })

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const { bridge: b } = await start()
    const res = await callInfo(b, { ...auth(b), host: 'evil.example' })
    expect(res.status).toBe(403)
  })

  it('refuses an oversized body before parsing it', async () => {
    const { bridge: b, calls } = await start(1024)
    const res = await callInfo(b, auth(b), JSON.stringify({ blob: 'x'.repeat(4096) }))
    expect(res.status).toBe(413)
    expect(code(res.body)).toBe('TOO_LARGE')
    expect(calls).toHaveLength(0)
  })

  it('lets a method with its own limit take a larger body (a model uploaded from a file input)', async () => {
    const received: unknown[] = []
    const handlers = {
      'models.import': async (input: unknown) => {
        received.push(input)
        throw new LetheError('NOT_FOUND', 'There is no dataset ds-0123456789ab.')
      },
    } as unknown as Handlers
    bridge = await startBridge({ handlers, events: new EventHub() })
    const base64 = 'A'.repeat(2 * 1024 * 1024)
    const body = JSON.stringify({ datasetId: 'ds-0123456789ab', upload: [{ name: 'model.onnx', base64 }] })
    const upload = await request(`${bridge.origin}/api/call/models.import`, {
      method: 'POST',
      headers: auth(bridge),
      body,
    })
    expect(code(upload.body)).toBe('NOT_FOUND')
    expect(received).toEqual([{ datasetId: 'ds-0123456789ab', upload: [{ name: 'model.onnx', base64 }] }])
    // The same size to a method without its own limit is refused before it is read whole.
    const info = await callInfo(bridge, auth(bridge), JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) }))
    expect(code(info.body)).toBe('TOO_LARGE')
  })

  it('refuses a body that is not JSON', async () => {
    const { bridge: b } = await start()
    const res = await callInfo(b, auth(b), '{"unterminated": ')
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body).error.message).toMatch(/not valid JSON/)
  })

  it('refuses bad input with the contract’s typed error', async () => {
    const { bridge: b, calls } = await start()
    const res = await callInfo(b, auth(b), '{"unexpected": true}')
    expect(res.status).toBe(400)
    expect(code(res.body)).toBe('BAD_INPUT')
    expect(calls).toHaveLength(0)
  })

  it('answers an unknown method with UNKNOWN_METHOD', async () => {
    const { bridge: b } = await start()
    const res = await request(`${b.origin}/api/call/system.format`, {
      method: 'POST',
      headers: auth(b),
      body: '{}',
    })
    expect(res.status).toBe(404)
    expect(code(res.body)).toBe('UNKNOWN_METHOD')
  })

  it('serves the renderer with the content security policy', async () => {
    const { bridge: b } = await start()
    const res = await request(`${b.origin}/`)
    expect(res.status).toBe(200)
    expect(res.body).toContain('<title>Lethe</title>')
    expect(res.headers['content-security-policy']).toContain("script-src 'self'")
  })

  it.each([
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/a%00.html',
    '/..%5csecret.txt',
  ])('never serves a file outside the renderer for %s', async (raw) => {
    const { bridge: b, staticRoot } = await start()
    writeFileSync(path.join(staticRoot, '..', 'secret.txt'), 'TOP SECRET')
    const res = await request(`${b.origin}${raw}`)
    expect([403, 404]).toContain(res.status)
    expect(res.body).not.toContain('TOP SECRET')
  })

  it('answers an encoded escape with 403, not a lookup', async () => {
    const { bridge: b } = await start()
    const res = await request(`${b.origin}/..%2f..%2fetc%2fpasswd`)
    expect(res.status).toBe(403)
  })

  it('streams events to a client with the token', async () => {
    const { bridge: b, events } = await start()
    const received = new Promise<LetheEvent>((resolve, reject) => {
      const req = http.get(`${b.origin}/api/events`, { headers: auth(b) }, (res) => {
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (chunk.startsWith(': connected')) {
            events.emit('job.progress', { jobId: 'j1', kind: 'test', fraction: 0.5, message: 'half' })
          }
          const data = chunk.split('\n').find((line) => line.startsWith('data: '))
          if (data) {
            resolve(JSON.parse(data.slice(6)) as LetheEvent)
            req.destroy()
          }
        })
      })
      req.on('error', reject)
    })
    expect(await received).toEqual({
      name: 'job.progress',
      payload: { jobId: 'j1', kind: 'test', fraction: 0.5, message: 'half' },
    })
  })

  it('refuses the event stream without the token', async () => {
    const { bridge: b } = await start()
    const res = await request(`${b.origin}/api/events`)
    expect(res.status).toBe(401)
  })

  it('refuses an absolute-form target however its Host header agrees with it', async () => {
    const { bridge: b, calls } = await start()
    const target = 'http://evil.example/api/call/system.info'
    const foreign = await request(b.origin, {
      method: 'POST',
      target,
      headers: { ...auth(b), host: 'evil.example' },
      body: '{}',
    })
    expect(foreign.status).toBe(403)
    expect(JSON.parse(foreign.body).error.message).toMatch(
      /^Unexpected Host header: only 127\.0\.0\.1:\d+ or localhost:\d+/,
    )
    const ours = await request(b.origin, { method: 'POST', target, headers: auth(b), body: '{}' })
    expect(ours.status).toBe(400)
    expect(JSON.parse(ours.body).error).toMatchObject({
      code: 'BAD_INPUT',
      message: 'The request target must be a path starting with "/", not a URL.',
    })
    expect(calls).toHaveLength(0)
  })

  it('answers a malformed percent-escape in the method name with 400, naming it', async () => {
    const { bridge: b, calls } = await start()
    const res = await request(`${b.origin}/api/call/%E0%A4%A`, {
      method: 'POST',
      headers: auth(b),
      body: '{}',
    })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body).error).toEqual({
      code: 'BAD_INPUT',
      message: 'Malformed percent-escape in the method name: /api/call/%E0%A4%A.',
    })
    expect(calls).toHaveLength(0)
  })

  it('marks every API answer nosniff: results, errors and the event stream', async () => {
    const { bridge: b } = await start()
    const answered = await callInfo(b, auth(b))
    const refused = await callInfo(b, {})
    const unknown = await request(`${b.origin}/api/nothing`, { headers: auth(b) })
    expect([answered.status, refused.status, unknown.status]).toEqual([200, 401, 404])
    const stream = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      const req = http.get(`${b.origin}/api/events`, { headers: auth(b) }, (res) => {
        resolve(res.headers)
        req.destroy()
      })
      req.on('error', reject)
    })
    for (const headers of [answered.headers, refused.headers, unknown.headers, stream]) {
      expect(headers['x-content-type-options']).toBe('nosniff')
    }
  })

  it('offers no API method to write the registry: only the engine registers', async () => {
    const { bridge: b } = await start()
    const entry = {
      id: 'm-000000000000',
      kind: 'model',
      name: 'planted',
      version: '1',
      contentHash: '0'.repeat(64),
    }
    const res = await request(`${b.origin}/api/call/registry.register`, {
      method: 'POST',
      headers: auth(b),
      body: JSON.stringify(entry),
    })
    expect(res.status).toBe(404)
    expect(code(res.body)).toBe('UNKNOWN_METHOD')
  })
})
