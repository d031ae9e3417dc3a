/**
 * Serving the built renderer: one policy and one path check for both the app:// protocol
 * (Electron) and the loopback bridge (browser mode).
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * No remote origin anywhere. Scripts only from the app itself; WASM and TF.js live in the
 * engine process, so no 'wasm-unsafe-eval' is needed here.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  // Only the certificate preview: a PDF the page made itself, as a blob: URL (which only its own
  // scripts can make), shown in an <object>, which Chromium loads as a frame.
  'object-src blob:',
  'frame-src blob:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * Maps a URL path onto a file below `root`, or null when it would escape it (`..`, encoded
 * separators, absolute paths, NUL bytes). Shared by the app:// protocol and the bridge.
 */
export function resolveInside(root: string, urlPath: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return null
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null
  const relative = decoded.replace(/^\/+/, '') || 'index.html'
  const base = path.resolve(root)
  const target = path.resolve(base, relative)
  return target === base || target.startsWith(base + path.sep) ? target : null
}

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.pdf': 'application/pdf',
}

export const mimeType = (file: string): string =>
  MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream'

export interface StaticFile {
  status: 200 | 403 | 404
  body: Buffer
  type: string
}

/** Reads a renderer file for a URL path, refusing anything outside `root`. */
export async function readStatic(root: string, urlPath: string): Promise<StaticFile> {
  const file = resolveInside(root, urlPath)
  if (file === null) return { status: 403, body: Buffer.from('Forbidden path'), type: 'text/plain' }
  try {
    return { status: 200, body: await readFile(file), type: mimeType(file) }
  } catch {
    return { status: 404, body: Buffer.from('Not found'), type: 'text/plain' }
  }
}
