/**
 * DEL, localized unlearning, at the desk in Chromium on a fresh data folder: an MLP trained on the
 * digits demo through the API, a request for a few writers, then from the Runs form a DEL run at
 * α = 30 % with reference retraining, whose mask panel (headline, heat map, per-view table with the
 * head marked, reset seed, timings) sits above the verification; a random-mask run at 10 %; the
 * saliency mask reset to θ₀; and CritMem with its search's facts.
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

let app: BrowserMode
let browser: Browser
let page: Page
let problems: string[]

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)
const text = async (selector: string) => ((await page.locator(selector).first().innerText()) ?? '').trim()
const at = (route: string) => `${app.url}#${route}`

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

async function setFraction(percent: number): Promise<void> {
  await page.locator('#del-fraction').fill(String(percent))
  await page.locator('#del-fraction').blur()
}

let model: ModelInfo
let requestId: string

describe('DEL, localized unlearning, in Chromium', () => {
  it('trains an MLP on the digits demo through the API', { timeout: 240_000 }, async () => {
    const dataset = await api<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'digits' })
    const { jobId } = await api<{ jobId: string }>('models.train', {
      datasetId: dataset.id,
      arch: { kind: 'mlp', hidden: [32] },
      training: { epochs: 15 },
      name: 'digits mlp',
    })
    await expect
      .poll(async () => (await api<Output<'jobs.get'>>('jobs.get', { jobId })).state, {
        timeout: 200_000,
        interval: 500,
      })
      .toBe('succeeded')
    model = (await api<ModelInfo[]>('models.list'))[0] as ModelInfo
    expect(model.parameters).toBe(64 * 32 + 32 + 32 * 10 + 10)
    requestId = await requestInProgress(app, ['W-116', 'W-080', 'W-137', 'W-125'], 'A writer')
  })

  it('runs DEL at α = 30 % and shows the mask above the verification', { timeout: 300_000 }, async () => {
    await chooseMethod(page, app, {
      modelId: model.id,
      requestId: requestId,
      method: 'del',
      options: 'del-options',
    })
    // The defaults: the paper's 30 %, DEL's own score, a fresh draw; fine-tuning collapsed.
    await expect(page.locator('#del-fraction').inputValue()).resolves.toBe('30.0')
    await expect(text('[data-test=del-options]')).resolves.toContain('the paper’s operating point is 30 %')
    await expect(text('[data-test=del-localization-about]')).resolves.toContain('neuron')
    await expect(page.locator('[data-test=del-reset-fresh] input').isChecked()).resolves.toBe(true)
    await expect(page.locator('#del-epochs').isVisible()).resolves.toBe(false)
    await page.locator('[data-test=del-advanced]').getByText('Advanced: fine-tuning').click()
    await page.locator('#del-epochs').waitFor({ state: 'visible' })
    // Empty: the original's 15 epochs, as the paper's scripts fine-tune.
    await expect(page.locator('#del-epochs').getAttribute('placeholder')).resolves.toBe('default 15')
    // A bad value is said and blocks Start; cleared, the default applies again.
    await page.locator('#del-epochs').fill('1.5')
    await expect(text('[data-test=del-options]')).resolves.toContain('A whole number of at least 1')
    await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(true)
    await page.locator('#del-epochs').fill('')
    await setFraction(30)
    await expect(page.locator('[data-test=run-reference] input').isChecked()).resolves.toBe(true)
    await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(false)
    await page.locator('[data-test=del-options]').scrollIntoViewIfNeeded()
    await screenshot(page, 'del-run-form')

    const version = await startRunAndWait(page)
    const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId: version })
    expect(record.method).toBe('del')
    expect(record.guarantee.kind).toBe('empirical')
    expect(record.details).toMatchObject({ fraction: 0.3, localization: 'del', epochs: 15 })
    const totals = (record.details.mask as { totals: { selectedFraction: number } }).totals
    expect(totals.selectedFraction).toBeCloseTo(0.3, 2)

    const panel = page.locator('[data-test=mask-panel]')
    await panel.waitFor()
    await expect(text('#verification-title')).resolves.toBe('Localization and verification')
    await expect(text('[data-test=mask-selected]')).resolves.toBe('30.0 %')
    const headline = await text('[data-test=mask-headline]')
    expect(headline).toContain('Reset and retrained 30.0 % of 2,410 parameters')
    expect(headline).toContain('fine-tuned in the classifier head')
    expect(headline).toContain('bit-identical to the original')
    // ECharts may draw the heat map's cells on layers of their own: one canvas or more.
    expect(await panel.locator('[data-test=mask-heatmap] canvas').count()).toBeGreaterThanOrEqual(1)
    // One row per parameter view (W1, b1, W2, b2); the head's two are marked.
    await expect(panel.locator('[data-test=mask-table] .el-table__body tr').count()).resolves.toBe(4)
    await expect(panel.locator('[data-test=mask-head]').count()).resolves.toBe(2)
    await expect(text('[data-test=mask-localization]')).resolves.toBe('DEL score')
    await expect(text('[data-test=mask-reset]')).resolves.toBe('Fresh draw')
    await expect(text('[data-test=mask-seed]')).resolves.toMatch(/^seed \d+$/)
    await expect(text('[data-test=mask-timings]')).resolves.toMatch(/ms|s$/)
    // The verification stays below the mask.
    const maskBox = await panel.boundingBox()
    const verification = page.locator('[data-test=verification-panel]')
    const verificationBox = await verification.boundingBox()
    expect(maskBox && verificationBox && maskBox.y < verificationBox.y).toBe(true)
    await expect(page.locator('[data-test=distance-chart] canvas').count()).resolves.toBe(1)
    await panel.scrollIntoViewIfNeeded()
    await screenshot(page, 'del-mask')
    await page.locator('[data-test=mask-table]').scrollIntoViewIfNeeded()
    await screenshot(page, 'del-mask-table')

    await page.locator('[data-test=theme-toggle]').click()
    await page.locator('html.dark').waitFor({ state: 'attached' })
    await panel.scrollIntoViewIfNeeded()
    await screenshot(page, 'del-mask-dark')
    await page.locator('[data-test=theme-toggle]').click()
    await page.locator('html.dark').waitFor({ state: 'detached' })

    // Reopened from the past runs, the record shows the same panel.
    await page.goto(at(`/runs?model=${version}`))
    await page.locator('[data-test=mask-panel]').waitFor()
    await expect(text('[data-test=mask-selected]')).resolves.toBe('30.0 %')
    expect(problems).toEqual([])
  })

  it('runs the random-mask baseline at 10 %', { timeout: 300_000 }, async () => {
    const second = await requestInProgress(app, ['W-163', 'W-152'], 'A writer')
    await chooseMethod(page, app, {
      modelId: model.id,
      requestId: second,
      method: 'del',
      options: 'del-options',
    })
    await page.locator('[data-test=del-localization]').click()
    await page.locator('.el-select-dropdown__item', { hasText: 'Random mask' }).click()
    await expect(text('[data-test=del-localization-about]')).resolves.toContain('random selection')
    await setFraction(10)
    await page.locator('[data-test=run-reference]').click()
    await expect(page.locator('[data-test=run-reference] input').isChecked()).resolves.toBe(false)
    await screenshot(page, 'del-run-form-random')
    const version = await startRunAndWait(page)

    const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId: version })
    expect(record.details).toMatchObject({ fraction: 0.1, localization: 'random' })
    await page.locator('[data-test=mask-panel]').waitFor()
    await expect(text('[data-test=mask-selected]')).resolves.toBe('10.0 %')
    await expect(text('[data-test=mask-headline]')).resolves.toContain('Reset and retrained 10.0 %')
    await expect(text('[data-test=mask-localization]')).resolves.toBe('Random mask')
    await expect(text('[data-test=mask-seed]')).resolves.toContain('also the mask’s')
    await page.locator('[data-test=mask-panel]').scrollIntoViewIfNeeded()
    await screenshot(page, 'del-mask-random')
    expect(problems).toEqual([])
  })

  it('runs the saliency mask reset to the original initialisation θ₀', { timeout: 300_000 }, async () => {
    const third = await requestInProgress(app, ['W-100'], 'A writer')
    await chooseMethod(page, app, {
      modelId: model.id,
      requestId: third,
      method: 'del',
      options: 'del-options',
    })
    await page.locator('[data-test=del-localization]').click()
    await page.locator('[data-test=del-localization-saliency]').click()
    await expect(text('[data-test=del-localization-about]')).resolves.toContain('SalUn')
    await page.locator('[data-test=del-reset-initial]').click()
    await expect(page.locator('[data-test=del-reset-initial] input').isChecked()).resolves.toBe(true)
    await page.locator('[data-test=run-reference]').click()
    const version = await startRunAndWait(page)

    const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId: version })
    // θ₀ is redrawn from the seed training started from: the model's own.
    expect(record.details).toMatchObject({
      localization: 'saliency',
      granularity: 'param',
      score: 'gradient',
      reset: { target: 'initial', seed: model.training.seed },
    })
    await page.locator('[data-test=mask-panel]').waitFor()
    await expect(text('[data-test=mask-localization]')).resolves.toBe('Saliency (SalUn)')
    await expect(text('[data-test=mask-reset]')).resolves.toBe('Original θ₀')
    await expect(text('[data-test=mask-seed]')).resolves.toBe(`seed ${model.training.seed}`)
    expect(problems).toEqual([])
  })

  it('runs CritMem and says how far its search went', { timeout: 300_000 }, async () => {
    const fourth = await requestInProgress(app, ['W-090', 'W-091'], 'A writer')
    await chooseMethod(page, app, {
      modelId: model.id,
      requestId: fourth,
      method: 'del',
      options: 'del-options',
    })
    await page.locator('[data-test=del-localization]').click()
    await page.locator('[data-test=del-localization-critmem]').click()
    await expect(text('[data-test=del-localization-about]')).resolves.toContain(
      'until the model’s prediction',
    )
    await page.locator('[data-test=run-reference]').click()
    const version = await startRunAndWait(page)

    const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId: version })
    const search = record.details.critmem as { rows: number; flipped: number; selectedUnits: number }
    expect(record.details.localization).toBe('critmem')
    expect(search.rows).toBeGreaterThan(0)
    expect(search.flipped).toBeGreaterThan(0)
    await page.locator('[data-test=mask-panel]').waitFor()
    await expect(text('[data-test=mask-localization]')).resolves.toBe('CritMem')
    await expect(text('[data-test=mask-critmem]')).resolves.toBe(
      `${search.flipped} of ${search.rows} rows flipped`,
    )
    // Whole hidden units of 64 weights and a bias, none of the head: the selection is a multiple of 65.
    const totals = (record.details.mask as { totals: { selected: number } }).totals
    expect(totals.selected).toBe(65 * search.selectedUnits)
    await page.locator('[data-test=mask-panel]').scrollIntoViewIfNeeded()
    await screenshot(page, 'del-mask-critmem')
    expect(problems).toEqual([])
  })
})
