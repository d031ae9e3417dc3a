/**
 * Certified fast unlearning (HF) at the desk, in Chromium on a fresh data folder: the default
 * (ε, δ) in Settings, a logistic regression trained with HF's recording from the dialog, a
 * request unlearned in milliseconds with its certification panel (constants and their
 * provenance, the deletion budget) beside the verification, a second request on the new
 * version topping the noise up, and a run without noise marked as not certified.
 */
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
import { chooseMethod, requestInProgress, startRunAndWait } from '../support/runs-page'

type ModelInfo = Output<'models.list'>[number]
interface Certification {
  noise: boolean
  epsilon: number
  delta: number
  sigma: number
  sigmaBefore: number
  rowsDeleted: number
  noiseLimit: number
  capacityRows: number
  constants: { symbol: string; source: string }[]
  assumptions: string[]
}

let app: BrowserMode
let browser: Browser
let page: Page
let problems: string[]

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)
const text = async (selector: string) => ((await page.locator(selector).first().innerText()) ?? '').trim()
const at = (route: string) => `${app.url}#${route}`
const certificationOf = async (modelId: string) => {
  const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId })
  return { record, certification: record.details.certification as Certification }
}

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

let prepared: ModelInfo
let plain: ModelInfo
let firstVersion: string

describe('certified fast unlearning (HF) in Chromium', () => {
  it('keeps the default (ε, δ) in Settings, refusing values out of bounds', async () => {
    await page.goto(at('/settings'))
    const card = page.locator('[data-test=certification-settings]')
    await card.locator('[data-test=certification-epsilon]').waitFor()
    await expect(card.locator('[data-test=certification-epsilon]').inputValue()).resolves.toBe('1')
    await expect(card.locator('[data-test=certification-delta]').inputValue()).resolves.toBe('1e-5')
    await expect(card.locator('[data-test=certification-save]').isDisabled()).resolves.toBe(true)

    // δ must stay below 0.1: the form says why, and nothing can be saved.
    await card.getByLabel('Default δ').fill('0.5')
    await expect(card.textContent()).resolves.toContain('δ must be above 0 and below 0.1')
    await expect(card.locator('[data-test=certification-save]').isDisabled()).resolves.toBe(true)
    await card.getByLabel('Default ε').fill('0')
    await expect(card.textContent()).resolves.toContain('ε must be above 0 and at most 100')
    await card.scrollIntoViewIfNeeded()
    await screenshot(page, 'hf-settings-invalid')

    await card.getByLabel('Default ε').fill('2')
    await card.getByLabel('Default δ').fill('1e-6')
    await card.locator('[data-test=certification-save]').click()
    await expect
      .poll(async () => (await api<{ certification: unknown }>('settings.get')).certification)
      .toEqual({ epsilon: 2, delta: 1e-6 })
    await expect(card.locator('[data-test=certification-save]').isDisabled()).resolves.toBe(true)
    await screenshot(page, 'hf-settings')
    expect(problems).toEqual([])
  })

  it('trains a logistic regression with HF recording from the dialog, and tags it with its statistics', async () => {
    const dataset = await api<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'breast-cancer' })
    await page.goto(at('/models'))
    await page.locator('[data-test=train-model]').click()
    const dialog = page.locator('[data-test=train-dialog]')
    await dialog.waitFor()
    await expect(dialog.locator('[data-test=train-optimizer] input[value=adam]').isDisabled()).resolves.toBe(
      false,
    )

    // Recording locks the recipe HF's recursion needs, with a note saying why.
    await dialog.locator('[data-test=train-hf-switch]').click()
    await dialog.locator('[data-test=train-hf-note]').waitFor()
    await expect(dialog.locator('[data-test=train-optimizer] input[value=adam]').isDisabled()).resolves.toBe(
      true,
    )
    await expect(dialog.locator('[data-test=train-optimizer] input[value=sgd]').isChecked()).resolves.toBe(
      true,
    )
    await expect(dialog.getByLabel('Momentum').inputValue()).resolves.toBe('0.000')
    await expect(dialog.getByLabel('Momentum').isDisabled()).resolves.toBe(true)
    await expect(dialog.locator('[data-test=train-same-order] input').isChecked()).resolves.toBe(true)
    await expect(dialog.locator('[data-test=train-same-order] input').isDisabled()).resolves.toBe(true)
    await expect(text('[data-test=train-schedule]')).resolves.toContain('Exponential')
    await expect(dialog.getByLabel('Decay per step').inputValue()).resolves.toBe('0.9950')

    // The size: training rows × parameters (30 features → 2 classes: 62) × 4 bytes, or 2 in float16.
    const rows = dataset.split.train
    await expect(text('[data-test=train-hf-size]')).resolves.toContain(
      `${rows} training rows × 62 parameters × 4`,
    )
    await expect(text('[data-test=train-hf-float32]')).resolves.toContain(
      `${((rows * 62 * 4) / 1000).toFixed(1)} KB`,
    )
    await expect(text('[data-test=train-hf-float16]')).resolves.toContain(
      `${((rows * 62 * 2) / 1000).toFixed(1)} KB`,
    )
    await expect(dialog.locator('[data-test=train-hf-large]').count()).resolves.toBe(0)

    // HF's bound Δ shrinks with the batch size and grows with every step: on the demo's 456
    // training rows, a few full-batch steps leave room for a handful of certified deletions.
    await dialog.getByLabel('Epochs').fill('3')
    await dialog.getByLabel('Batch size').fill(String(rows))
    await dialog.getByLabel('Learning rate').fill('0.3')
    await dialog.getByLabel('L2 penalty').fill('0.001')
    await dialog.getByLabel('L2 penalty').blur()
    await screenshot(page, 'hf-train-dialog')
    await dialog.locator('[data-test=train-start]').click()
    await dialog.waitFor({ state: 'hidden' })
    await page.locator('[data-test=train-finished]').waitFor({ timeout: 300_000 })

    const list = await api<ModelInfo[]>('models.list')
    expect(list).toHaveLength(1)
    prepared = list[0] as ModelInfo
    expect(prepared.preparation).toMatchObject({ method: 'hf', dtype: 'float32', rows, dim: 62 })
    const tag = page.locator(`[data-test=model-row][data-id=${prepared.id}] [data-test=model-hf-tag]`)
    await tag.waitFor()
    const size = `${((prepared.preparation?.bytes ?? 0) / 1000).toFixed(1)} KB`
    await expect(tag.innerText()).resolves.toBe(`HF statistics · ${size}`)
    await tag.hover()
    await expect(page.getByRole('tooltip').innerText()).resolves.toContain(
      `${rows} rows × 62 parameters, float32`,
    )
    await screenshot(page, 'hf-model-tag')

    // A model trained without recording, for the refusal below: no tag.
    const { jobId } = await api<{ jobId: string }>('models.train', {
      datasetId: dataset.id,
      arch: { kind: 'logreg' },
      training: { epochs: 2, batchSize: 64 },
      name: 'plain logreg',
    })
    await expect
      .poll(async () => (await api<Output<'jobs.get'>>('jobs.get', { jobId })).state, { timeout: 120_000 })
      .toBe('succeeded')
    plain = (await api<ModelInfo[]>('models.list')).find((m) => m.id !== prepared.id) as ModelInfo
    expect(plain.preparation).toBeNull()
    await page.reload()
    await page.locator(`[data-test=model-row][data-id=${plain.id}]`).waitFor()
    await expect(
      page.locator(`[data-test=model-row][data-id=${plain.id}] [data-test=model-hf-tag]`).count(),
    ).resolves.toBe(0)
    expect(problems).toEqual([])
  })

  it(
    'unlearns a request with HF and shows its certification above the verification',
    { timeout: 300_000 },
    async () => {
      const requestId = await requestInProgress(app, ['P-0001', 'P-0002', 'P-0003'])

      // A model trained without recording cannot be unlearned by HF: the card says so, Start is off.
      await chooseMethod(page, app, { modelId: plain.id, requestId, method: 'hf', options: 'hf-options' })
      await expect(text('[data-test=method-hf-blocked]')).resolves.toContain(
        'Train with ‘Record for HF’ first',
      )
      await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(true)
      await screenshot(page, 'hf-run-blocked')

      await chooseMethod(page, app, { modelId: prepared.id, requestId, method: 'hf', options: 'hf-options' })
      await expect(page.locator('[data-test=method-hf-blocked]').count()).resolves.toBe(0)
      // The defaults from Settings, then this run's own ε.
      await expect(page.locator('[data-test=hf-epsilon]').inputValue()).resolves.toBe('2')
      await expect(page.locator('[data-test=hf-delta]').inputValue()).resolves.toBe('1e-6')
      await page.getByLabel('ε', { exact: true }).fill('1')
      await page.getByLabel('δ', { exact: true }).fill('1e-5')
      await expect(page.locator('[data-test=run-reference] input').isChecked()).resolves.toBe(true)
      await expect(page.locator('[data-test=hf-noise-off]').count()).resolves.toBe(0)
      await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(false)
      await screenshot(page, 'hf-run-form')

      // At ε = 1 the noise the bound needs would drown a model trained on 456 rows: Lethe refuses
      // and advises retraining, and no version is made.
      const before = (await api<ModelInfo[]>('models.list')).length
      await page.locator('[data-test=start-run]').click()
      const job = page.locator('[data-test=current-run] [data-test=job]')
      await expect.poll(() => job.getAttribute('data-state'), { timeout: 120_000 }).toBe('failed')
      await expect(job.innerText()).resolves.toContain('deletion capacity for this model is spent')
      await expect(job.innerText()).resolves.toContain('Retrain the model without these rows')
      await expect(api<ModelInfo[]>('models.list')).resolves.toHaveLength(before)
      await screenshot(page, 'hf-run-refused')

      // A weaker guarantee fits: ε = 100 (the most Settings allow).
      await page.getByLabel('ε', { exact: true }).fill('100')
      firstVersion = await startRunAndWait(page)
      const { record, certification } = await certificationOf(firstVersion)
      expect(record.method).toBe('hf')
      expect(record.guarantee).toMatchObject({ kind: 'certified', epsilon: 100, delta: 1e-5 })
      expect(certification.noise).toBe(true)
      expect(certification.sigma).toBeGreaterThan(0)

      const panel = page.locator('[data-test=certification-panel]')
      await panel.waitFor()
      await expect(text('[data-test=cert-epsilon]')).resolves.toBe('100')
      await expect(text('[data-test=cert-delta]')).resolves.toBe('1e-5')
      expect(Number(await text('[data-test=cert-sigma]'))).toBeGreaterThan(0)
      await expect(text('[data-test=cert-topup]')).resolves.toBe('all added by this release')
      await expect(text('[data-test=cert-budget]')).resolves.toContain(
        `${certification.rowsDeleted} of ${certification.capacityRows.toLocaleString('en')} rows deleted`,
      )
      await expect(text('[data-test=cert-budget]')).resolves.toContain('rows left before Lethe refuses')
      await expect(text('[data-test=cert-statistics]')).resolves.toMatch(/recorded .*ago|recorded now/)
      await expect(text('[data-test=cert-apply-ms]')).resolves.toMatch(/ms$|s$/)
      const sources = await panel.locator('[data-test=constant-source]').allInnerTexts()
      expect(sources).toHaveLength(certification.constants.length)
      expect(sources.length).toBeGreaterThan(0)
      for (const s of sources) expect(['set', 'estimated', 'measured', 'assumed']).toContain(s)
      await expect(panel.locator('[data-test=cert-assumptions] li').count()).resolves.toBe(
        certification.assumptions.length,
      )
      await expect(page.locator('[data-test=not-certified]').count()).resolves.toBe(0)
      // The verification stays below, with its distance to the exact retrain.
      await expect(page.locator('[data-test=distance-chart] canvas').count()).resolves.toBe(1)
      // ε = 100 is a weak guarantee: the badge says so, in the warning colour, never "indistinguishable".
      const badge = page.locator('[data-test=guarantee-badge]')
      await expect(badge.innerText()).resolves.toBe('Certified · weak (ε = 100)')
      await expect(badge.getAttribute('class')).resolves.toContain('el-tag--warning')
      await expect(text('[data-test=guarantee-strength]')).resolves.toContain('too loose to promise anything')
      await expect(panel.innerText()).resolves.not.toContain('indistinguishable')
      expect(record.guarantee.strength).toBe('weak')
      await screenshot(page, 'hf-certification')

      await page.locator('[data-test=theme-toggle]').click()
      await page.locator('html.dark').waitFor({ state: 'attached' })
      await panel.scrollIntoViewIfNeeded()
      await screenshot(page, 'hf-certification-dark')
      await page.locator('[data-test=theme-toggle]').click()
      await page.locator('html.dark').waitFor({ state: 'detached' })
      expect(problems).toEqual([])
    },
  )

  it('unlearns a second request from the new version: more rows spent, the noise topped up', async () => {
    const first = (await certificationOf(firstVersion)).certification
    const requestId = await requestInProgress(app, ['P-0010', 'P-0011', 'P-0012'])
    await chooseMethod(page, app, { modelId: firstVersion, requestId, method: 'hf', options: 'hf-options' })
    await expect(page.locator('[data-test=method-hf-blocked]').count()).resolves.toBe(0)
    await page.getByLabel('ε', { exact: true }).fill('100')
    await page.getByLabel('δ', { exact: true }).fill('1e-5')
    // A looser utility limit for this release: the engine holds the run to it.
    await page.locator('#hf-noise-limit').fill('2')
    await page.locator('[data-test=run-reference]').click()
    const second = await startRunAndWait(page)

    const { certification } = await certificationOf(second)
    expect(certification.noiseLimit).toBe(2)
    expect(certification.rowsDeleted).toBeGreaterThan(first.rowsDeleted)
    expect(certification.sigmaBefore).toBeGreaterThan(0)
    expect(certification.sigmaBefore).toBeCloseTo(first.sigma, 10)
    await expect(text('[data-test=cert-topup]')).resolves.toContain('before; this release added')
    await expect(text('[data-test=cert-budget]')).resolves.toContain(`${certification.rowsDeleted} of`)
    await screenshot(page, 'hf-second-run')

    // Reopened from the list of past runs, the record reads the same.
    await page.goto(at(`/runs?model=${second}`))
    await page.reload()
    await page.locator('[data-test=certification-panel]').waitFor()
    await expect(text('[data-test=cert-topup]')).resolves.toContain('before; this release added')
    expect(problems).toEqual([])
  })

  it('marks a run without noise as not certified', async () => {
    const requestId = await requestInProgress(app, ['P-0020', 'P-0021'])
    await chooseMethod(page, app, { modelId: prepared.id, requestId, method: 'hf', options: 'hf-options' })
    await page.locator('[data-test=hf-noise]').click()
    await page.locator('[data-test=hf-noise-off]').waitFor()
    await page.locator('[data-test=run-reference]').click()
    await screenshot(page, 'hf-run-noise-off')
    const version = await startRunAndWait(page)

    const { record, certification } = await certificationOf(version)
    expect(certification.noise).toBe(false)
    expect(record.guarantee.kind).toBe('empirical')
    await page.locator('[data-test=not-certified]').waitFor()
    await expect(text('[data-test=not-certified]')).resolves.toContain(
      'Not certified: noise was switched off',
    )
    await expect(text('[data-test=cert-sigma]')).resolves.toBe('none')
    await screenshot(page, 'hf-not-certified')
    expect(problems).toEqual([])
  })
})
