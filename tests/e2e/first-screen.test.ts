import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { SystemInfo, type Output } from '../../electron/contract'
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
const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)

/** A local calendar date `days` from today, as the ledger counts days. */
function localDate(days: number): string {
  const d = new Date()
  d.setDate(d.getDate() + days)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

const tileValue = async (page: Page, hook: string) =>
  (await page.locator(`[data-test=${hook}] .tile-value`).textContent())?.trim()

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

    // A fresh installation: no requests, and the next steps say what to do.
    const empty = page.locator('[data-test=dashboard-empty]')
    await empty.waitFor()
    await expect(empty.textContent()).resolves.toContain('No requests yet')
    await expect(page.locator('[data-test=summary-open]').count()).resolves.toBe(0)
    await expect(page.locator('[data-test=deadline-timeline]').count()).resolves.toBe(0)
    await screenshot(page, 'dashboard-empty')
    await page.locator('[data-test=add-demo]').click()
    await expect(page.locator('h1').textContent()).resolves.toBe('Models')
    await page.goBack()
    await page.locator('[data-test=log-request]').click()
    await expect(page.locator('h1').textContent()).resolves.toBe('Requests')
    expect(problems).toEqual([])
    await page.close()
  })

  it('shows the compliance overview of real requests, and opens one from the timeline and the list', async () => {
    // Three requests through the real services: one long overdue, one due within days, one fresh.
    const overdue = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Olga Overdue' },
      subjectIds: [{ type: 'customer-id', value: 'C-1' }],
      jurisdiction: 'gdpr',
      received: localDate(-90),
    })
    const soon = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Sam Soon' },
      subjectIds: [{ type: 'customer-id', value: 'C-2' }],
      jurisdiction: 'lgpd', // 15 days: due in 3, or 5 when that is a weekend
      received: localDate(-12),
    })
    const fresh = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Fay Fresh' },
      subjectIds: [{ type: 'email', value: 'fay@example.com' }],
      jurisdiction: 'ccpa',
      received: localDate(0),
    })
    await api('requests.transition', { id: fresh.id, to: 'identity-verified', method: 'e-mail link' })
    expect(overdue.deadline.overdue).toBe(true)
    expect(soon.deadline.dueSoon).toBe(true)

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=summary-open]').waitFor({ timeout: 60_000 })
    expect(await tileValue(page, 'summary-open')).toBe('3')
    expect(await tileValue(page, 'summary-overdue')).toBe('1')
    expect(await tileValue(page, 'summary-due-soon')).toBe('1')
    expect(await tileValue(page, 'summary-closed')).toBe('0')
    // Overdue is red when there is any: the tile says so with its class, the colour comes from the theme.
    await expect(page.locator('[data-test=summary-overdue]').getAttribute('class')).resolves.toContain(
      'tile-danger',
    )
    await expect(page.locator('[data-test=summary-median]').textContent()).resolves.toContain(
      'none closed yet',
    )

    // Due next: nearest deadline first, with the days left in words.
    const due = page.locator('[data-test=due-next-item]')
    await expect(due.count()).resolves.toBe(3)
    await expect(due.nth(0).textContent()).resolves.toMatch(new RegExp(`${overdue.id}.*\\d+ days overdue`))
    await expect(due.nth(1).textContent()).resolves.toMatch(new RegExp(`${soon.id}.*\\d days? left`))
    await expect(due.nth(2).textContent()).resolves.toContain(fresh.id)

    // Recent activity: the ledger's newest entries, in words, linked to their requests.
    const activity = page.locator('[data-test=recent-activity] [data-test=activity-item]')
    await expect(activity.first().textContent()).resolves.toContain(
      'Moved from Received to Identity verified',
    )
    await expect(activity.first().textContent()).resolves.toContain(fresh.id)
    const texts = await activity.allTextContents()
    expect(texts.filter((t) => t.includes('Request logged'))).toHaveLength(3)
    expect(texts.some((t) => /[{}"]/.test(t))).toBe(false) // no raw JSON

    const timeline = page.locator('[data-test=deadline-timeline] canvas')
    await timeline.waitFor()
    await screenshot(page, 'dashboard')

    // The overdue request's point: where the chart puts its due date on the x axis and its status row.
    const box = await timeline.boundingBox()
    if (!box) throw new Error('the timeline has no box')
    const summary = await api<Output<'requests.summary'>>('requests.summary')
    const day = (iso: string) => {
      const [y, m, d] = iso.split('-').map(Number)
      return new Date(y ?? 0, (m ?? 1) - 1, d ?? 1).getTime()
    }
    const dues = [overdue, soon, fresh].map((r) => day(r.deadline.dueDate))
    const min = Math.min(day(summary.today), ...dues) - 3 * 86_400_000
    const max = Math.max(day(summary.today), ...dues) + 3 * 86_400_000
    const grid = { left: 130, right: 30, top: 36, bottom: 30 }
    const x =
      grid.left + ((day(overdue.deadline.dueDate) - min) / (max - min)) * (box.width - grid.left - grid.right)
    const y = grid.top + (0.5 / 4) * (box.height - grid.top - grid.bottom) // 'received', the first of four rows
    await page.mouse.click(box.x + x, box.y + y)
    await page.waitForURL(new RegExp(`#/requests/${overdue.id}$`))

    await page.goBack()
    await page.locator('[data-test=due-next-item]').first().waitFor()
    await page.locator('[data-test=due-next-item] a', { hasText: soon.id }).click()
    await page.waitForURL(new RegExp(`#/requests/${soon.id}$`))

    await page.goBack()
    await page.locator('[data-test=theme-toggle]').click()
    await expect(page.locator('html').getAttribute('class')).resolves.toContain('dark')
    await page.locator('[data-test=deadline-timeline] canvas').waitFor()
    await screenshot(page, 'dashboard-dark')
    await page.locator('[data-test=theme-toggle]').click()
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
