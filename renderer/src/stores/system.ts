import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Input, Output, Settings, SystemInfo } from '@contract/index'
import { call, errorOf, onEvent } from '../api/client'

export type LedgerSettings = Output<'ledger.settings'>

export interface Progress {
  fraction: number | null
  message: string
}

const DATE_LOCALE_KEY = 'lethe.dateLocale'

/** What the first screen shows (version, data folder, the engine's backends) and the app's settings. */
export const useSystemStore = defineStore('system', () => {
  const info = ref<SystemInfo | null>(null)
  const error = ref<ErrorPayload | null>(null)
  const loading = ref(false)
  const probe = ref<Progress | null>(null)

  const settings = ref<Settings | null>(null)
  const settingsError = ref<ErrorPayload | null>(null)
  const savingSettings = ref(false)
  // The last one seen here, so that dates do not change language once the settings arrive.
  const dateLocale = ref(localStorage.getItem(DATE_LOCALE_KEY) ?? 'auto')
  let settingsRequested: Promise<void> | null = null
  const certificationSaving = ref(false)
  const certificationError = ref<ErrorPayload | null>(null)

  // The ledger's own settings: retention, holidays, the period for other jurisdictions.
  const ledgerSettings = ref<LedgerSettings | null>(null)
  const ledgerSettingsSaving = ref(false)
  const ledgerSettingsError = ref<ErrorPayload | null>(null)
  const retentionRunning = ref(false)
  const retentionError = ref<ErrorPayload | null>(null)

  onEvent((event) => {
    if (event.name === 'job.progress' && event.payload.kind === 'probe') {
      probe.value = { fraction: event.payload.fraction, message: event.payload.message }
    }
  })

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      info.value = await call('system.info', {})
    } catch (caught) {
      error.value = errorOf(caught)
    } finally {
      loading.value = false
    }
  }

  /** Chooses the compute backend ('auto' leaves it to the probe); the engine switches at once. */
  async function useBackend(backend: Settings['backend']): Promise<void> {
    loading.value = true
    error.value = null
    try {
      info.value = await call('settings.update', { backend })
    } catch (caught) {
      error.value = errorOf(caught)
    } finally {
      loading.value = false
    }
  }

  async function loadSettings(): Promise<void> {
    settingsError.value = null
    try {
      settings.value = await call('settings.get', {})
      dateLocale.value = settings.value.dateLocale
      localStorage.setItem(DATE_LOCALE_KEY, dateLocale.value)
    } catch (caught) {
      settingsError.value = errorOf(caught)
    }
  }

  /** Loads the settings once, for whoever formats a date first. */
  function ensureSettings(): Promise<void> {
    settingsRequested ??= loadSettings()
    return settingsRequested
  }

  /** The language dates are shown in: 'auto' (the system's) or a BCP 47 tag. */
  async function setDateLocale(tag: string): Promise<boolean> {
    savingSettings.value = true
    settingsError.value = null
    try {
      info.value = await call('settings.update', { dateLocale: tag })
      settings.value = await call('settings.get', {})
      dateLocale.value = tag
      localStorage.setItem(DATE_LOCALE_KEY, tag)
      return true
    } catch (caught) {
      settingsError.value = errorOf(caught)
      return false
    } finally {
      savingSettings.value = false
    }
  }

  /** The default (ε, δ) of certified unlearning, which a run's form starts from. */
  async function setCertification(certification: Settings['certification']): Promise<boolean> {
    certificationSaving.value = true
    certificationError.value = null
    try {
      info.value = await call('settings.update', { certification })
      settings.value = await call('settings.get', {})
      return true
    } catch (caught) {
      certificationError.value = errorOf(caught)
      return false
    } finally {
      certificationSaving.value = false
    }
  }

  /** Reads the ledger's settings, or changes some of them (each change is a ledger entry). */
  async function ledgerSettingsCall(changes: Input<'ledger.settings'> = {}): Promise<boolean> {
    ledgerSettingsSaving.value = Object.keys(changes).length > 0
    ledgerSettingsError.value = null
    try {
      ledgerSettings.value = await call('ledger.settings', changes)
      return true
    } catch (caught) {
      ledgerSettingsError.value = errorOf(caught)
      return false
    } finally {
      ledgerSettingsSaving.value = false
    }
  }

  /** Erases now the personal data of requests closed longer ago than the retention period. */
  async function applyRetention(): Promise<string[] | null> {
    retentionRunning.value = true
    retentionError.value = null
    try {
      return (await call('ledger.applyRetention', {})).redacted
    } catch (caught) {
      retentionError.value = errorOf(caught)
      return null
    } finally {
      retentionRunning.value = false
    }
  }

  return {
    info,
    error,
    loading,
    probe,
    settings,
    settingsError,
    savingSettings,
    certificationSaving,
    certificationError,
    dateLocale,
    ledgerSettings,
    ledgerSettingsSaving,
    ledgerSettingsError,
    retentionRunning,
    retentionError,
    load,
    useBackend,
    loadSettings,
    ensureSettings,
    setDateLocale,
    setCertification,
    loadLedgerSettings: () => ledgerSettingsCall(),
    saveLedgerSettings: (changes: Input<'ledger.settings'>) => ledgerSettingsCall(changes),
    applyRetention,
  }
})
