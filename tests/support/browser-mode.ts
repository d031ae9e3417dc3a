/**
 * End-to-end harness: the built app in browser mode (real services, real bridge) on a fresh
 * data folder, driven by Debian's Chromium through playwright-core.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { tempDir } from './fixtures'
import { TEST_PASSPHRASE } from './ledger'

export const ARTIFACTS = path.resolve('artifacts/e2e')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface BrowserMode {
  url: string
  origin: string
  token: string
  dataDir: string
  stop(): Promise<void>
}

export async function startBrowserMode(env: Record<string, string> = {}): Promise<BrowserMode> {
  const entry = path.resolve('out/main/browser.js')
  if (!existsSync(entry)) throw new Error('Build first: npm run test:e2e runs "electron-vite build".')
  const dataDir = tempDir('lethe-e2e-')
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, LETHE_DATA_DIR: dataDir, LETHE_KEY_PASSPHRASE: TEST_PASSPHRASE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not start:\n${output}`)), 30_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[0])
      }
    }
    child.stdout?.on('data', read)
    child.stderr?.on('data', read)
    child.once('exit', (code) => reject(new Error(`browser mode exited with ${code}:\n${output}`)))
  })
  const parsed = new URL(url)
  return {
    url,
    origin: parsed.origin,
    token: parsed.searchParams.get('token') ?? '',
    dataDir,
    stop: () => stopProcess(child),
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

/** A call to the real services over the bridge, with the launch token, as the renderer makes it. */
export async function bridgeCall<T>(app: BrowserMode, method: string, input: unknown = {}): Promise<T> {
  const response = await fetch(`${app.origin}/api/call/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  })
  const body = (await response.json()) as {
    ok: boolean
    value?: T
    error?: { code: string; message: string }
  }
  if (!body.ok) throw new Error(`${method}: ${body.error?.code} ${body.error?.message}`)
  return body.value as T
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

/** Collects what a person would never want to see: page errors, console errors, CSP reports. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/.test(message.text())) {
      problems.push(`console ${message.type()}: ${message.text()}`)
    }
  })
  return problems
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const file = path.join(ARTIFACTS, `${name}.png`)
  // Finished transitions: a screenshot shows the state the test reached, not a frame of an animation.
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' })
  return file
}
