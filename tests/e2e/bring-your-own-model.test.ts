/**
 * Bring your own model, through the desk in Chromium: a PyTorch-made ONNX file is uploaded in the
 * import dialog, unlearned by fine-tuning from the Runs view (HF and the noisy Newton step refused
 * with the reason), exported back as ONNX from the lineage table, and the certificate issued for
 * the request names the exported file's SHA-256. Screenshots show the lineage at each step:
 * imported, unlearned, exported.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
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

const FIXTURE = path.resolve('tests/fixtures/onnx/breast-cancer-mlp.onnx')

let app: BrowserMode
let browser: Browser

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

beforeAll(async () => {
  app = await startBrowserMode({ LETHE_KEY_PASSPHRASE: 'correct horse battery' })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

describe('bring your own model', () => {
  it('imports an ONNX file in the desk, unlearns it, exports it and certifies the exported file', async () => {
    await api('organisation.create', { name: 'Ørsted Klinik' })
    const dataset = await api<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'breast-cancer' })
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

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
    await page.goto(`${app.origin}/#/models`)

    // Import: the browser uploads the file; nothing can be submitted before a dataset and a file are chosen.
    await page.locator('[data-test=import-model]').click()
    const dialog = page.locator('[data-test=model-import-dialog]')
    await dialog.waitFor()
    await expect(dialog.locator('[data-test=model-import-submit]').isDisabled()).resolves.toBe(true)
    await dialog.locator('[data-test=model-import-dataset]').click()
    await page.locator('.el-select-dropdown__item', { hasText: dataset.id }).click()
    await dialog.locator('[data-test=model-import-file]').setInputFiles(FIXTURE)
    await dialog.locator('[data-test=model-import-name]').fill('deployed triage MLP')
    await dialog.locator('[data-test=model-import-submit]').click()
    await dialog.waitFor({ state: 'hidden' })
    const [imported] = await api<Output<'models.list'>>('models.list')
    if (!imported) throw new Error('nothing was imported')
    expect(imported).toMatchObject({ method: 'import', origin: { format: 'onnx', sha256: sha256(FIXTURE) } })
    const row = (id: string) => page.locator(`[data-test=model-row][data-id="${id}"]`)
    await expect(row(imported.id).locator('[data-test=model-imported-tag]').innerText()).resolves.toBe(
      'imported · ONNX',
    )
    await screenshot(page, 'byom-1-imported')

    // Unlearn from the Runs view: methods that need Lethe's own training say why they do not apply.
    await page.goto(`${app.origin}/#/runs?request=${request.id}&model=${imported.id}`)
    await page.locator('[data-test=new-run] form').waitFor()
    await page.locator('[data-test=run-match]').waitFor()
    await expect(page.locator('[data-test=method-hf]').innerText()).resolves.toContain('imported')
    await page.locator('[data-test=method-finetune]').click()
    await page.locator('[data-test=start-run]').click()
    await page.locator('[data-test=run-finished]').waitFor({ timeout: 120_000 })
    const unlearned = (await api<Output<'models.list'>>('models.list')).find(
      (m) => m.parentId === imported.id,
    )
    if (!unlearned) throw new Error('no unlearned version')
    expect(unlearned.method).toBe('finetune')

    // Export the unlearned version from the lineage table; the hashes shown are the file's.
    await page.goto(`${app.origin}/#/models`)
    await row(unlearned.id).waitFor()
    await screenshot(page, 'byom-2-unlearned')
    await row(unlearned.id).locator('[data-test=model-export]').click()
    const exportDialog = page.locator('[data-test=model-export-dialog]')
    await exportDialog.waitFor()
    const target = path.join(tempDir('lethe-e2e-byom-'), 'triage-unlearned.onnx')
    await exportDialog.locator('[data-test=model-export-path]').fill(target)
    await exportDialog.locator('[data-test=model-export-submit]').click()
    await exportDialog.locator('[data-test=model-export-done]').waitFor()
    await expect(exportDialog.locator('[data-test=model-export-sha256]').innerText()).resolves.toBe(
      sha256(target),
    )
    await exportDialog.getByRole('button', { name: 'Close', exact: true }).click()
    await expect(row(unlearned.id).locator('[data-test=model-exported]').innerText()).resolves.toContain(
      sha256(target).slice(0, 12),
    )
    await screenshot(page, 'byom-3-exported')

    // Complete the request (the imported original is kept on record), then issue the certificate.
    await api('models.retain', {
      modelId: imported.id,
      requestId: request.id,
      reason: 'the file as deployed before',
    })
    await api('requests.transition', { id: request.id, to: 'completed' })
    await page.goto(`${app.origin}/#/certificates`)
    await page.locator('[data-test=issue-request]').click()
    await page.locator('.el-select-dropdown__item', { hasText: request.id }).click()
    await page.locator('[data-test=issue-certificate-submit]').click()
    const issue = page.locator('[data-test=issue-dialog]')
    await issue.locator('[data-test=issue-preview-pdf]').waitFor()
    await issue.locator('[data-test=issue-sign]').click()
    await issue.waitFor({ state: 'hidden' })
    const [certificate] = await api<Output<'certificates.list'>>('certificates.list')
    if (!certificate) throw new Error('no certificate was issued')
    const manifest = JSON.parse(
      extractAttachments(readFileSync(certificate.path)).get('manifest.json')?.toString() ?? '{}',
    ) as CertificateManifest
    expect(manifest.model.after.id).toBe(unlearned.id)
    expect(manifest.artifacts?.map((a) => [a.format, a.fileName, a.sha256])).toEqual([
      ['onnx', 'triage-unlearned.onnx', sha256(target)],
    ])
    expect(problems).toEqual([])
  }, 300_000)
})
