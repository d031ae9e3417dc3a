import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { Output } from '../../electron/contract'
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
let first: string
let second: string

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)

const newRequest = (name: string, customer: string) =>
  api<Output<'requests.create'>>('requests.create', {
    requester: { name },
    subjectIds: [{ type: 'customer-id', value: customer }],
    jurisdiction: 'gdpr',
    received: '2026-11-02',
  })

beforeAll(async () => {
  app = await startBrowserMode({ LETHE_KEY_PASSPHRASE: 'correct horse battery' })
  browser = await launchChromium()
  first = (await newRequest('Ann Example', 'C-1')).id
  second = (await newRequest('Bob Example', 'C-2')).id
  // A move the workflow refuses: still an audit entry.
  await expect(api('requests.transition', { id: first, to: 'completed' })).rejects.toThrow(/CONFLICT/)
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

const rows = (page: Page) =>
  page.locator('[data-test=event-table] .el-table__body tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      seq: Number(tr.querySelector('[data-test=event-seq]')?.textContent),
      type: tr.querySelector('[data-test=event-type]')?.textContent ?? '',
      request: tr.querySelector('[data-test=event-request]')?.textContent?.trim() ?? null,
    })),
  )

async function openLedger(page: Page): Promise<void> {
  await page.goto(app.url)
  await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
  await page.keyboard.press('Alt+6')
  await expect(page.locator('h1').textContent()).resolves.toBe('Ledger')
  await page.locator('[data-test=event-table]').waitFor()
}

async function verifyChain(page: Page): Promise<string> {
  await page.locator('[data-test=verify-chain]').click()
  const verdict = page.locator('[data-test=chain-verdict]')
  await verdict.waitFor()
  // As read: the verdict's lines joined with spaces.
  return (await verdict.innerText()).replace(/\s+/g, ' ')
}

describe('ledger in Chromium', () => {
  it('lists, filters and verifies the audit log, and finds an edited entry', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await openLedger(page)

    // Newest first, as the ledger itself lists them.
    const all = await api<Output<'ledger.events'>>('ledger.events', { limit: 100 })
    const shown = await rows(page)
    expect(shown.map((r) => r.seq)).toEqual(all.items.map((e) => e.seq))
    expect(shown.map((r) => r.seq)).toEqual([...shown.map((r) => r.seq)].sort((a, b) => b - a))
    const types = shown.map((r) => r.type)
    expect(types.at(-1)).toBe('ledger.created')
    expect(types.filter((t) => t === 'request.created')).toHaveLength(2)
    expect(types[0]).toBe('request.refused')
    expect(shown[0]?.request).toBe(first)
    await expect(page.locator('[data-test=ledger-events]').textContent()).resolves.toBe(String(all.total))
    await expect(page.locator('[data-test=ledger-requests]').textContent()).resolves.toBe('2')
    await expect(page.locator('[data-test=work-none]').isVisible()).resolves.toBe(true)
    const head = await api<Output<'ledger.head'>>('ledger.head')
    await expect(page.locator('[data-test=head-seq]').textContent()).resolves.toBe(String(head.seq))
    await expect(page.locator('[data-test=head-hash]').textContent()).resolves.toBe(head.hash)
    await screenshot(page, 'ledger')

    // The text search looks through what is loaded.
    await page.getByLabel('Search the loaded entries').fill('refused')
    await expect.poll(async () => (await rows(page)).map((r) => r.type)).toEqual(['request.refused'])
    await page.getByLabel('Search the loaded entries').fill('')

    // Only the first request's entries, from the ledger.
    await page.getByLabel('Request id').fill(first)
    await page.locator('[data-test=apply-filter]').click()
    await expect
      .poll(async () => (await rows(page)).map((r) => r.type))
      .toEqual(['request.refused', 'request.created'])
    expect((await rows(page)).every((r) => r.request === first)).toBe(true)
    expect((await rows(page)).some((r) => r.request === second)).toBe(false)
    await page.locator('[data-test=clear-filter]').click()
    await expect.poll(async () => (await rows(page)).length).toBe(all.total)

    // The whole chain verifies.
    const good = await verifyChain(page)
    expect(good).toContain(`The chain verifies: ${all.total} entries, head seq ${head.seq}`)
    expect(good).toMatch(/every head signed with key ([0-9A-F]{2}:){31}[0-9A-F]{2}/)
    await expect(page.locator('[data-test=chain-verdict]').getAttribute('data-ok')).resolves.toBe('true')
    await screenshot(page, 'ledger-verified')
    expect(problems).toEqual([])

    // An early entry's actor changed on disk: verification names it.
    const eventsDir = path.join(app.dataDir, 'ledger', 'events')
    const segments = readdirSync(eventsDir).filter((f) => /^events-.*\.json$/.test(f))
    expect(segments).toHaveLength(1)
    const name = segments[0] ?? ''
    const file = path.join(eventsDir, name)
    const segment = JSON.parse(readFileSync(file, 'utf8')) as { events: { seq: number; actor: string }[] }
    const edited = segment.events[1]
    expect(edited?.seq).toBe(2)
    if (edited) edited.actor = 'someone else'
    writeFileSync(file, JSON.stringify(segment))

    const bad = await verifyChain(page)
    await expect(page.locator('[data-test=chain-verdict]').getAttribute('data-ok')).resolves.toBe('false')
    expect(bad).toContain('The chain does not verify')
    expect(bad).toContain('Entry seq 2')
    expect(bad).toContain('the entry was edited')
    expect(bad).toContain(name)
    await screenshot(page, 'ledger-tampered')
    expect(problems).toEqual([])
    await page.close()
  })

  it('keeps the page usable in the dark theme', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=theme-toggle]').click()
    await page.keyboard.press('Alt+6')
    await page.locator('[data-test=event-table]').waitFor()
    await verifyChain(page)
    await screenshot(page, 'ledger-dark')
    expect(problems).toEqual([])
    await page.close()
  })
})
