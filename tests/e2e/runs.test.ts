import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { Output } from '../../electron/contract'
import { tempDir } from '../support/fixtures'
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
let page: Page
let problems: string[]

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)
const models = () => api<Output<'models.list'>>('models.list')
const text = async (page: Page, selector: string) =>
  (await page.locator(selector).first().textContent()) ?? ''

/** The address of an area in this launch, token included. */
const at = (route: string) => `${app.url}#${route}`

// Shared by the steps below, in order.
let original: Output<'models.list'>[number]
let requestId: string
let unlearnedId: string

beforeAll(async () => {
  app = await startBrowserMode()
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  problems = watchProblems(page)
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

/** Two small IDX files: 30 images of 8×8 pixels and their labels (three classes). */
function tinyIdx(): { images: string; labels: string } {
  const dir = tempDir('lethe-e2e-idx-')
  const n = 30
  const be = (values: number[]) => {
    const buffer = Buffer.alloc(4 * values.length)
    values.forEach((v, i) => buffer.writeUInt32BE(v, 4 * i))
    return buffer
  }
  const pixels = Buffer.from(
    Array.from({ length: n * 64 }, (_, i) => (i * 37 + Math.floor(i / 64) * 11) % 256),
  )
  const labels = Buffer.from(Array.from({ length: n }, (_, i) => i % 3))
  const files = { images: path.join(dir, 'images-idx3-ubyte'), labels: path.join(dir, 'labels-idx1-ubyte') }
  writeFileSync(files.images, Buffer.concat([be([0x0803, n, 8, 8]), pixels]))
  writeFileSync(files.labels, Buffer.concat([be([0x0801, n]), labels]))
  return files
}

/** Reads an el-progress bar's value until its job leaves 'running'; returns every value seen. */
async function watchProgress(page: Page, hook: string, onRunning?: () => Promise<void>): Promise<number[]> {
  const seen: number[] = []
  const bar = page.locator(`[data-test=${hook}]`)
  await bar.waitFor()
  for (;;) {
    const state = await bar.getAttribute('data-state')
    const value = Number(await bar.getAttribute('aria-valuenow'))
    if (state === 'running') {
      seen.push(value)
      await onRunning?.()
    } else {
      return seen
    }
    await page.waitForTimeout(100)
  }
}

describe('models and unlearning runs in Chromium', () => {
  it('adds a demo dataset and trains a model from the Models area, with live progress', async () => {
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
    await page.keyboard.press('Alt+3')
    await expect(page.locator('h1').textContent()).resolves.toBe('Models')

    // Empty states say what to do next.
    await page.locator('[data-test=datasets-empty]').waitFor()
    await expect(text(page, '[data-test=datasets-empty]')).resolves.toContain('Add a demo dataset to start')
    await expect(text(page, '[data-test=models-empty]')).resolves.toContain('Add a demo dataset to start')
    await expect(page.locator('[data-test=train-model]').isDisabled()).resolves.toBe(true)
    const info = await api<Output<'system.info'>>('system.info')
    const selected = info.engine.backends.find((b) => b.name === info.engine.selected)
    await expect(text(page, '[data-test=backend-in-use]')).resolves.toContain(selected?.label)
    await screenshot(page, 'models-empty')

    // A file that is not there: the server's message, in the dialog.
    await page.locator('[data-test=import-file]').click()
    await page.getByLabel('Path').fill('/nonexistent/customers.csv')
    await page.locator('[data-test=import-read-columns]').click()
    const notice = page.locator('[data-test=import-dialog] [data-test=error-notice]')
    await notice.waitFor()
    await expect(notice.textContent()).resolves.toContain('Cannot read /nonexistent/customers.csv')
    // The bridge answers a typed error with HTTP 400, which Chromium logs: the one line expected.
    expect(problems.splice(0)).toEqual([
      'console error: Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ])
    await page.keyboard.press('Escape')
    await notice.waitFor({ state: 'hidden' })

    // The demo, from the menu.
    await page.locator('[data-test=add-demo]').click()
    await expect(text(page, '[data-test=add-demo-digits]')).resolves.toContain('1,797')
    await page.locator('[data-test=add-demo-breast-cancer]').waitFor({ state: 'visible' })
    await screenshot(page, 'models-add-demo')
    await page.locator('[data-test=add-demo-breast-cancer]').click()
    const row = page.locator('[data-test=datasets-table] .el-table__body tr', { hasText: 'breast-cancer' })
    await row.waitFor()
    const dataset = (await api<Output<'datasets.list'>>('datasets.list'))[0]
    expect(dataset?.name).toBe('breast-cancer')
    const cells = (await row.locator('td').allTextContents()).map((t) => t.trim())
    expect(cells).toEqual([
      `breast-cancer${dataset?.id}`,
      'Table',
      '569',
      '30',
      'benign, malignant',
      '569',
      '456 / 113',
      `${dataset?.contentHash.slice(0, 12)}…`,
    ])
    await expect(text(page, '[data-test=models-empty]')).resolves.toContain('Train a model')

    // A logistic regression through the dialog, long enough to watch it move.
    await page.locator('[data-test=train-model]').click()
    await page.locator('[data-test=train-dialog]').waitFor()
    await expect(text(page, '[data-test=train-dataset]')).resolves.toContain('breast-cancer')
    await expect(page.locator('[data-test=train-arch-cnn] input').isDisabled()).resolves.toBe(true)
    // A logistic regression defaults to L-BFGS (done in a blink); SGD's epochs give a run to watch.
    await page.locator('[data-test=train-optimizer] .el-radio', { hasText: 'SGD' }).click()
    await page.getByLabel('Epochs').fill('200')
    await page.getByLabel('Batch size').fill('16')
    await page.getByLabel('Batch size').blur()
    await screenshot(page, 'models-train-dialog')
    await page.locator('[data-test=train-start]').click()
    await page.locator('[data-test=train-dialog]').waitFor({ state: 'hidden' })

    let shot = false
    const seen = await watchProgress(page, 'train-progress', async () => {
      const value = Number(await page.locator('[data-test=train-progress]').getAttribute('aria-valuenow'))
      const points = Number((await page.locator('[data-test=loss-chart]').getAttribute('data-points')) ?? 0)
      if (!shot && value > 10 && value < 90 && points > 2) {
        shot = true
        await screenshot(page, 'models-training')
      }
    })
    // The bar moved while the job ran: values between 0 and 100 were shown.
    expect(seen.some((v) => v > 0 && v < 100)).toBe(true)
    expect(shot).toBe(true)
    await page.locator('[data-test=train-finished]').waitFor()
    await expect(text(page, '[data-test=training] [data-test=job-message]')).resolves.toBe('Finished')

    const list = await models()
    expect(list).toHaveLength(1)
    original = list[0] as (typeof list)[number]
    expect(original.method).toBe('train')
    await expect(text(page, '[data-test=train-finished]')).resolves.toContain(original.id)
    const modelRow = page.locator('[data-test=model-row]')
    await expect(modelRow.count()).resolves.toBe(1)
    const rowText = await modelRow.textContent()
    for (const part of [original.id, 'logistic regression 30→2', '62', 'breast-cancer', 'Trained']) {
      expect(rowText).toContain(part)
    }

    // A file by its path, through the dialog.
    await page.locator('[data-test=import-file]').click()
    await page.getByLabel('Path').fill(path.resolve('resources/datasets/digits.csv'))
    // The header is read, and the subject and label are chosen from its columns.
    await page.locator('[data-test=import-read-columns]').click()
    await expect(text(page, '[data-test=import-columns-found]')).resolves.toContain('CSV, 66 columns')
    for (const [select, column] of [
      ['import-subject', 'subject_id'],
      ['import-label', 'digit'],
    ] as const) {
      // The selects filter as one types: the column's name, then Enter picks it.
      await page.locator(`[data-test=${select}]`).click()
      await page.keyboard.type(column)
      await page.keyboard.press('Enter')
      await expect(text(page, `[data-test=${select}]`)).resolves.toContain(column)
    }
    // Its 64 pixel columns are 8×8 images: a shape that is not one is said and blocks the import.
    await page.getByLabel('Image shape').fill('8x8')
    await expect(text(page, '[data-test=import-shape-hint]')).resolves.toBe(
      'Height x width x channels, such as 8x8x1, or empty.',
    )
    await expect(page.locator('[data-test=import-submit]').isDisabled()).resolves.toBe(true)
    await screenshot(page, 'models-import-dialog')
    await page.getByLabel('Image shape').fill('8x8x1')
    await page.locator('[data-test=import-submit]').click()
    await page.locator('[data-test=import-dialog]').waitFor({ state: 'hidden' })
    await page.locator('[data-test=datasets-table] .el-table__body tr', { hasText: 'digits' }).waitFor()
    await expect(page.locator('[data-test=datasets-table] .el-table__body tr').count()).resolves.toBe(2)
    await page.locator('[data-test=train-model]').click()
    await page.locator('[data-test=train-dataset]').click()
    await page.locator('.el-select-dropdown__item', { hasText: 'digits' }).click()
    // Digits imported with their 8×8 shape: a CNN may train on them; an MLP takes its width.
    await expect(page.locator('[data-test=train-arch-cnn] input').isDisabled()).resolves.toBe(false)
    await expect(page.locator('[data-test=train-hidden]').count()).resolves.toBe(0)
    await page.locator('[data-test=train-arch-mlp]').click()
    await page.locator('[data-test=train-hidden]').waitFor()
    await expect(page.getByLabel('Hidden width').inputValue()).resolves.toBe('64')
    await page.locator('[data-test=train-dialog]').getByRole('button', { name: 'Cancel' }).click()
    await page.locator('[data-test=train-dialog]').waitFor({ state: 'hidden' })

    // A pair of IDX files (images and labels) is an image set: a CNN can be trained on it.
    const idx = tinyIdx()
    await page.locator('[data-test=import-file]').click()
    await page.locator('[data-test=import-format]').getByText('IDX images and labels').click()
    await page.getByLabel('Images file').fill(idx.images)
    await page.getByLabel('Labels file').fill(idx.labels)
    await page.locator('#import-name').fill('tiny images')
    await page.locator('[data-test=import-submit]').click()
    await page.locator('[data-test=import-dialog]').waitFor({ state: 'hidden' })
    const images = page.locator('[data-test=datasets-table] .el-table__body tr', { hasText: 'tiny images' })
    await images.waitFor()
    await expect(images.textContent()).resolves.toContain('8×8×1')
    await page.locator('[data-test=train-model]').click()
    await page.locator('[data-test=train-dataset]').click()
    await page.locator('.el-select-dropdown__item', { hasText: 'tiny images' }).click()
    await expect(page.locator('[data-test=train-arch-cnn] input').isDisabled()).resolves.toBe(false)
    await page.locator('[data-test=train-dialog]').getByRole('button', { name: 'Cancel' }).click()
    await page.locator('[data-test=train-dialog]').waitFor({ state: 'hidden' })
    await expect(models()).resolves.toHaveLength(1)
    expect(problems).toEqual([])
  })

  it('unlearns a request’s rows with live progress, then shows the verification, also after a reload', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => ({
      type: 'customer-id',
      value: `P-${String(i + 1).padStart(4, '0')}`,
    }))
    const request = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Jane Doe' },
      subjectIds: ids,
      jurisdiction: 'gdpr',
      received: '2026-11-02',
    })
    requestId = request.id
    await api('requests.transition', { id: requestId, to: 'identity-verified', method: 'e-mail link' })
    await api('requests.transition', { id: requestId, to: 'in-progress' })

    await page.goto(at(`/runs?request=${requestId}&model=${original.id}`))
    await page.locator('[data-test=new-run] form').waitFor()
    await expect(text(page, '[data-test=run-model]')).resolves.toContain(original.name)
    await expect(text(page, '[data-test=run-request]')).resolves.toContain(requestId)
    await page.locator('[data-test=run-match]').waitFor()
    const preview = await api<Output<'matching.preview'>>('matching.preview', { requestId, limit: 0 })
    const matched = preview.datasets.find((d) => d.datasetId === original.datasetId)?.matched.train ?? 0
    expect(matched).toBeGreaterThanOrEqual(10)
    await expect(text(page, '[data-test=run-match]')).resolves.toContain(`${matched} training rows`)

    // Every method with its guarantee; fine-tuning chosen, the comparison kept on.
    const methods = await api<Output<'unlearn.methods'>>('unlearn.methods')
    for (const m of methods) {
      const card = page.locator(`[data-test=method-${m.name}]`)
      await expect(card.textContent()).resolves.toContain(m.label)
      await expect(card.textContent()).resolves.toContain(m.description)
    }
    await expect(text(page, '[data-test=method-retrain] [data-test=method-guarantee]')).resolves.toBe('Exact')
    await expect(text(page, '[data-test=method-finetune] [data-test=method-guarantee]')).resolves.toBe(
      'Empirical',
    )
    await page.locator('[data-test=method-finetune]').click()
    await expect(page.locator('[data-test=method-finetune] input').isChecked()).resolves.toBe(true)
    await expect(page.locator('[data-test=run-reference] input').isChecked()).resolves.toBe(true)
    await expect(text(page, '[data-test=past-runs-empty]')).resolves.toContain('No unlearning runs yet')
    await screenshot(page, 'run-form')

    await page.locator('[data-test=start-run]').click()
    let shot = false
    const seen = await watchProgress(page, 'run-progress', async () => {
      const points = Number((await page.locator('[data-test=loss-chart]').getAttribute('data-points')) ?? 0)
      if (!shot && points > 2) {
        shot = true
        await screenshot(page, 'run-progress')
      }
    })
    expect(seen.length).toBeGreaterThan(0)
    expect(shot).toBe(true)

    // The verification panel, from the stored record.
    await page.locator('[data-test=run-finished]').waitFor()
    const panel = page.locator('[data-test=verification-panel]')
    await panel.waitFor()
    unlearnedId = (await panel.getAttribute('data-model')) as string
    const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId: unlearnedId })
    expect(record.method).toBe('finetune')
    expect(record.parent.id).toBe(original.id)
    expect(record.report.reference).not.toBeNull()
    await expect(text(page, '[data-test=run-finished]')).resolves.toContain(unlearnedId)
    await expect(text(page, '[data-test=forgotten-rows]')).resolves.toBe(String(record.forgotten))
    await expect(text(page, '[data-test=guarantee]')).resolves.toContain(record.guarantee.meaning)
    await expect(text(page, '[data-test=verification-request]')).resolves.toBe(requestId)
    for (const chart of ['accuracy-chart', 'mia-chart', 'roc-chart', 'distance-chart']) {
      await expect(page.locator(`[data-test=${chart}] canvas`).count()).resolves.toBe(1)
    }
    const aucs = await page.locator('[data-test=scores-table] [data-test=mia-auc]').allTextContents()
    expect(aucs).toHaveLength(3)
    const auc = record.report.unlearned.mia.auc
    expect(auc).not.toBeNull()
    expect(aucs[1]).toContain((auc as number).toFixed(2))
    await expect(text(page, '[data-test=distance-statement]')).resolves.toContain(
      (record.report.distance.unlearnedToReference as number).toFixed(3),
    )
    await expect(text(page, '[data-test=agreement]')).resolves.toContain(
      `${(100 * (record.report.agreementWithReference as { test: number }).test).toFixed(1)} %`,
    )
    await expect(page.locator('[data-test=past-run]').count()).resolves.toBe(1)
    await screenshot(page, 'run-verification')

    // Read back from disk after a reload, through the model's address.
    await page.goto(at(`/runs?model=${unlearnedId}`))
    await page.reload()
    await page.locator('[data-test=verification-panel]').waitFor()
    await expect(page.locator('[data-test=verification-panel]').getAttribute('data-model')).resolves.toBe(
      unlearnedId,
    )
    await expect(page.locator('[data-test=current-run]').count()).resolves.toBe(0)
    await page.locator('[data-test=roc-chart] canvas').waitFor()

    await page.locator('[data-test=theme-toggle]').click()
    await page.locator('[data-test=verification-panel]').scrollIntoViewIfNeeded()
    await screenshot(page, 'run-verification-dark')
    await page.locator('[data-test=theme-toggle]').click()
    expect(problems).toEqual([])
  })

  it('takes up a run started elsewhere after a reload, and cancels it: no new version', async () => {
    const before = await models()
    // A long fine-tuning (its epochs are not in the form), started through the API.
    const { jobId } = await api<{ jobId: string }>('unlearn.start', {
      modelId: original.id,
      method: 'finetune',
      requestId,
      reference: true,
      options: { epochs: 1000 },
    })
    await page.goto(at('/runs'))
    await page.reload()
    const bar = page.locator('[data-test=run-progress]')
    await bar.waitFor()
    await expect(bar.getAttribute('data-state')).resolves.toBe('running')
    // The curve so far, then the live one.
    const points = async () =>
      Number((await page.locator('[data-test=loss-chart]').getAttribute('data-points')) ?? 0)
    await expect.poll(points, { timeout: 60_000, interval: 100 }).toBeGreaterThan(2)
    await page.locator('[data-test=cancel-run]').click()
    await page.locator('[data-test=job-cancelled]').waitFor()
    await expect(bar.getAttribute('data-state')).resolves.toBe('cancelled')
    await expect(text(page, '[data-test=run-cancelled]')).resolves.toContain('no model version was made')
    await expect(text(page, '[data-test=current-run] [data-test=job-message]')).resolves.toBe('Cancelled')

    // The service marks the job once the ledger has recorded the abandoned work, just after the event.
    const state = async () => (await api<Output<'jobs.get'>>('jobs.get', { jobId })).state
    await expect.poll(state, { timeout: 30_000, interval: 100 }).toBe('cancelled')
    expect((await models()).map((m) => m.id).sort()).toEqual(before.map((m) => m.id).sort())
    await expect(page.locator('[data-test=past-run]').count()).resolves.toBe(1)
    expect(problems).toEqual([])
  })

  it('shows the unlearned version under its original in the lineage, linked to its run record', async () => {
    await page.goto(at('/models'))
    const rows = page.locator('[data-test=model-row]')
    await rows.nth(1).waitFor()
    await expect(rows.count()).resolves.toBe(2)
    await expect(rows.nth(0).getAttribute('data-id')).resolves.toBe(original.id)
    await expect(rows.nth(0).getAttribute('data-depth')).resolves.toBe('0')
    await expect(rows.nth(1).getAttribute('data-id')).resolves.toBe(unlearnedId)
    await expect(rows.nth(1).getAttribute('data-parent')).resolves.toBe(original.id)
    await expect(rows.nth(1).getAttribute('data-depth')).resolves.toBe('1')
    const child = (await rows.nth(1).textContent()) ?? ''
    for (const part of ['Fine-tuning', requestId, 'Run record', 'v2']) expect(child).toContain(part)
    await screenshot(page, 'models-lineage')
    await page.locator('[data-test=theme-toggle]').click()
    await screenshot(page, 'models-lineage-dark')
    await page.locator('[data-test=theme-toggle]').click()

    await rows.nth(1).locator('[data-test=run-record-link]').click()
    await page.locator('[data-test=verification-panel]').waitFor()
    await expect(page.locator('[data-test=verification-panel]').getAttribute('data-model')).resolves.toBe(
      unlearnedId,
    )
    await expect(page.locator('h1').textContent()).resolves.toBe('Runs')
    expect(problems).toEqual([])
  })
})
