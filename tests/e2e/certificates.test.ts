import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { extractAttachments } from '../../electron/certificates/attachments'
import type { CertificateManifest } from '../../electron/certificates/manifest'
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
let requestId: string
/** The request's unlearned versions: by exact retraining, then (its linked result) by fine-tuning. */
let retrained: string
let finetuned: string

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

/** The whole erasure through the real services: dataset, model, request, exact retraining, completion. */
async function completedErasure(): Promise<{ requestId: string; retrained: string; finetuned: string }> {
  const dataset = await api<Output<'datasets.import'>>('datasets.import', {
    path: path.resolve('resources/datasets/breast-cancer.csv'),
    subjectColumn: 'patient_id',
    labelColumn: 'diagnosis',
  })
  const { jobId: trainJob } = await api<{ jobId: string }>('models.train', {
    datasetId: dataset.id,
    arch: { kind: 'logreg' },
    training: { epochs: 5 },
  })
  const model = (await finished(trainJob)).result as { id: string }
  const request = await api<Output<'requests.create'>>('requests.create', {
    requester: { name: 'Jane Doe' },
    subjectIds: [
      { type: 'customer-id', value: 'P-0007' },
      { type: 'customer-id', value: 'P-0100' },
    ],
    jurisdiction: 'gdpr',
    received: '2026-11-02',
  })
  await api('requests.transition', { id: request.id, to: 'identity-verified', method: 'e-mail' })
  await api('requests.transition', { id: request.id, to: 'in-progress' })
  const unlearned = async (method: string, reference: boolean) => {
    const { jobId } = await api<{ jobId: string }>('unlearn.start', {
      modelId: model.id,
      method,
      requestId: request.id,
      reference,
    })
    return ((await finished(jobId)).result as { model: { id: string } }).model.id
  }
  const retrained = await unlearned('retrain', true)
  const finetuned = await unlearned('finetune', false)
  // The original model is kept for the tests that read it: completing asks for a decision on it.
  await api('models.retain', {
    modelId: model.id,
    requestId: request.id,
    reason: 'kept as the test baseline',
  })
  await api('requests.transition', { id: request.id, to: 'completed' })
  return { requestId: request.id, retrained, finetuned }
}

