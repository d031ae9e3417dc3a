import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isRequestAllowed, isTrustedSender } from '../../electron/main/security'
import { resolveInside } from '../../electron/host/static'

describe('the network request filter', () => {
  it.each([
    'https://example.com/',
    'http://example.com/tracker.gif',
    'http://127.0.0.1:8080/',
    'ws://localhost:5173/',
    'file:///etc/passwd',
    'ftp://example.com/',
    'app://elsewhere/index.html',
    'not a url',
  ])('cancels %s', (url) => {
    expect(isRequestAllowed(url)).toBe(false)
  })

  it.each([
    'app://lethe/index.html',
    'app://lethe/assets/index.js',
    'data:image/png;base64,AAAA',
    'blob:app://lethe/1',
    'devtools://devtools/bundled/inspector.html',
  ])('lets %s through', (url) => {
    expect(isRequestAllowed(url)).toBe(true)
  })

  it('lets only the local development server through in development', () => {
    const dev = 'http://localhost:5173'
    expect(isRequestAllowed('http://localhost:5173/src/main.ts', dev)).toBe(true)
    expect(isRequestAllowed('ws://localhost:5173/', dev)).toBe(true)
    expect(isRequestAllowed('http://localhost:5174/', dev)).toBe(false)
    expect(isRequestAllowed('https://cdn.example/x.js', dev)).toBe(false)
    expect(isRequestAllowed('http://example.com/', 'http://example.com')).toBe(false)
  })
})

describe('the IPC sender check', () => {
  it('trusts only our own renderer', () => {
    expect(isTrustedSender('app://lethe/index.html#/settings')).toBe(true)
    expect(isTrustedSender('app://lethe.evil/index.html')).toBe(false)
    expect(isTrustedSender('https://lethe/')).toBe(false)
    expect(isTrustedSender('file:///out/renderer/index.html')).toBe(false)
    expect(isTrustedSender(undefined)).toBe(false)
    expect(isTrustedSender('http://localhost:5173/', 'http://localhost:5173')).toBe(true)
  })
})

describe('static path resolution', () => {
  const root = path.resolve('/srv/renderer')
  it('maps paths inside the root', () => {
    expect(resolveInside(root, '/')).toBe(path.join(root, 'index.html'))
    expect(resolveInside(root, '/assets/app.js')).toBe(path.join(root, 'assets/app.js'))
  })
  it.each(['/../secret', '/..%2fsecret', '/assets/%2e%2e/%2e%2e/x', '/a%00b', '/a%5c..%5cb', '/%E0%A4%A'])(
    'refuses %s',
    (urlPath) => {
      expect(resolveInside(root, urlPath)).toBeNull()
    },
  )
})
