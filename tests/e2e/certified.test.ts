/**
 * Certified unlearning for deep networks (the Newton step with LiSSA) at the desk, in Chromium on a
 * fresh data folder: a logistic regression trained from the dialog with Adam and a projection
 * radius, tagged certified-ready; a model trained otherwise blocked unless the noise is off; a
 * release refused at ε = 1 (the noise would take test accuracy below the floor) with no version
 * made; a release at ε = 100 with its certification panel (the accuracy floor, σ and Δ, the case,
 * the constants with their provenance, LiSSA's recursion) above the verification; and a run
 * without noise marked as not certified.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { z } from 'zod'
import type { Output } from '../../electron/contract'
import type { Certification } from '../../electron/contract/engine'
import {
  bridgeCall,
  launchChromium,
  screenshot,
  startBrowserMode,
  watchProblems,
  type BrowserMode,
} from '../support/browser-mode'
import { chooseMethod, closeLastRun, requestInProgress, startRunAndWait } from '../support/runs-page'

type ModelInfo = Output<'models.list'>[number]

let app: BrowserMode
let browser: Browser
let page: Page
let problems: string[]

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)
const text = async (selector: string) => ((await page.locator(selector).first().innerText()) ?? '').trim()
const at = (route: string) => `${app.url}#${route}`
const certificationOf = async (modelId: string) => {
  const record = await api<Output<'unlearn.get'>>('unlearn.get', { modelId })
  return { record, certification: record.details.certification as z.infer<typeof Certification> }
}

/** λ = 100 and the solver: LiSSA at depth 200, or exact (the advanced section, collapsed until opened). */
async function newtonOptions(solver: 'LiSSA' | 'Exact' = 'LiSSA'): Promise<void> {
  await page.locator('#certified-lambda').fill('100')
  await page.locator('#certified-lambda').blur()
  const solvers = page.locator('[data-test=certified-solver]')
  // Open the section unless an earlier step on this page left it open.
  if (!(await solvers.isVisible()))
    await page
      .locator('[data-test=certified-advanced]')
      .getByText('Advanced: the inverse-Hessian solver')
      .click()
  await solvers.getByText(solver, { exact: true }).click()
  if (solver === 'Exact') {
    await expect(page.locator('#certified-depth').isVisible()).resolves.toBe(false)
    return
  }
  await page.locator('#certified-depth').waitFor({ state: 'visible' })
  await page.locator('#certified-depth').fill('200')
  await page.locator('#certified-depth').blur()
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
let released: string

describe('certified unlearning (Newton step) in Chromium', () => {
  it('names both certified methods in the Settings card of default (ε, δ)', async () => {
    await page.goto(at('/settings'))
    const card = page.locator('[data-test=certification-settings]')
    await card.locator('[data-test=certification-epsilon]').waitFor()
    await expect(card.innerText()).resolves.toContain('HF and the certified Newton step')
    await card.scrollIntoViewIfNeeded()
    await screenshot(page, 'certified-settings')
    expect(problems).toEqual([])
  })

  it(
    'trains a logistic regression prepared for certified unlearning from the dialog, and tags it',
    { timeout: 300_000 },
    async () => {
      const dataset = await api<Output<'datasets.importDemo'>>('datasets.importDemo', {
        demo: 'breast-cancer',
      })
      await page.goto(at('/models'))
      await page.locator('[data-test=train-model]').click()
      const dialog = page.locator('[data-test=train-dialog]')
      await dialog.waitFor()
      const adam = dialog.locator('[data-test=train-optimizer] input[value=adam]')
      await expect(adam.isDisabled()).resolves.toBe(false)
      await expect(dialog.locator('[data-test=train-certified]').count()).resolves.toBe(0)

      // Preparing for the certified method selects Adam and locks it, and asks for the radius C.
      await dialog.locator('[data-test=train-prepare-certified]').click()
      await dialog.locator('[data-test=train-certified-note]').waitFor()
      await expect(adam.isChecked()).resolves.toBe(true)
      await expect(adam.isDisabled()).resolves.toBe(true)
      await expect(text('[data-test=train-certified]')).resolves.toContain('Nothing is recorded')
      await expect(dialog.getByLabel('Projection radius C').inputValue()).resolves.toBe('20')
      // C is required: cleared, the dialog says so and will not start.
      await dialog.getByLabel('Projection radius C').fill('')
      await dialog.getByLabel('Projection radius C').blur()
      await expect(dialog.innerText()).resolves.toContain('C is required')
      await expect(dialog.locator('[data-test=train-start]').isDisabled()).resolves.toBe(true)

      // The lead's CLI measurement: full batch (456 rows), lr 0.05, l2 0.01, 200 epochs, C = 3.
      const rows = dataset.split.train
      expect(rows).toBe(456)
      await dialog.getByLabel('Projection radius C').fill('3')
      await dialog.getByLabel('Epochs').fill('200')
      await dialog.getByLabel('Batch size').fill(String(rows))
      await dialog.getByLabel('Learning rate').fill('0.05')
      await dialog.getByLabel('L2 penalty').fill('0.01')
      await dialog.getByLabel('L2 penalty').blur()
      await expect(dialog.locator('[data-test=train-start]').isDisabled()).resolves.toBe(false)
      await screenshot(page, 'certified-train-dialog')
      await dialog.locator('[data-test=train-start]').click()
      await dialog.waitFor({ state: 'hidden' })
      await page.locator('[data-test=train-finished]').waitFor({ timeout: 240_000 })

      const list = await api<ModelInfo[]>('models.list')
      expect(list).toHaveLength(1)
      prepared = list[0] as ModelInfo
      // Nothing recorded beside the model: the training options are the record.
      expect(prepared.preparation).toBeNull()
      expect(prepared.training).toMatchObject({
        optimizer: 'adam',
        projectRadius: 3,
        epochs: 200,
        batchSize: rows,
        learningRate: 0.05,
        l2: 0.01,
      })
      const tag = page.locator(
        `[data-test=model-row][data-id=${prepared.id}] [data-test=model-certified-tag]`,
      )
      await tag.waitFor()
      await expect(tag.innerText()).resolves.toBe('certified-ready · C = 3')
      await tag.hover()
      await expect(page.getByRole('tooltip').innerText()).resolves.toContain('projected onto ‖θ‖ ≤ 3')
      await screenshot(page, 'certified-model-tag')

      // A model trained with SGD and no projection, for the refusal below: no tag.
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
      expect(plain.training).toMatchObject({ optimizer: 'sgd', projectRadius: null })
      await page.reload()
      await page.locator(`[data-test=model-row][data-id=${plain.id}]`).waitFor()
      await expect(
        page.locator(`[data-test=model-row][data-id=${plain.id}] [data-test=model-certified-tag]`).count(),
      ).resolves.toBe(0)
      expect(problems).toEqual([])
    },
  )

  it(
    'refuses a release at ε = 1, whose noise would take test accuracy below the floor',
    { timeout: 300_000 },
    async () => {
      const requestId = await requestInProgress(app, ['P-0001', 'P-0002', 'P-0003', 'P-0004', 'P-0005'])

      // A model trained otherwise cannot get a certified release: the card says why and Start is
      // off, unless the noise is off (a measurement, which any model can take).
      await chooseMethod(page, app, {
        modelId: plain.id,
        requestId,
        method: 'certified',
        options: 'certified-options',
      })
      await expect(text('[data-test=method-certified-blocked]')).resolves.toContain(
        'This model was trained with SGD, not Adam and without a projection radius C',
      )
      await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(true)
      await screenshot(page, 'certified-run-blocked')
      await page.locator('[data-test=certified-noise]').click()
      await page.locator('[data-test=certified-noise-off]').waitFor()
      await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(false)
      await page.locator('[data-test=certified-noise]').click()
      await page.locator('[data-test=certified-noise-off]').waitFor({ state: 'detached' })
      await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(true)

      await chooseMethod(page, app, {
        modelId: prepared.id,
        requestId,
        method: 'certified',
        options: 'certified-options',
      })
      await expect(page.locator('[data-test=method-certified-blocked]').count()).resolves.toBe(0)
      await expect(text('[data-test=certified-ready]')).resolves.toContain('C = 3')
      // The defaults from Settings, shared with HF.
      await expect(page.locator('[data-test=certified-epsilon]').inputValue()).resolves.toBe('1')
      await expect(page.locator('[data-test=certified-delta]').inputValue()).resolves.toBe('1e-5')
      await expect(page.locator('[data-test=certified-noise-off]').count()).resolves.toBe(0)
      // LiSSA's options wait in a collapsed section.
      await expect(page.locator('[data-test=certified-solver]').isVisible()).resolves.toBe(false)
      await newtonOptions()
      await expect(page.locator('[data-test=start-run]').isDisabled()).resolves.toBe(false)
      await screenshot(page, 'certified-run-form')

      const before = (await api<ModelInfo[]>('models.list')).length
      await closeLastRun(page)
      await page.locator('[data-test=start-run]').click()
      const job = page.locator('[data-test=current-run] [data-test=job]')
      await expect.poll(() => job.getAttribute('data-state'), { timeout: 240_000 }).toBe('failed')
      const notice = page.locator('[data-test=current-run] [data-test=error-notice]')
      await expect(notice.innerText()).resolves.toContain('(CONFLICT)')
      await expect(notice.innerText()).resolves.toContain('The certified release would be useless')
      await expect(notice.innerText()).resolves.toContain('Retrain the model without these rows')
      await expect(text('[data-test=run-refused]')).resolves.toContain('no model version was made')
      await expect(api<ModelInfo[]>('models.list')).resolves.toHaveLength(before)
      await page.locator('[data-test=current-run]').scrollIntoViewIfNeeded()
      await screenshot(page, 'certified-run-refused')
      expect(problems).toEqual([])
    },
  )

  it(
    'releases at ε = 100 and shows its certification above the verification',
    { timeout: 300_000 },
    async () => {
      await page.getByLabel('ε', { exact: true }).fill('100')
      // The noise is drawn afresh each run and σ = 0.69 is large beside ‖θ‖: over 16 CLI runs test
      // accuracy fell between 74 % and 96 %, so the default floor (trained − 5 = 91.5 %) refused
      // most of them. A floor of 60 % is one it meets.
      await page.getByLabel('Accuracy floor (%)').fill('60')
      await expect(page.locator('[data-test=run-reference] input').isChecked()).resolves.toBe(true)
      released = await startRunAndWait(page)

      const { record, certification } = await certificationOf(released)
      expect(record.method).toBe('certified')
      expect(record.guarantee).toMatchObject({ kind: 'certified', epsilon: 100, delta: 1e-5 })
      expect(certification.noise).toBe(true)
      expect(certification.sigma).toBeGreaterThan(0)
      const details = record.details as {
        convergence: { case: string; trainedGradientNorm: number }
        lissa: { depth: number; trace: unknown[] }
        testAccuracy: number
        floorCheck: { probes: number[]; expectedAccuracy: number; releasedAccuracy: number }
      }
      expect(details.lissa.depth).toBe(200)
      expect(certification.noiseLimit).toBe(0.6)
      // The floor is judged on unpublished draws, then on the published one.
      expect(details.floorCheck.probes).toHaveLength(3)
      expect(details.floorCheck.expectedAccuracy).toBeGreaterThanOrEqual(0.6)
      expect(details.floorCheck.releasedAccuracy).toBeGreaterThanOrEqual(0.6)
      expect(details.testAccuracy).toBeGreaterThan(0.5)
      // The new version keeps its chain's training, so it can take a further certified release.
      const version = (await api<ModelInfo[]>('models.list')).find((m) => m.id === released) as ModelInfo
      expect(version).toMatchObject({ method: 'certified', parentId: prepared.id })
      expect(version.training.projectRadius).toBe(3)

      const panel = page.locator('[data-test=certification-panel]')
      await panel.waitFor()
      await expect(text('[data-test=cert-epsilon]')).resolves.toBe('100')
      await expect(text('[data-test=cert-delta]')).resolves.toBe('1e-5')
      expect(Number(await text('[data-test=cert-sigma]'))).toBeCloseTo(certification.sigma, 2)
      expect(Number(await text('[data-test=cert-sensitivity]'))).toBeGreaterThan(0)
      await expect(text('[data-test=cert-unconfirmed]')).resolves.toBe('[UNCONFIRMED] form')
      await expect(text('[data-test=cert-case]')).resolves.toBe(
        details.convergence.case === 'converged' ? 'Converged' : 'Non-convergent',
      )
      await expect(text('[data-test=cert-gradient]')).resolves.toContain('‖∇L(θ*)‖ =')
      await expect(text('[data-test=cert-accuracy]')).resolves.toContain('above the floor of 60 %')
      await expect(panel.locator('[data-test=cert-floor-chart] canvas').count()).resolves.toBe(1)
      await expect(panel.locator('[data-test=cert-lissa-chart] canvas').count()).resolves.toBe(1)
      await expect(text('[data-test=cert-lissa]')).resolves.toContain('depth 200')
      // No HF budget or statistics for this method.
      await expect(panel.locator('[data-test=cert-budget-bar]').count()).resolves.toBe(0)
      await expect(panel.locator('[data-test=cert-statistics]').count()).resolves.toBe(0)
      const sources = await panel.locator('[data-test=constant-source]').allInnerTexts()
      expect(sources).toHaveLength(certification.constants.length)
      for (const s of ['set', 'estimated', 'measured', 'assumed']) expect(sources).toContain(s)
      await expect(panel.locator('[data-test=cert-assumptions] li').count()).resolves.toBe(
        certification.assumptions.length,
      )
      await expect(page.locator('[data-test=not-certified]').count()).resolves.toBe(0)
      // The verification stays below, with its distance to the exact retrain.
      await expect(page.locator('[data-test=distance-chart] canvas').count()).resolves.toBe(1)
      await expect(page.locator('[data-test=guarantee]').innerText()).resolves.toContain('Certified')
      await screenshot(page, 'certified-certification')

      await page.locator('[data-test=theme-toggle]').click()
      await page.locator('html.dark').waitFor({ state: 'attached' })
      await panel.scrollIntoViewIfNeeded()
      await screenshot(page, 'certified-certification-dark')
      await page.locator('[data-test=theme-toggle]').click()
      await page.locator('html.dark').waitFor({ state: 'detached' })
      expect(problems).toEqual([])
    },
  )

  it('marks a run without noise as not certified', { timeout: 300_000 }, async () => {
    const requestId = await requestInProgress(app, ['P-0020', 'P-0021'])
    await chooseMethod(page, app, {
      modelId: prepared.id,
      requestId,
      method: 'certified',
      options: 'certified-options',
    })
    await page.locator('[data-test=certified-noise]').click()
    await page.locator('[data-test=certified-noise-off]').waitFor()
    await expect(text('[data-test=certified-noise-off]')).resolves.toContain(
      'Not certified: measurement only',
    )
    await newtonOptions('Exact')
    await page.locator('[data-test=run-reference]').click()
    await screenshot(page, 'certified-run-noise-off')
    const version = await startRunAndWait(page)

    const { record, certification } = await certificationOf(version)
    expect(certification.noise).toBe(false)
    expect(record.guarantee.kind).toBe('empirical')
    await page.locator('[data-test=not-certified]').waitFor()
    await expect(text('[data-test=not-certified]')).resolves.toContain(
      'Not certified: noise was switched off',
    )
    await expect(text('[data-test=not-certified]')).resolves.toContain('bare Newton step')
    await expect(text('[data-test=cert-sigma]')).resolves.toBe('none')
    await expect(text('[data-test=cert-no-floor]')).resolves.toContain('the accuracy floor does not apply')
    // The exact solve, chosen in the form, is what the run used and what the panel describes.
    expect(record.details).toMatchObject({ solver: 'exact', exact: { hessian: 'analytic' } })
    await expect(text('[data-test=cert-exact]')).resolves.toContain('factored by Cholesky')
    await screenshot(page, 'certified-not-certified')
    expect(problems).toEqual([])
  })
})
