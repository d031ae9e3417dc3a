/**
 * Steps on the Runs page that the method end-to-end tests share: a request ready to unlearn,
 * the form with a method chosen, and a run started and waited for.
 */
import { expect } from 'vitest'
import type { Page } from 'playwright-core'
import type { Output } from '../../electron/contract'
import { bridgeCall, type BrowserMode } from './browser-mode'

/** A request for `ids`, moved to in progress so that their rows can be unlearned; returns its id. */
export async function requestInProgress(
  app: BrowserMode,
  ids: string[],
  requester = 'Jane Doe',
): Promise<string> {
  const created = await bridgeCall<Output<'requests.create'>>(app, 'requests.create', {
    requester: { name: requester },
    subjectIds: ids.map((value) => ({ type: 'customer-id', value })),
    jurisdiction: 'gdpr',
    received: '2026-11-02',
  })
  await bridgeCall(app, 'requests.transition', {
    id: created.id,
    to: 'identity-verified',
    method: 'e-mail link',
  })
  await bridgeCall(app, 'requests.transition', { id: created.id, to: 'in-progress' })
  return created.id
}

/** Opens the Runs form on the model and request, chooses `method`, and waits for its options box. */
export async function chooseMethod(
  page: Page,
  app: BrowserMode,
  run: { modelId: string; requestId: string; method: string; options: string },
): Promise<void> {
  await page.goto(`${app.url}#/runs?request=${run.requestId}&model=${run.modelId}`)
  await page.locator('[data-test=new-run] form').waitFor()
  await page.locator('[data-test=run-match]').waitFor()
  await page.locator(`[data-test=method-${run.method}]`).click()
  await page.locator(`[data-test=${run.options}]`).waitFor()
}

/** Closes the outcome of an earlier run, so that what follows is this run's. */
export async function closeLastRun(page: Page): Promise<void> {
  const close = page.getByRole('button', { name: 'Close the last run' })
  if (await close.count()) {
    await close.click()
    await page.locator('[data-test=current-run]').waitFor({ state: 'detached' })
  }
}

/** Starts the run and waits for its record to be shown; returns the new version's id. */
export async function startRunAndWait(page: Page): Promise<string> {
  await closeLastRun(page)
  await page.locator('[data-test=start-run]').click()
  const job = page.locator('[data-test=current-run] [data-test=job]')
  await job.waitFor()
  // Ended one way or the other; a failure shows its message here rather than as a timeout.
  await expect
    .poll(() => job.getAttribute('data-state'), { timeout: 240_000, interval: 200 })
    .not.toBe('running')
  expect(await job.innerText()).not.toContain('Failed')
  await page.locator('[data-test=run-finished]').waitFor()
  const panel = page.locator('[data-test=verification-panel]')
  await panel.waitFor()
  return (await panel.getAttribute('data-model')) as string
}
