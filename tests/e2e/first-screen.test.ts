import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { SystemInfo } from '../../electron/contract'
import {
  bridgeCall,
  launchChromium,
  screenshot,
  startBrowserMode,
  watchProblems,
  type BrowserMode,
} from '../support/browser-mode'

let app: BrowserMode
let browser: Browser

beforeAll(async () => {
  app = await startBrowserMode()
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

/** What the real services say, asked over the bridge with the launch token. */
const servicesInfo = async () => SystemInfo.parse(await bridgeCall(app, 'system.info'))

describe('the first screen in Chromium', () => {
  it('shows the data folder and the backend list that came from the real services', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)

    await page.locator('[data-test=backends] .backend-cpu').waitFor({ timeout: 60_000 })
    const info = await servicesInfo()
    expect(await page.locator('[data-test=data-dir]').textContent()).toBe(app.dataDir)
    for (const backend of info.engine.backends) {
      const row = page.locator(`[data-test=backends] .backend-${backend.name}`)
      await expect(row.textContent()).resolves.toContain(backend.label)
      await expect(row.textContent()).resolves.toContain(backend.detail)
      const expected =
        backend.name === info.engine.selected ? 'In use' : backend.available ? 'Usable' : 'Unavailable'
      expect((await row.locator('[data-test=backend-status]').textContent())?.trim()).toBe(expected)
    }
    // The launch token leaves the address bar once the page has it.
    expect(page.url()).not.toContain('token=')
    await page.locator('canvas').first().waitFor()
    await screenshot(page, 'first-screen-light')

    await page.locator('[data-test=theme-toggle]').click()
    await expect(page.locator('html').getAttribute('class')).resolves.toContain('dark')
    await screenshot(page, 'first-screen-dark')
    expect(problems).toEqual([])
    await page.close()
  })

  it('is keyboard reachable: skip link, navigation links, Alt+digit shortcuts', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor()
    const focused = async () => (await page.locator(':focus').textContent())?.trim()

    await page.keyboard.press('Tab')
    expect(await focused()).toBe('Skip to content')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    expect(await focused()).toMatch(/^Requests/)
    await page.keyboard.press('Enter')
    await expect(page.locator('h1').textContent()).resolves.toBe('Requests')

    await page.keyboard.press('Alt+7')
    await expect(page.locator('h1').textContent()).resolves.toBe('Settings')
    expect(await page.locator(':focus').getAttribute('id')).toBe('main')
    await screenshot(page, 'settings-keyboard')
    await page.close()
  })

  it('switches the compute backend from Settings, and the first screen shows it in use', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor()
    await page.keyboard.press('Alt+7')
    const choice = page.locator('[data-test=backend-choice]')
    await choice.getByText('Plain JavaScript CPU').click()
    await page.locator('text=In use: cpu').waitFor()
    await choice.locator('.is-active', { hasText: 'Plain JavaScript CPU' }).waitFor()
    await screenshot(page, 'settings-backend')
    await page.keyboard.press('Alt+1')
    await page.locator('[data-test=backends] .backend-cpu').getByText('In use').waitFor()
    await expect(page.locator('text=Chosen in Settings').count()).resolves.toBe(1)
    const info = await servicesInfo()
    expect(info.engine).toMatchObject({ selected: 'cpu', selectedBy: 'setting' })
    // Back to automatic, so the other tests see the probe's choice.
    await page.keyboard.press('Alt+7')
    await choice.getByText('Automatic').click()
    await page.locator('text=In use: wasm').or(page.locator('text=In use: webgpu')).first().waitFor()
    expect(problems).toEqual([])
    await page.close()
  })

  it('tells a visitor without the launch token what to do', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(app.origin)
    const notice = page.locator('[data-test=error-notice]')
    await notice.waitFor()
    await expect(notice.textContent()).resolves.toContain('UNAUTHORIZED')
    await expect(notice.textContent()).resolves.toContain('npm run start:browser')
    await screenshot(page, 'no-token')
    await context.close()
  })
})
