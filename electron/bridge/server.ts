/**
 * The loopback HTTP bridge: the same contract as IPC, for browser mode and end-to-end tests.
 * Listens on 127.0.0.1 only, on a random port, and answers API calls only with the
 * per-launch bearer token, from its own origin, within the size limit. It never changes
 * when a method is added.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fail, type ErrorCode, type Result } from '../contract'
import { dispatch, inputLimit, type Handlers } from '../contract/dispatch'
import type { EventHub } from '../host/events'
import { CONTENT_SECURITY_POLICY, readStatic } from '../host/static'

export interface BridgeOptions {
  handlers: Handlers
  events: EventHub
  /** The built renderer, served at `/`; omit to serve the API alone. */
  staticRoot?: string
  token?: string
  /** Overrides every method’s input limit (inputLimit), for tests. */
  maxBodyBytes?: number
  port?: number
}

export interface Bridge {
  /** The address to open, token included; the page moves it out of the address bar. */
  url: string
  origin: string
  token: string
  close(): Promise<void>
}

const STATUS: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_METHOD: 404,
  CONFLICT: 409,
  CANCELLED: 409,
  LOCKED: 423,
  CORRUPT: 500,
  TOO_LARGE: 413,
  INTERNAL: 500,
  ENGINE_UNAVAILABLE: 503,
  ENGINE_CRASHED: 503,
}

const HEARTBEAT_MS = 15_000

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const token = options.token ?? randomBytes(32).toString('base64url')
  const expected = Buffer.from(`Bearer ${token}`)
  const closers = new Set<() => void>()
  let origin = ''
  let ownHosts: string[] = []

  const server = http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, fail('INTERNAL', `Bridge failure: ${String(error)}`))
      else res.destroy()
    })
  })

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS-rebinding guard: only our own host name may reach us.
    if (!ownHosts.includes(req.headers.host ?? '')) {
      return send(res, fail('FORBIDDEN', `Unexpected Host header: only ${ownHosts.join(' or ')} is served.`))
    }
    // A browser sends only a path; an absolute URL here would name some other authority.
    const target = req.url ?? ''
    if (!target.startsWith('/')) {
      return send(res, fail('BAD_INPUT', 'The request target must be a path starting with "/", not a URL.'))
    }
    const url = new URL(origin + target)
    if (!url.pathname.startsWith('/api/')) return serveStatic(req, res, url.pathname)

    const requestOrigin = req.headers.origin
    if (requestOrigin !== undefined && requestOrigin !== origin) {
      return send(res, fail('FORBIDDEN', `Requests from ${requestOrigin} are refused.`))
    }
    if (!authorised(req)) return send(res, fail('UNAUTHORIZED', 'Missing or wrong bearer token.'))

    if (url.pathname === '/api/events' && req.method === 'GET') return streamEvents(req, res)
    if (!url.pathname.startsWith('/api/call/')) {
      return send(res, fail('NOT_FOUND', `No API route ${url.pathname}.`))
    }
    const method = decodePath(url.pathname.slice(10))
    if (method === null) {
      return send(res, fail('BAD_INPUT', `Malformed percent-escape in the method name: ${url.pathname}.`))
    }
    if (req.method !== 'POST') return send(res, fail('BAD_INPUT', 'API calls use POST.'))

    const maxBody = options.maxBodyBytes ?? inputLimit(method)
    const body = await readBody(req, maxBody)
    if (body === 'too-large') {
      send(res, fail('TOO_LARGE', `The request body exceeds ${maxBody} bytes.`), { connection: 'close' })
      req.destroy()
      return
    }
    let input: unknown
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'))
    } catch {
      return send(res, fail('BAD_INPUT', 'The request body is not valid JSON.'))
    }
    send(res, await dispatch(options.handlers, method, input, { transport: 'http' }))
  }

  function authorised(req: IncomingMessage): boolean {
    const given = Buffer.from(req.headers.authorization ?? '')
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  function streamEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    })
    res.write(': connected\n\n')
    const unsubscribe = options.events.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`))
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS)
    const stop = () => {
      clearInterval(heartbeat)
      unsubscribe()
      closers.delete(stop)
      res.end()
    }
    closers.add(stop)
    req.on('close', stop)
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (!options.staticRoot || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return send(res, fail('NOT_FOUND', `Nothing at ${pathname}.`))
    }
    const file = await readStatic(options.staticRoot, pathname)
    res.writeHead(file.status, {
      'content-type': file.type,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    })
    res.end(req.method === 'HEAD' ? undefined : file.body)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  origin = `http://127.0.0.1:${port}`
  ownHosts = [`127.0.0.1:${port}`, `localhost:${port}`]

  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    close: async () => {
      for (const stop of [...closers]) stop()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function send(res: ServerResponse, result: Result<unknown>, extra: Record<string, string> = {}): void {
  const status = result.ok ? 200 : STATUS[result.error.code]
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  })
  res.end(JSON.stringify(result))
}

/** A percent-decoded path segment, or null when an escape is malformed (such as %E0%A4%A). */
function decodePath(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

/** Reads a body up to `limit` bytes; stops reading as soon as it is exceeded. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) return Promise.resolve('too-large')
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        resolve('too-large')
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
