import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { Output } from '../../electron/contract'
import { tempDir } from '../support/fixtures'
import {
  ARTIFACTS,
  bridgeCall,
  launchChromium,
  screenshot,
  startBrowserMode,
  watchProblems,
  type BrowserMode,
} from '../support/browser-mode'

/** What the test reads of a canvas in the page (the Node side has no DOM types). */
interface Canvas {
  width: number
  height: number
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> }
  } | null
}
const FASHION_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'
const FASHION_LABELS = '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'

let app: BrowserMode
let browser: Browser
let dataset: Output<'datasets.importDemo'>
let modelId: string
/** The request logged through the form in the first test. */
let requestId = ''

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

/** YYYY-MM-DD, `days` before today, in local time as the ledger counts. */
function daysAgo(days: number): string {
  const d = new Date()
  d.setDate(d.getDate() - days)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

beforeAll(async () => {
  app = await startBrowserMode({ LETHE_KEY_PASSPHRASE: 'correct horse battery' })
  browser = await launchChromium()
  // A real dataset and a real model, so the matching panel has something to find.
  dataset = await api<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'breast-cancer' })
  const { jobId } = await api<{ jobId: string }>('models.train', {
    datasetId: dataset.id,
    arch: { kind: 'logreg' },
    training: { epochs: 3 },
    name: 'Diagnosis (logistic)',
  })
  modelId = ((await finished(jobId)).result as { id: string }).id
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

async function openRequests(page: Page): Promise<void> {
  await page.goto(app.url)
  await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
  await page.keyboard.press('Alt+2')
  await expect(page.locator('h1').textContent()).resolves.toBe('Requests')
}

const status = (page: Page) => page.locator('[data-test=request-status]').innerText()
const timelineLength = (page: Page) => page.locator('[data-test=audit-entry]').count()
const listIds = (page: Page) =>
  page
    .locator('[data-test=request-table] [data-test=request-link]')
    .evaluateAll((links) => links.map((a) => a.textContent?.trim() ?? ''))
/** Console lines a run may show: the bridge answers a refused call with HTTP 400 or 409, which Chromium logs. */
const unexpected = (problems: string[]) =>
  problems.filter((p) => !/status of (400 \(Bad Request\)|409 \(Conflict\))/.test(p))

describe('requests in Chromium', () => {
  it('logs a request through the form, verifies it, finds its rows, and keeps notes and files', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const problems = watchProblems(page)
    await openRequests(page)

    // A fresh ledger: the empty state offers both ways in.
    const empty = page.locator('[data-test=requests-empty]')
    await empty.waitFor()
    await expect(empty.innerText()).resolves.toContain(
      'No requests yet — log one with New request, or import a CSV',
    )
    await expect(empty.locator('[data-test=empty-new-request]').isVisible()).resolves.toBe(true)
    await expect(empty.locator('[data-test=empty-import-csv]').isVisible()).resolves.toBe(true)
    await screenshot(page, 'requests-empty')

    // Submitted empty: the messages sit next to their fields, and nothing is sent.
    await page.locator('[data-test=new-request]').click()
    const dialog = page.locator('.el-dialog', { has: page.locator('[data-test=submit-request]') })
    await dialog.waitFor()
    await expect(dialog.locator('[data-test=deadline-hint]').innerText()).resolves.toContain('One month')
    await dialog.locator('[data-test=submit-request]').click()
    const errors = dialog.locator('.el-form-item__error')
    await expect
      .poll(() => errors.allInnerTexts())
      .toEqual([
        'Enter the requester’s name',
        'Give at least one subject identifier to match training records',
      ])
    await dialog.locator('[data-test=field-requester-email]').fill('jane@')
    await dialog.locator('[data-test=field-requester-name]').focus()
    await expect
      .poll(() => errors.allInnerTexts())
      .toContain('Enter a valid e-mail address, or leave it empty')
    await screenshot(page, 'requests-form-errors')
    expect((await api<Output<'requests.list'>>('requests.list', {})).total).toBe(0)

    // Filled for a patient of the demo set: P-0007, and an e-mail as a second identifier.
    await dialog.locator('[data-test=field-requester-name]').fill('Jane Doe')
    await dialog.locator('[data-test=field-requester-email]').fill('jane.doe@example.com')
    await dialog.locator('[data-test=field-subject-value-0]').fill('P-0007')
    await dialog.locator('[data-test=add-subject]').click()
    await dialog.locator('[data-test=field-subject-type-1]').click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: 'E-mail' }).click()
    await dialog.locator('[data-test=field-subject-value-1]').fill('jane.doe@example.com')
    await expect(dialog.locator('[data-test=field-received]').inputValue()).resolves.toBe(daysAgo(0))
    await dialog.locator('[data-test=submit-request]').click()

    // The new request's detail opens.
    await page.waitForURL(/#\/requests\/RTBF-\d{4}-0001$/)
    requestId = decodeURIComponent(page.url().split('/').at(-1) ?? '')
    await page.locator('[data-test=request-header]').waitFor()
    await expect(page.locator('[data-test=request-id]').innerText()).resolves.toBe(requestId)
    await expect(status(page)).resolves.toBe('Received')
    const created = await api<Output<'requests.get'>>('requests.get', { id: requestId })
    expect(created.request.subjectIds.map((s) => s.type)).toEqual(['customer-id', 'email'])
    expect(created.request.legalBasis).toBe('gdpr-art-17')
    // Masked until revealed.
    await expect(page.locator('[data-test=requester-name]').innerText()).resolves.toBe('J*** D**')
    const before = await timelineLength(page)
    expect(before).toBe(created.events.length)

    // Identity verified through the dialog.
    await page.locator('[data-test=verify-identity]').click()
    await page.locator('[data-test=field-identity-method]').fill('Matched e-mail on file + passport check')
    await page.locator('[data-test=confirm-transition]').click()
    await expect.poll(() => status(page)).toBe('Identity verified')
    await expect(page.locator('[data-test=identity]').innerText()).resolves.toContain(
      'Matched e-mail on file + passport check',
    )
    await expect.poll(() => timelineLength(page)).toBe(before + 1)
    await expect(page.locator('[data-test=start-work]').isVisible()).resolves.toBe(true)

    // The matching panel: the patient's row, and the model that still learned from it.
    const preview = await api<Output<'matching.preview'>>('matching.preview', { requestId, limit: 10 })
    const expected = preview.datasets.find((d) => d.datasetId === dataset.id)
    expect(expected && expected.matched.train + expected.matched.test).toBe(1)
    const section = page.locator(`[data-test=match-${dataset.id}]`)
    await section.waitFor()
    await expect(section.locator('[data-test=matched-count]').innerText()).resolves.toBe(
      String(expected?.matched.train),
    )
    const model = section.locator(`[data-test=match-model-${modelId}]`)
    await expect(model.locator('[data-test=remaining]').getAttribute('data-remaining')).resolves.toBe(
      String(expected?.matched.train),
    )
    // The decoded row reads as the source file does: P-0007 has mean_radius 19.07, malignant.
    const rowText = await section.locator('[data-test=match-preview] .el-table__body tr').first().innerText()
    expect(rowText).toContain('malignant')
    expect(rowText).toContain('19.07')
    await expect(section.innerText()).resolves.toContain('22 more columns not shown')
    await page
      .locator('[data-test=matching]')
      .screenshot({ path: path.join(ARTIFACTS, 'request-matching.png'), animations: 'disabled' })

    // A note and a file: both in the audit trail.
    await page.locator('[data-test=note-text]').fill('Called back to confirm the scope of the request.')
    await page.locator('[data-test=add-note]').click()
    await expect.poll(() => page.locator('[data-test=note]').count()).toBe(1)
    await expect.poll(() => timelineLength(page)).toBe(before + 2)

    const content = Buffer.from('Passport checked in person on the front desk.\n')
    await page.locator('[data-test=attach-input]').setInputFiles({
      name: 'identity-check.txt',
      mimeType: 'text/plain',
      buffer: content,
    })
    const attachmentRows = page.locator('[data-test=attachment-list] [data-test=attachment]')
    await expect.poll(() => attachmentRows.count()).toBe(1)
    await expect(attachmentRows.first().innerText()).resolves.toContain('46 B')
    await expect.poll(() => timelineLength(page)).toBe(before + 3)
    const stored = await api<Output<'requests.get'>>('requests.get', { id: requestId })
    expect(stored.request.attachments[0]?.sha256).toBe(createHash('sha256').update(content).digest('hex'))
    expect(stored.events.map((e) => e.type).slice(-3)).toEqual([
      'request.transitioned',
      'request.noted',
      'request.attached',
    ])

    // Too large for the bridge: refused here with a clear message, nothing sent.
    await page.locator('[data-test=attach-input]').setInputFiles({
      name: 'scan.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.alloc(800_000, 1),
    })
    const tooLarge = page.locator('[data-test=attachments] [data-test=error-notice]')
    await tooLarge.waitFor()
    await expect(tooLarge.innerText()).resolves.toContain('files up to 700 KB can be attached here')
    await expect(attachmentRows.count()).resolves.toBe(1)

    // Revealing shows the data and is itself logged.
    await page.locator('[data-test=reveal]').click()
    await page.locator('.el-popconfirm button', { hasText: 'Reveal' }).click()
    await expect.poll(() => page.locator('[data-test=requester-name]').innerText()).toBe('Jane Doe')
    await expect(page.locator('[data-test=note]').innerText()).resolves.toContain('Called back')
    await expect(page.locator('[data-test=attachment-name]').innerText()).resolves.toBe('identity-check.txt')
    await expect(page.locator('[data-test=audit-timeline]').innerText()).resolves.toContain(
      'Personal data revealed',
    )
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-test=download-attachment]').click(),
    ])
    expect(download.suggestedFilename()).toBe('identity-check.txt')
    const saved = path.join(tempDir('lethe-e2e-attachment-'), 'identity-check.txt')
    await download.saveAs(saved)
    expect(readFileSync(saved).equals(content)).toBe(true)

    // Work starts; the button names the move.
    await page.locator('[data-test=start-work]').click()
    await expect.poll(() => status(page)).toBe('In progress')
    await page.locator('[data-test=start-work]').waitFor({ state: 'detached' })
    await expect(page.locator('[data-test=complete-request]').isVisible()).resolves.toBe(true)

    // Unlearning is the Runs area's: the button hands it the request and the model.
    await section.locator(`[data-test=unlearn-from-${modelId}]`).click()
    await page.waitForURL(/#\/runs\?/)
    const runs = new URL(page.url().replace('#/', ''))
    expect(runs.searchParams.get('request')).toBe(requestId)
    expect(runs.searchParams.get('model')).toBe(modelId)
    await page.goBack()
    await page.locator('[data-test=request-header]').waitFor()

    // Unlearned (here through the API, as the Runs area would): the new version learned from none.
    const { jobId } = await api<{ jobId: string }>('unlearn.start', { modelId, method: 'retrain', requestId })
    const unlearned = ((await finished(jobId)).result as { model: { id: string } }).model.id
    await page.locator('[data-test=matching] button', { hasText: 'Refresh' }).click()
    const successor = section.locator(`[data-test=match-model-${unlearned}]`)
    await successor.waitFor()
    await expect(successor.locator('[data-test=remaining]').getAttribute('data-remaining')).resolves.toBe('0')
    await expect(model.locator('[data-test=superseded]').innerText()).resolves.toContain(unlearned)

    // Completed through the dialog; nothing is left to warn about.
    await page.locator('[data-test=complete-request]').click()
    await page.locator('[data-test=transition-dialog]').waitFor()
    await expect(page.locator('[data-test=transition-dialog] .el-alert--warning').count()).resolves.toBe(0)
    await page.locator('[data-test=confirm-transition]').click()
    await expect.poll(() => status(page)).toBe('Completed')

    // The certificate: refused while the organisation has no keys, with the way to create them.
    await page.locator('[data-test=issue-certificate]').click()
    const issueDialog = page.locator('[data-test=issue-dialog]')
    const refusal = issueDialog.locator('[data-test=error-notice]')
    await refusal.waitFor()
    await expect(refusal.innerText()).resolves.toContain(
      'Create the organisation’s keys before issuing certificates.',
    )
    await expect(page.locator('[data-test=go-certificates]').innerText()).resolves.toBe(
      'Create the organisation’s keys in Certificates',
    )
    await expect(page.locator('[data-test=go-certificates]').getAttribute('href')).resolves.toBe(
      '#/certificates',
    )
    await api('organisation.create', { name: 'Ørsted Klinik' })
    await issueDialog.locator('[data-test=issue-preview-refresh]').click()
    await issueDialog.locator('[data-test=issue-preview-pdf]').waitFor()
    await issueDialog.locator('[data-test=issue-sign]').click()
    const issued = page.locator('[data-test=certificate-issued]')
    await issued.waitFor()
    const certificates = await api<Output<'certificates.list'>>('certificates.list')
    expect(certificates.map((c) => c.requestId)).toEqual([requestId])
    await expect(issued.innerText()).resolves.toContain(certificates[0]?.certificateId)
    await expect(refusal.count()).resolves.toBe(0)
    await expect(page.locator('[data-test=issue-certificate]').count()).resolves.toBe(0)
    // The links: the unlearned model, its run (to the Runs area, by model), the certificate.
    await expect(page.locator('[data-test=link-model]').innerText()).resolves.toContain(unlearned)
    await expect(page.locator('[data-test=link-run]').getAttribute('href')).resolves.toBe(
      `#/runs?model=${unlearned}`,
    )
    await expect(page.locator('[data-test=link-certificate]').innerText()).resolves.toBe(
      certificates[0]?.certificateId,
    )
    await screenshot(page, 'request-detail')
    expect(unexpected(problems)).toEqual([])
    await page.close()
  })

  it('refuses a bad CSV with an error per row and column, then imports a good one, searches and sorts', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const problems = watchProblems(page)
    await openRequests(page)
    await page.locator('[data-test=request-table]').waitFor()
    expect(await listIds(page)).toEqual([requestId])

    // A file saved as Latin-1 ("Bjørn" as the single byte 0xF8) is refused, not turned into "Bj�rn".
    await page.locator('[data-test=import-csv]').click()
    await page.locator('[data-test=import-file]').setInputFiles({
      name: 'latin1.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        'name,subject_ids,jurisdiction,received\nBjørn,customer-id:C-3001,gdpr,2026-10-01\n',
        'latin1',
      ),
    })
    await expect(page.locator('[data-test=import-read-error]').innerText()).resolves.toContain('is not UTF-8')
    await expect(page.locator('[data-test=import-text]').inputValue()).resolves.toBe('')
    await page.locator('.el-dialog button', { hasText: 'Cancel' }).click()

    // A missing name on one row, an impossible date on another: nothing is imported.
    await page.locator('[data-test=import-csv]').click()
    await page.locator('[data-test=import-file]').setInputFiles({
      name: 'requests.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        [
          'name,email,subject_ids,jurisdiction,received',
          ',anna@example.com,customer-id:C-2001,gdpr,2026-10-01',
          'Bo Berg,,customer-id:C-2002,ccpa,2026-13-45',
        ].join('\n'),
      ),
    })
    await expect.poll(() => page.locator('[data-test=import-text]').inputValue()).toContain('Bo Berg')
    await page.locator('[data-test=import-submit]').click()
    const rows = page.locator('[data-test=import-errors] [data-test=import-error-row]')
    await expect.poll(() => rows.count()).toBe(2)
    const cells = await rows.evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())),
    )
    expect(cells[0]?.slice(0, 2)).toEqual(['2', 'name'])
    expect(cells[1]?.slice(0, 2)).toEqual(['3', 'received'])
    expect(cells[0]?.[2]).toBe('Missing: this column is required')
    expect(cells[1]?.[2]).toBe('Not a valid date: write it as YYYY-MM-DD')
    await expect(page.locator('[data-test=import-failure]').innerText()).resolves.toContain(
      'Nothing was imported',
    )
    await screenshot(page, 'requests-import-errors')
    expect((await api<Output<'requests.list'>>('requests.list', {})).total).toBe(1)
    await page.locator('.el-dialog button', { hasText: 'Cancel' }).click()
    await expect(listIds(page)).resolves.toEqual([requestId])

    // A good file, pasted: one request due within days, one long overdue.
    await page.locator('[data-test=import-csv]').click()
    await page.locator('[data-test=import-text]').fill(
      [
        'name,email,subject_ids,jurisdiction,received,assignee',
        // The same person again, from a DSAR tool: a possible duplicate of the first request.
        `J. Doe,jane.doe@example.com,customer-id:P-0007,gdpr,${daysAgo(26)},M. Weber`,
        'Bo Berg,,customer-id:C-2002; phone:+1 555 0100,ccpa,2026-08-01,',
      ].join('\n'),
    )
    await page.locator('[data-test=import-submit]').click()
    const success = page.locator('[data-test=import-success]')
    await success.waitFor()
    await expect(success.innerText()).resolves.toContain('Imported 2 requests')
    const all = await api<Output<'requests.list'>>('requests.list', { sort: 'id', order: 'asc' })
    expect(all.total).toBe(3)
    const [, soon, late] = all.items.map((r) => r.id)
    await expect.poll(() => listIds(page).then((ids) => ids.length)).toBe(3)
    // Sorted by due date by default: the overdue one first, red; the one due soon orange.
    expect(await listIds(page)).toEqual([late, soon, requestId])
    const tones = await page
      .locator('[data-test=request-table] [data-test=days-left]')
      .evaluateAll((spans) => spans.map((s) => s.getAttribute('data-tone')))
    expect(tones).toEqual(['overdue', 'soon', 'closed'])
    await screenshot(page, 'requests-list')

    // The register as CSV, personal data masked.
    const [exported] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-test=export-csv]').click(),
    ])
    expect(exported.suggestedFilename()).toMatch(/^lethe-requests-\d{4}-\d{2}-\d{2}\.csv$/)
    const csvFile = path.join(tempDir('lethe-e2e-export-'), 'requests.csv')
    await exported.saveAs(csvFile)
    const lines = readFileSync(csvFile, 'utf8').trim().split(/\r?\n/)
    expect(lines[0]).toMatch(/^id,received,/)
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual([requestId, soon, late])
    expect(lines.join('\n')).not.toContain('jane.doe@example.com')

    // Sort by id, both ways, through the column header: clicked, then from the keyboard.
    const idHeader = page.locator('[data-test=request-table] .sort-header', { hasText: 'Request' })
    await idHeader.click()
    await expect.poll(() => listIds(page)).toEqual([requestId, soon, late])
    await idHeader.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => listIds(page)).toEqual([late, soon, requestId])
    expect(page.url()).toContain('sort=id')
    expect(page.url()).toContain('order=desc')

    // Search by id, and by an exact subject id (matched through its HMAC).
    await page.locator('[data-test=search]').fill(soon ?? '')
    await expect.poll(() => listIds(page)).toEqual([soon])
    await page.locator('[data-test=search]').fill('C-2002')
    await page.locator('[data-test=search]').press('Enter')
    await expect.poll(() => listIds(page)).toEqual([late])
    await page.locator('[data-test=search]').fill('')
    await page.locator('[data-test=search]').press('Enter')
    await expect.poll(() => listIds(page).then((ids) => ids.length)).toBe(3)

    // The overdue filter, kept when coming back from a request.
    await page.locator('[data-test=filter-overdue]').click()
    await expect.poll(() => listIds(page)).toEqual([late])
    expect(page.url()).toContain('overdue=1')
    await page.locator('[data-test=request-link]').first().click()
    await page.locator('[data-test=request-header]').waitFor()
    await page.locator('[data-test=back-to-list]').click()
    await expect.poll(() => listIds(page)).toEqual([late])
    await page.keyboard.press('Alt+1')
    await page.keyboard.press('Alt+2')
    await expect.poll(() => listIds(page)).toEqual([late])
    await page.locator('[data-test=clear-filters]').click()
    await expect.poll(() => listIds(page).then((ids) => ids.length)).toBe(3)
    expect(unexpected(problems)).toEqual([])
    await page.close()
  })

  it('holds, resumes, rejects, acknowledges and extends requests', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    const { items } = await api<Output<'requests.list'>>('requests.list', { sort: 'id', order: 'asc' })
    const [, gdpr, ccpa] = items.map((r) => r.id)
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })

    // CCPA: receipt to acknowledge; the extension's notice date has long passed.
    await page.goto(`${app.origin}/#/requests/${ccpa}`)
    await page.locator('[data-test=request-header]').waitFor()
    await expect(page.locator('[data-test=extend]').isDisabled()).resolves.toBe(true)
    await page.locator('[data-test=acknowledge]').click()
    await expect
      .poll(() => page.locator('[data-test=acknowledgement]').innerText())
      .toContain('Receipt acknowledged on')

    // On hold with its reason, then resumed where it was.
    await page.locator('[data-test=put-on-hold]').click()
    await page.locator('[data-test=field-reason]').fill('Waiting for a copy of an ID document')
    await page.locator('[data-test=confirm-transition]').click()
    await expect.poll(() => status(page)).toBe('On hold')
    await expect(page.locator('[data-test=hold-reason]').innerText()).resolves.toContain('ID document')
    await page.locator('[data-test=resume]').click()
    await expect.poll(() => status(page)).toBe('Received')

    // Rejected: the dialog asks for the exemption (offering Art. 17(3)) and the reason.
    await page.locator('[data-test=reject-request]').click()
    await page.locator('[data-test=confirm-transition]').click()
    const dialog = page.locator('[data-test=transition-dialog]')
    await expect
      .poll(() => dialog.locator('.el-form-item__error').allInnerTexts())
      .toEqual(['Name the exemption relied on', 'Give the reason'])
    await screenshot(page, 'request-reject-dialog')
    await page.locator('[data-test=field-exemption]').click()
    await page.locator('.el-autocomplete-suggestion li:visible', { hasText: 'legal claims' }).click()
    await page.locator('[data-test=field-reason]').fill('The records are kept for a pending legal claim.')
    await page.locator('[data-test=confirm-transition]').click()
    await expect.poll(() => status(page)).toBe('Rejected')
    await expect(page.locator('[data-test=decision]').innerText()).resolves.toContain(
      'GDPR Art. 17(3)(e): legal claims',
    )
    await expect(page.locator('[data-test=audit-timeline]').innerText()).resolves.toContain(
      'exemption: GDPR Art. 17(3)(e): legal claims',
    )

    // GDPR, within its first month: extended to three months from receipt.
    await page.goto(`${app.origin}/#/requests/${gdpr}`)
    await page.locator('[data-test=request-header]').waitFor()
    await expect(page.locator('[data-test=possible-duplicates]').innerText()).resolves.toContain(requestId)
    // Reassigned through the prompt; the change is an audit entry.
    await expect(page.locator('[data-test=assignee]').innerText()).resolves.toBe('M. Weber')
    await page.locator('[data-test=edit-assignee]').click()
    await page.locator('.assignee-prompt input').fill('Privacy team')
    await page.locator('.assignee-prompt button', { hasText: 'Save' }).click()
    await expect.poll(() => page.locator('[data-test=assignee]').innerText()).toBe('Privacy team')
    await expect(page.locator('[data-test=audit-timeline]').innerText()).resolves.toContain(
      'assignee: Privacy team',
    )
    await page.locator('[data-test=extend]').click()
    await page.locator('[data-test=field-extension-reason]').fill('The records are spread over 14 systems.')
    await page.locator('[data-test=confirm-extend]').click()
    await page.locator('[data-test=extension]').waitFor()
    const extended = await api<Output<'requests.get'>>('requests.get', { id: gdpr })
    expect(extended.request.deadline.extension?.reason).toBe('The records are spread over 14 systems.')
    await expect(page.locator('[data-test=extension]').innerText()).resolves.toContain('14 systems')
    // Once is all the rule allows: the button is gone.
    await expect(page.locator('[data-test=extend]').count()).resolves.toBe(0)
    expect(unexpected(problems)).toEqual([])
    await page.close()
  })

  it('draws the matched rows of image datasets', async () => {
    // The digits demo (8×8 pixels kept as CSV columns) and, where installed, Fashion-MNIST (IDX,
    // 28×28; its rows get the subject ids S-0000…).
    const digits = await api<Output<'datasets.importDemo'>>('datasets.importDemo', { demo: 'digits' })
    const fashionFiles = [FASHION_IMAGES, FASHION_LABELS].every((f) => existsSync(f))
    if (!fashionFiles) console.warn(`Skipping the IDX part: ${FASHION_IMAGES} is missing.`)
    const fashion = fashionFiles
      ? await api<Output<'datasets.import'>>('datasets.import', {
          path: FASHION_IMAGES,
          labelsPath: FASHION_LABELS,
        })
      : null
    const writer = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Writer 116' },
      subjectIds: [
        { type: 'customer-id', value: 'W-116' },
        { type: 'other', value: 'S-0042' },
      ],
      jurisdiction: 'lgpd',
      received: daysAgo(3),
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
    await page.goto(`${app.origin}/#/requests/${writer.id}`)
    const preview = await api<Output<'matching.preview'>>('matching.preview', {
      requestId: writer.id,
      limit: 10,
    })

    for (const [set, side] of [
      [digits, 8],
      [fashion, 28],
    ] as const) {
      if (!set) continue
      const section = page.locator(`[data-test=match-${set.id}]`)
      await section.waitFor()
      const expected = preview.datasets.find((d) => d.datasetId === set.id)
      expect(expected?.preview.length).toBeGreaterThan(0)
      // One canvas per previewed row, of the image's size, with ink on it (not a blank box).
      const canvases = await section.locator('canvas').evaluateAll((elements) =>
        (elements as unknown as Canvas[]).map((c) => {
          const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? []
          let lit = 0
          for (let i = 0; i < data.length; i += 4) if ((data[i] ?? 0) > 0) lit++
          return { width: c.width, height: c.height, lit }
        }),
      )
      expect(canvases).toHaveLength(expected?.preview.length ?? -1)
      for (const c of canvases) {
        expect([c.width, c.height]).toEqual([side, side])
        expect(c.lit).toBeGreaterThan(5)
      }
    }
    // The tabular set has no rows of this person: listed compactly.
    await expect(page.locator('[data-test=no-match]').innerText()).resolves.toContain(dataset.id)
    await page
      .locator('[data-test=matching]')
      .screenshot({ path: path.join(ARTIFACTS, 'request-matching-images.png'), animations: 'disabled' })
    expect(unexpected(problems)).toEqual([])
    await page.close()
  })

  it('shows a request in the dark theme', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await page.goto(app.url)
    await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
    await page.locator('[data-test=theme-toggle]').click()
    await page.goto(`${app.origin}/#/requests/${requestId}`)
    await page.locator(`[data-test=match-${dataset.id}]`).waitFor()
    await expect(status(page)).resolves.toBe('Completed')
    await screenshot(page, 'request-detail-dark')
    expect(unexpected(problems)).toEqual([])
    await page.close()
  })
})
