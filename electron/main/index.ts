/**
 * The composition root of the desktop app: the only module besides the IPC binding's types
 * that touches Electron. It hardens the shell, serves the renderer from app://, binds the
 * contract to IPC and runs the engine in a utility process.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { app, BrowserWindow, dialog, ipcMain, protocol, safeStorage, session, utilityProcess } from 'electron'
import { methodNames } from '../contract'
import { IPC_EVENT_CHANNEL, METHODS_ARGUMENT } from '../contract/channels'
import type { EngineChannel, EngineReply } from '../engine/protocol'
import { keyProtectorOncePerLaunch } from '../host/key-protection'
import { resolveDataDir } from '../host/paths'
import { createServices } from '../host/services'
import { CONTENT_SECURITY_POLICY, readStatic } from '../host/static'
import { chooseFileWith } from './dialogs'
import { bindIpc } from './ipc'
import {
  APP_HOST,
  APP_ORIGIN,
  APP_SCHEME,
  isNavigationAllowed,
  isRequestAllowed,
  isTrustedSender,
} from './security'

const here = path.dirname(fileURLToPath(import.meta.url))
const rendererRoot = path.join(here, '../renderer')
// electron-vite sets this in development only; a packaged app never loads from a server.
const devServer = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
])

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => {
    const [window] = BrowserWindow.getAllWindows()
    if (window?.isMinimized()) window.restore()
    window?.focus()
  })
  void app.whenReady().then(start)
}

/** The engine in its own process: an out-of-memory there arrives as an exit, not a crash. */
function utilityProcessChannel(): EngineChannel {
  const child = utilityProcess.fork(path.join(here, 'engine-worker.js'), [], { serviceName: 'Lethe engine' })
  let exitListener: (reason: string) => void = () => {}
  child.on('exit', (code) => exitListener(`exit code ${code}`))
  return {
    post: (request) => child.postMessage(request),
    onMessage: (listener) => child.on('message', (reply: EngineReply) => listener(reply)),
    onExit: (listener) => (exitListener = listener),
    terminate: async () => {
      child.kill()
    },
  }
}

function harden(): void {
  const ses = session.defaultSession
  // No network call, ever: every request outside the app is cancelled.
  ses.webRequest.onBeforeRequest((details, callback) =>
    callback({ cancel: !isRequestAllowed(details.url, devServer) }),
  )
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  ses.setPermissionCheckHandler(() => false)
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event, url) => {
      if (!isNavigationAllowed(url, devServer)) event.preventDefault()
    })
    contents.on('will-attach-webview', (event) => event.preventDefault())
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url)
    if (url.host !== APP_HOST) return new Response('Unknown host', { status: 404 })
    const file = await readStatic(rendererRoot, url.pathname)
    return new Response(new Uint8Array(file.body), {
      status: file.status,
      headers: { 'content-type': file.type, 'content-security-policy': CONTENT_SECURITY_POLICY },
    })
  })
}

function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Lethe',
    icon: path.join(here, '../../resources/icon.png'),
    webPreferences: {
      preload: path.join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      additionalArguments: [METHODS_ARGUMENT + methodNames.join(',')],
    },
  })
  window.once('ready-to-show', () => window.show())
  void window.loadURL(devServer ?? `${APP_ORIGIN}/index.html`)
  return window
}

async function start(): Promise<void> {
  const dataDir = resolveDataDir(undefined, app.getPath('userData'))
  app.setPath('userData', dataDir)
  harden()
  const services = createServices({
    dataDir,
    host: 'electron',
    spawnEngine: utilityProcessChannel,
    keyProtector: keyProtectorOncePerLaunch(safeStorage, process.platform, process.env),
  })
  void services.ledger.ledger().catch(() => undefined) // damage is reported through ledger.status
  const handlers = {
    ...services.handlers,
    'system.chooseFile': chooseFileWith(dialog, () => BrowserWindow.getFocusedWindow()),
  }
  bindIpc(ipcMain, handlers, (url) => isTrustedSender(url, devServer))
  services.events.subscribe((event) => {
    for (const window of BrowserWindow.getAllWindows()) window.webContents.send(IPC_EVENT_CHANNEL, event)
  })
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app.on('will-quit', () => void services.close())
}