beforeAll(async () => {
  app = await startBrowserMode({ LETHE_KEY_PASSPHRASE: 'correct horse battery' })
  browser = await launchChromium()
  ;({ requestId, retrained, finetuned } = await completedErasure())
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

async function chooseRequest(page: Page): Promise<void> {
  await page.locator('[data-test=issue-request]').click()
  await page.locator('.el-select-dropdown__item', { hasText: requestId }).click()
}

const checkedModels = (page: Page) =>
  page
    .locator('[data-test=issue-dialog] [data-test=issue-model].is-checked')
    .evaluateAll((boxes) => boxes.map((box) => box.getAttribute('data-model')))

async function verifyFile(page: Page, file: string): Promise<void> {
  await page.locator('[data-test=verify-input]').setInputFiles(file)
  await page.locator('[data-test=verdict]').waitFor()
}

const checkItems = (page: Page) =>
  page.locator('[data-test=check-item]').evaluateAll((items) =>
    items.map((item) => ({
      id: item.getAttribute('data-id'),
      pass: item.getAttribute('data-pass'),
    })),
  )

describe('certificates in Chromium', () => {
  it('creates the keys, lists and downloads the certificate, and verifies it and a tampered copy', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
    await page.keyboard.press('Alt+5')
    await expect(page.locator('h1').textContent()).resolves.toBe('Certificates')

    // No keys yet: the empty state explains them and creates them.
    await page.locator('[data-test=organisation-empty]').waitFor()
    await page.locator('[data-test=certificates-empty]').waitFor()
    await expect(page.locator('[data-test=certificates-empty]').textContent()).resolves.toContain(
      'lethe certificate issue RTBF-',
    )
    await expect(page.locator('[data-test=create-keys]').isDisabled()).resolves.toBe(true)
    await screenshot(page, 'certificates-empty')
    await page.getByLabel('Organisation name').fill('Ørsted Klinik')
    await page.locator('[data-test=create-keys]').click()
    await page.locator('[data-test=organisation-info]').waitFor()
    await expect(page.locator('[data-test=organisation-name]').textContent()).resolves.toBe('Ørsted Klinik')
    const organisation = await api<Output<'organisation.get'>>('organisation.get')
    expect(organisation?.name).toBe('Ørsted Klinik')
    await expect(page.locator('[data-test=manifest-fingerprint]').textContent()).resolves.toBe(
      organisation?.manifestKeyFingerprint,
    )
    await expect(page.locator('[data-test=certificate-fingerprint]').textContent()).resolves.toBe(
      organisation?.certificateFingerprint,
    )

    // Issued through the dialog: the version chosen, an organisation to notify, the preview, then signed.
    const dialog = page.locator('[data-test=issue-dialog]')
    const sign = dialog.locator('[data-test=issue-sign]')
    await chooseRequest(page)
    await page.locator('[data-test=issue-certificate-submit]').click()
    await dialog.locator('[data-test=issue-preview-pdf]').waitFor()
    await expect(checkedModels(page)).resolves.toEqual([finetuned]) // the request's linked result
    await expect(dialog.locator('[data-test=issue-preview-caption]').textContent()).resolves.toMatch(
      /CERT-\d{4}-0001, not signed/,
    )
    await expect(
      dialog
        .locator('[data-test=issue-preview-pdf]')
        .evaluate((o) => [o.getAttribute('type'), o.getAttribute('data')]),
    ).resolves.toEqual(['application/pdf', expect.stringMatching(/^blob:/)])
    await expect(sign.isDisabled()).resolves.toBe(false)
    await dialog.locator(`[data-test=issue-model][data-model="${finetuned}"]`).click()
    await dialog.locator(`[data-test=issue-model][data-model="${retrained}"]`).click()
    await dialog.locator('[data-test=issue-dialog-recipients]').fill('Payroll processor Ltd')
    // Changed choices must be previewed again before they can be signed.
    await dialog.locator('[data-test=issue-preview-stale]').waitFor()
    await expect(sign.isDisabled()).resolves.toBe(true)
    await dialog.locator('[data-test=issue-preview-refresh]').click()
    await dialog.locator('[data-test=issue-preview-stale]').waitFor({ state: 'detached' })
    await screenshot(page, 'certificates-issue-dialog')
    await expect(api<Output<'certificates.list'>>('certificates.list')).resolves.toEqual([])
    await sign.click()
    await dialog.waitFor({ state: 'hidden' })
    const [issued] = await api<Output<'certificates.list'>>('certificates.list')
    if (!issued) throw new Error('no certificate was issued')
    expect(issued).toMatchObject({ requestId, modelIds: [retrained], supersedes: null })
    const manifest = JSON.parse(
      extractAttachments(readFileSync(issued.path)).get('manifest.json')?.toString() ?? '{}',
    ) as CertificateManifest
    expect(manifest.scope.recipientsToNotify).toEqual(['Payroll processor Ltd'])
    expect(manifest.model.after.id).toBe(retrained)
    const row = page.locator('[data-test=certificate-table] .el-table__body tr', {
      hasText: issued.certificateId,
    })
    await row.waitFor()
    await expect(row.textContent()).resolves.toContain(requestId)
    await expect(row.textContent()).resolves.toContain(issued.modelId)
    await expect(row.locator('[data-test=manifest-sha]').getAttribute('title')).resolves.toBe(
      issued.manifestSha256,
    )
    await screenshot(page, 'certificates')

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('[data-test=download]').click(),
    ])
    expect(download.suggestedFilename()).toBe(`${issued.certificateId}.pdf`)
    const saved = path.join(tempDir('lethe-e2e-download-'), download.suggestedFilename())
    await download.saveAs(saved)
    const pdf = readFileSync(saved)
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-')
    expect(pdf.equals(readFileSync(issued.path))).toBe(true)
    if (existsSync('/usr/bin/pdfsig')) {
      expect(spawnSync('/usr/bin/pdfsig', ['-nocert', saved], { encoding: 'utf8' }).stdout).toContain(
        'Signature is Valid',
      )
    }

    // The downloaded file, given to the drop zone's file input.
    await verifyFile(page, saved)
    await expect(page.locator('[data-test=verdict-word]').textContent()).resolves.toContain('VERIFIED')
    await expect(page.locator('[data-test=verdict]').textContent()).resolves.not.toContain('NOT VERIFIED')
    await expect(page.locator('[data-test=verdict]').textContent()).resolves.toContain(issued.certificateId)
    await expect(page.locator('[data-test=verdict]').textContent()).resolves.toContain(requestId)
    const items = await checkItems(page)
    expect(items.length).toBeGreaterThan(5)
    expect(items.filter((i) => i.pass !== 'true')).toEqual([])
    await screenshot(page, 'certificates-verified')

    // One byte flipped inside the signed range.
    const tampered = Buffer.from(pdf)
    const at = tampered.indexOf('Certificate of removal')
    expect(at).toBeGreaterThan(0)
    tampered[at] = 'c'.charCodeAt(0)
    const tamperedFile = path.join(path.dirname(saved), 'tampered.pdf')
    writeFileSync(tamperedFile, tampered)
    await verifyFile(page, tamperedFile)
    await expect(page.locator('[data-test=verdict-word]').textContent()).resolves.toContain('NOT VERIFIED')
    const after = await checkItems(page)
    expect(after.find((i) => i.id === 'pdf-signature')?.pass).toBe('false')
    await screenshot(page, 'certificates-tampered')

    expect(problems).toEqual([])

    // A second certificate for the request: the dialog names the one it supersedes and wants the box ticked.
    await chooseRequest(page)
    await page.locator('[data-test=issue-certificate-submit]').click()
    await expect(dialog.locator('[data-test=issue-supersedes]').textContent()).resolves.toContain(
      `supersedes ${issued.certificateId}`,
    )
    await expect(sign.isDisabled()).resolves.toBe(true)
    await expect(dialog.locator('[data-test=issue-preview-refresh]').isDisabled()).resolves.toBe(true)
    await dialog.locator('[data-test=issue-supersede]').click()
    await dialog.locator('[data-test=issue-preview-refresh]').click()
    await dialog.locator('[data-test=issue-preview-pdf]').waitFor()
    await expect(dialog.locator('[data-test=issue-preview-caption]').textContent()).resolves.toContain(
      `supersedes ${issued.certificateId}`,
    )
    await sign.click()
    await dialog.waitFor({ state: 'hidden' })
    const [second] = await api<Output<'certificates.list'>>('certificates.list')
    expect(second).toMatchObject({ supersedes: issued.certificateId, modelIds: [finetuned] })
    const first = page.locator('[data-test=certificate-table] .el-table__body tr', {
      hasText: `Superseded by ${second?.certificateId}`,
    })
    await first.waitFor()
    await expect(first.textContent()).resolves.toContain(issued.certificateId)
    expect(problems).toEqual([])

    // A file that is not a PDF: the verifier's typed error (which the bridge answers with HTTP 400,
    // and Chromium logs as a failed resource: the one console line expected here).
    const notPdf = path.join(path.dirname(saved), 'notes.pdf')
    writeFileSync(notPdf, 'hello')
    await page.locator('[data-test=verify-input]').setInputFiles(notPdf)
    const notice = page.locator('[data-test=verify] [data-test=error-notice]')
    await notice.waitFor()
    await expect(notice.textContent()).resolves.toContain('is not a PDF')
    await expect(page.locator('[data-test=verdict]').count()).resolves.toBe(0)
    expect(problems).toEqual([
      'console error: Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ])
    await page.close()
  })

  it('keeps the page usable in the dark theme', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=theme-toggle]').click()
    await page.keyboard.press('Alt+5')
    await page.locator('[data-test=certificate-table]').waitFor()
    // The drop zone is keyboard reachable: a button that opens the file chooser.
    const chooser = page.waitForEvent('filechooser')
    await page.locator('[data-test=dropzone]').focus()
    await page.keyboard.press('Enter')
    const files = await chooser
    await files.setFiles(
      (await api<Output<'certificates.list'>>('certificates.list')).map((c) => c.path).slice(0, 1),
    )
    await page.locator('[data-test=verdict]').waitFor()
    await screenshot(page, 'certificates-dark')
    expect(problems).toEqual([])
    await page.close()
  })
})
