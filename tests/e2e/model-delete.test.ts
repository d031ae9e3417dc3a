/**
 * Deleting what still holds a person's data, through the desk: the Complete dialog lists the
 * versions still trained on the request's rows (delete by default, keep with a reason), and the
 * lineage table deletes a version after asking why, then shows it as a tombstone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import type { Output } from '../../electron/contract'
import {
  bridgeCall,
  launchChromium,
  startBrowserMode,
  watchProblems,
  type BrowserMode,
} from '../support/browser-mode'

let app: BrowserMode
let browser: Browser

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)

async function finished(jobId: string): Promise<Output<'jobs.get'>> {
  for (;;) {
    const job = await api<Output<'jobs.get'>>('jobs.get', { jobId })
    if (job.state !== 'running') {
      if (job.state !== 'succeeded') throw new Error(`job ${jobId} ${job.state}: ${job.error?.message}`)
      return job
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
const started = async (method: string, input: unknown) =>
  finished((await api<{ jobId: string }>(method, input)).jobId)

beforeAll(async () => {
  app = await startBrowserMode()
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

describe('deleting the versions that still hold a request’s rows', () => {
  it('deletes or keeps them when the request completes, and deletes from the lineage table', async () => {
    const dataset = await api<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'breast-cancer' })
    const train = (seed: number) =>
      started('models.train', {
        datasetId: dataset.id,
        arch: { kind: 'logreg' },
        training: { epochs: 3, seed },
      })
    const original = ((await train(1)).result as { id: string }).id
    const sibling = ((await train(2)).result as { id: string }).id
    const request = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Jane Doe', email: 'jane@example.com' },
      subjectIds: [{ type: 'customer-id', value: 'P-0007' }],
      jurisdiction: 'gdpr',
      received: new Date().toISOString().slice(0, 10),
    })
    await api('requests.transition', { id: request.id, to: 'identity-verified', method: 'e-mail' })
    await api('requests.transition', { id: request.id, to: 'in-progress' })
    await started('unlearn.start', { modelId: original, method: 'retrain', requestId: request.id })

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.goto(`${app.origin}/#/requests/${request.id}`)
    await page.locator('[data-test=complete-request]').click()
    const dialog = page.locator('[data-test=transition-dialog]')
    const version = (id: string) => dialog.locator(`[data-test=holding-version][data-id="${id}"]`)
    await version(original).waitFor()
    await expect(version(sibling).count()).resolves.toBe(1)
    // Keeping needs a reason: without one the request stays open.
    await version(sibling).locator('[data-test=holding-keep]').click()
    await page.locator('[data-test=confirm-transition]').click()
    await expect(version(sibling).innerText()).resolves.toContain('Give the reason it is kept')
    await version(sibling).locator('[data-test=holding-reason]').fill('Legal hold 7')
    await page.locator('[data-test=confirm-transition]').click()
    await expect.poll(() => page.locator('[data-test=request-status]').first().innerText()).toBe('Completed')

    const holding = await api<Output<'models.holdingRows'>>('models.holdingRows', { requestId: request.id })
    expect(holding.find((v) => v.id === original)?.deleted?.requestId).toBe(request.id)
    expect(holding.find((v) => v.id === sibling)?.keptReason).toBe('Legal hold 7')

    // The lineage table shows the tombstone, and deletes the kept version once given a reason.
    await page.goto(`${app.origin}/#/models`)
    const row = (id: string) => page.locator(`[data-test=model-row][data-id="${id}"]`)
    await expect
      .poll(() => row(original).locator('[data-test=model-tombstone]').innerText())
      .toContain(request.id)
    await expect(row(original).locator('[data-test=model-delete]').count()).resolves.toBe(0)
    await row(sibling).locator('[data-test=model-delete]').click()
    const confirm = page.locator('[data-test=model-delete-confirm]')
    await expect(confirm.isDisabled()).resolves.toBe(true)
    await expect(page.locator('[data-test=model-delete-dialog]').innerText()).resolves.toContain(
      'cannot be undone',
    )
    await page.locator('[data-test=model-delete-reason]').fill('Hold lifted')
    await confirm.click()
    await expect
      .poll(() => row(sibling).locator('[data-test=model-tombstone]').innerText())
      .toContain('Hold lifted')
    const registry = await api<Output<'registry.list'>>('registry.list', { kind: 'model' })
    expect(registry.find((e) => e.id === sibling)?.deletedAt).not.toBeNull()
    expect(problems).toEqual([])
  }, 240_000)
})
