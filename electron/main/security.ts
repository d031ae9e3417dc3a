/**
 * The shell's security decisions as pure functions, so they are unit-tested without the
 * Electron binary. `index.ts` wires them to Electron's hooks.
 */

/** The renderer's origin: a privileged custom scheme, never file://. */
export const APP_SCHEME = 'app'
export const APP_HOST = 'lethe'
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`

/**
 * The session request filter: the app makes no network call, ever. Only the app's own
 * scheme, in-memory URLs and the devtools pass; in development, also the local Vite server.
 */
export function isRequestAllowed(url: string, devServerOrigin?: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  switch (parsed.protocol) {
    case `${APP_SCHEME}:`:
      return parsed.host === APP_HOST
    case 'data:':
    case 'blob:':
    case 'devtools:':
      return true
    case 'http:':
    case 'https:':
    case 'ws:':
      // In development only: the local Vite server and its hot-reload websocket.
      return (
        devServerOrigin !== undefined &&
        isLoopbackOrigin(devServerOrigin) &&
        parsed.host === new URL(devServerOrigin).host
      )
    default:
      return false
  }
}

function isLoopbackOrigin(origin: string): boolean {
  const host = new URL(origin).hostname
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]'
}

/** IPC sender check: only frames showing our own renderer may call the API. */
export function isTrustedSender(frameUrl: string | undefined, devServerOrigin?: string): boolean {
  if (!frameUrl) return false
  let parsed: URL
  try {
    parsed = new URL(frameUrl)
  } catch {
    return false
  }
  if (parsed.protocol === `${APP_SCHEME}:`) return parsed.host === APP_HOST
  return devServerOrigin !== undefined && parsed.origin === new URL(devServerOrigin).origin
}

/** Navigation stays inside the app; everything else is refused. */
export const isNavigationAllowed = isTrustedSender
