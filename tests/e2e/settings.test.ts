import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
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

const api = <T>(method: string, input: unknown = {}) => bridgeCall<T>(app, method, input)
const hasOpenssl = existsSync('/usr/bin/openssl')
/** The one console line a refused call leaves: the bridge answers a typed error with HTTP 400. */
const REFUSED =
  'console error: Failed to load resource: the server responded with a status of 400 (Bad Request)'

function localDate(days: number): string {
  const d = new Date()
  d.setDate(d.getDate() + days)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

beforeAll(async () => {
  app = await startBrowserMode({ LETHE_KEY_PASSPHRASE: 'correct horse battery' })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

/** Waits for the toasts to go, so that a screenshot shows the page and not them. */
async function quiet(page: Page): Promise<void> {
  await page.locator('.el-message').last().waitFor({ state: 'detached', timeout: 10_000 })
}

async function openSettings(page: Page): Promise<void> {
  await page.goto(app.url)
  await page.locator('[data-test=backends]').waitFor({ timeout: 60_000 })
  await page.keyboard.press('Alt+7')
  await expect(page.locator('h1').textContent()).resolves.toBe('Settings')
}

async function chooseDateLanguage(page: Page, label: string): Promise<void> {
  await page.locator('[data-test=date-locale]').click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: label }).click()
  await page.locator('.el-message--success', { hasText: `Dates are now shown in ${label}` }).waitFor()
}

describe('settings in Chromium', () => {
  it('switches the compute backend, and the first screen shows it in use', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await openSettings(page)
    const choice = page.locator('[data-test=backend-choice]')
    await choice.getByText('Plain JavaScript CPU').click()
    await page.locator('text=In use: cpu').waitFor()
    await choice.locator('.is-active', { hasText: 'Plain JavaScript CPU' }).waitFor()
    await screenshot(page, 'settings-backend')
    await page.keyboard.press('Alt+1')
    await page.locator('[data-test=backends] .backend-cpu').getByText('In use').waitFor()
    await expect(page.locator('text=Chosen in Settings').count()).resolves.toBe(1)
    expect((await api<Output<'system.info'>>('system.info')).engine).toMatchObject({
      selected: 'cpu',
      selectedBy: 'setting',
    })
    // Back to automatic, so the other tests see the probe's choice.
    await page.keyboard.press('Alt+7')
    await choice.getByText('Automatic').click()
    await page.locator('text=In use: wasm').or(page.locator('text=In use: webgpu')).first().waitFor()
    expect(problems).toEqual([])
    await page.close()
  })

  it('shows dates in the chosen language, here and on the dashboard, and keeps the choice', async () => {
    const request = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Dora Datum' },
      subjectIds: [{ type: 'customer-id', value: 'D-1' }],
      jurisdiction: 'gdpr',
      received: localDate(-3),
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await openSettings(page)
    const example = page.locator('[data-test=date-example]')

    await chooseDateLanguage(page, 'English (UK)')
    await expect(example.textContent()).resolves.toContain('22 November 2026')
    await chooseDateLanguage(page, 'Deutsch')
    await expect(example.textContent()).resolves.toContain('22. November 2026')
    expect(await api<Output<'settings.get'>>('settings.get')).toMatchObject({ dateLocale: 'de-DE' })

    // The dashboard's deadlines follow; a reload keeps the language (it is in the data folder).
    await page.keyboard.press('Alt+1')
    const due = page.locator('[data-test=due-next-item] time').first()
    const german = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeZone: 'UTC' }).format(
      new Date(request.deadline.dueDate),
    )
    await expect(due.textContent()).resolves.toBe(german)
    await page.reload()
    await expect(page.locator('[data-test=due-next-item] time').first().textContent()).resolves.toBe(german)

    await page.keyboard.press('Alt+7')
    await chooseDateLanguage(page, 'Português (Brasil)')
    await expect(example.textContent()).resolves.toContain('22 de novembro de 2026')
    await chooseDateLanguage(page, 'English (UK)')
    await expect(example.textContent()).resolves.toContain('22 November 2026')
    expect(problems).toEqual([])
    await page.close()
  })

  it('sets retention, applies it to a request closed long ago, and keeps holidays', async () => {
    await api('settings.update', { dateLocale: 'en-GB' })
    const old = await api<Output<'requests.create'>>('requests.create', {
      requester: { name: 'Rita Retention' },
      subjectIds: [{ type: 'customer-id', value: 'R-1' }],
      jurisdiction: 'gdpr',
      received: localDate(-200),
    })
    await api('requests.transition', {
      id: old.id,
      to: 'rejected',
      exemption: 'GDPR Art. 17(3)(b)',
      reason: 'Records kept under a legal obligation',
      on: localDate(-190),
    })

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await openSettings(page)
    const retention = page.locator('[data-test=retention]')
    await retention.locator('[data-test=retention-days] input').waitFor()
    await expect(retention.locator('[data-test=retention-save]').isDisabled()).resolves.toBe(true)
    await retention.locator('[data-test=retention-days] input').fill('45')
    await retention.locator('[data-test=other-days] input').fill('20')
    await retention.locator('[data-test=other-days] input').press('Tab')
    await retention.locator('[data-test=retention-save]').click()
    await page.locator('.el-message--success', { hasText: 'Retention settings saved' }).waitFor()
    expect(await api<Output<'ledger.settings'>>('ledger.settings')).toMatchObject({
      retentionDays: 45,
      otherJurisdictionDays: 20,
    })

    await retention.locator('[data-test=apply-retention]').click()
    const dialog = page.locator('.el-message-box')
    await dialog.waitFor()
    await expect(dialog.textContent()).resolves.toContain('closed more than 45 days ago')
    await dialog.getByRole('button', { name: 'Erase personal data' }).click()
    const result = retention.locator('[data-test=retention-result]')
    await result.waitFor()
    await expect(result.textContent()).resolves.toContain('erased from 1 request')
    await expect(result.textContent()).resolves.toContain(old.id)
    const { request } = await api<Output<'requests.get'>>('requests.get', { id: old.id })
    expect(request.redactedOn).not.toBeNull()
    expect(request.requester).toBeNull()

    const holidays = page.locator('[data-test=holidays]')
    await holidays.getByLabel('Holiday to add').fill('2026-12-24')
    await holidays.getByLabel('Holiday to add').press('Enter')
    await holidays.locator('[data-test=holiday-add]').click()
    await holidays.locator('[data-test=holiday-list] li', { hasText: '24 December 2026' }).waitFor()
    expect((await api<Output<'ledger.settings'>>('ledger.settings')).holidays).toEqual(['2026-12-24'])
    await quiet(page)
    await screenshot(page, 'settings')
    await holidays.getByRole('button', { name: 'Remove 24 December 2026' }).click()
    await holidays.getByText('No holidays yet').waitFor()
    expect((await api<Output<'ledger.settings'>>('ledger.settings')).holidays).toEqual([])
    expect(problems).toEqual([])
    await page.close()
  })

  it('uploads a logo, creates and exports the keys, and imports a PKCS#12 by upload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const problems = watchProblems(page)
    await openSettings(page)

    // The logo: a real PNG, shown as a preview, and the same bytes in the data folder.
    const organisationCard = page.locator('[data-test=organisation-settings]')
    await organisationCard.getByText('Not set yet').waitFor()
    const icon = path.resolve('resources/icon.png')
    await page.locator('[data-test=logo-input]').setInputFiles(icon)
    const preview = page.locator('[data-test=logo-preview]')
    await preview.waitFor()
    expect(await preview.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(
      512,
    )
    expect(readFileSync(path.join(app.dataDir, 'organisation', 'logo.png')).equals(readFileSync(icon))).toBe(
      true,
    )
    await quiet(page)
    await screenshot(page, 'settings-logo')

    // Text dressed as a PNG: refused with the reason, and the logo it had is kept.
    await page
      .locator('[data-test=logo-input]')
      .setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from('not an image') })
    const refusal = organisationCard.locator('[data-test=error-notice]')
    await refusal.waitFor()
    await expect(refusal.textContent()).resolves.toContain('not an image: give a PNG or JPEG')
    await expect(preview.isVisible()).resolves.toBe(true)
    expect((await api<Output<'organisation.logo'>>('organisation.logo'))?.mediaType).toBe('image/png')

    // The keys, created here, and their public halves as PEM files.
    const keys = page.locator('[data-test=keys]')
    await keys.locator('[data-test=keys-empty]').waitFor()
    await keys.getByLabel('Organisation name').fill('Ørsted Klinik')
    await keys.locator('[data-test=settings-create-keys]').click()
    await keys.locator('[data-test=settings-manifest-fingerprint]').waitFor()
    const organisation = await api<NonNullable<Output<'organisation.get'>>>('organisation.get')
    await expect(keys.locator('[data-test=settings-manifest-fingerprint]').textContent()).resolves.toBe(
      organisation.manifestKeyFingerprint,
    )
    await expect(
      organisationCard.locator('[data-test=settings-organisation-name]').textContent(),
    ).resolves.toBe('Ørsted Klinik')

    const saved = tempDir('lethe-e2e-keys-')
    const download = async (hook: string) => {
      const [file] = await Promise.all([
        page.waitForEvent('download'),
        keys.locator(`[data-test=${hook}]`).click(),
      ])
      const to = path.join(saved, file.suggestedFilename())
      await file.saveAs(to)
      return { name: file.suggestedFilename(), text: readFileSync(to, 'utf8') }
    }
    const key = await download('export-manifest-key')
    expect(key.name).toBe('organisation-manifest-key.pem')
    expect(key.text).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
    expect(key.text).toBe(organisation.manifestPublicKeyPem)
    const certificate = await download('export-certificate')
    expect(certificate.name).toBe('organisation-certificate.pem')
    expect(certificate.text).toMatch(/^-----BEGIN CERTIFICATE-----\r?\n/)
    expect(certificate.text).toBe(organisation.certificatePem)
    if (hasOpenssl) {
      const parsed = spawnSync(
        'openssl',
        ['x509', '-in', path.join(saved, certificate.name), '-noout', '-subject'],
        {
          encoding: 'utf8',
        },
      )
      expect(parsed.status).toBe(0)
    }

    // The organisation's own certificate, uploaded as a PKCS#12 made by openssl.
    if (hasOpenssl) {
      const dir = tempDir('lethe-e2e-p12-')
      const run = (args: string[]) => expect(spawnSync('openssl', args, { encoding: 'utf8' }).status).toBe(0)
      run([
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '30',
        '-subj',
        '/CN=Orsted Klinik A-S',
      ])
      const p12 = path.join(dir, 'orsted.p12')
      run([
        'pkcs12',
        '-export',
        '-inkey',
        path.join(dir, 'key.pem'),
        '-in',
        path.join(dir, 'cert.pem'),
        '-out',
        p12,
        '-passout',
        'pass:p12 secret',
      ])
      const fingerprint = spawnSync(
        'openssl',
        ['x509', '-in', path.join(dir, 'cert.pem'), '-noout', '-fingerprint', '-sha256'],
        { encoding: 'utf8' },
      ).stdout
      await keys.locator('[data-test=p12-input]').setInputFiles(p12)
      await expect(keys.locator('[data-test=p12-choose]').textContent()).resolves.toContain('orsted.p12')
      await keys.getByLabel('PKCS#12 passphrase').fill('wrong')
      await keys.locator('[data-test=p12-import]').click()
      await keys.locator('[data-test=error-notice]', { hasText: 'wrong passphrase' }).waitFor()
      await keys.getByLabel('PKCS#12 passphrase').fill('p12 secret')
      await keys.locator('[data-test=p12-import]').click()
      await page.locator('.el-message--success', { hasText: 'orsted.p12' }).waitFor()
      const shown = (await keys.locator('[data-test=settings-certificate-fingerprint]').textContent()) ?? ''
      expect(shown).not.toBe(organisation.certificateFingerprint)
      expect(fingerprint.toUpperCase()).toContain(shown)
      await expect(keys.locator('[data-test=error-notice]').count()).resolves.toBe(0)
    }
    await quiet(page)
    await screenshot(page, 'settings-keys')
    expect(problems.filter((p) => p !== REFUSED)).toEqual([])
    await page.close()
  })

  it('keeps the page usable in the dark theme', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watchProblems(page)
    await openSettings(page)
    await page.locator('[data-test=theme-toggle]').click()
    await page.locator('[data-test=logo-preview]').waitFor()
    await page.locator('[data-test=settings-manifest-fingerprint]').waitFor()
    await screenshot(page, 'settings-dark')
    await page.locator('[data-test=theme-toggle]').click()
    expect(problems).toEqual([])
    await page.close()
  })
})
