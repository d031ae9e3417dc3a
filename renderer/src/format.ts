/**
 * Dates as the user chose to read them (Settings → Date language), for every view. Calendar dates
 * (YYYY-MM-DD: receipts, deadlines) are days, not instants: they are formatted as written, in UTC,
 * so that no time zone moves them to the day before. Timestamps are shown in local time.
 */
import { useSystemStore } from './stores/system'

/** The languages offered in Settings; 'auto' follows the operating system. */
export const dateLocales: { value: string; label: string }[] = [
  { value: 'auto', label: 'The system’s language' },
  { value: 'en-GB', label: 'English (UK)' },
  { value: 'en-US', label: 'English (US)' },
  { value: 'de-DE', label: 'Deutsch' },
  { value: 'fr-FR', label: 'Français' },
  { value: 'es-ES', label: 'Español' },
  { value: 'pt-BR', label: 'Português (Brasil)' },
  { value: 'nl-NL', label: 'Nederlands' },
  { value: 'it-IT', label: 'Italiano' },
]

const CALENDAR_DATE = /^\d{4}-\d{2}-\d{2}$/

/** The chosen locale, or undefined for the system's; reactive where it is read in a render. */
export function dateLocale(): string | undefined {
  const system = useSystemStore()
  void system.ensureSettings()
  return system.dateLocale === 'auto' ? undefined : system.dateLocale
}

/** A locale given ('auto': the system's), or else the chosen one. */
const resolve = (locale?: string) =>
  locale === undefined ? dateLocale() : locale === 'auto' ? undefined : locale

function format(iso: string, options: Intl.DateTimeFormatOptions, locale: string | undefined): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  const calendar = CALENDAR_DATE.test(iso)
  return new Intl.DateTimeFormat(locale, { ...options, ...(calendar ? { timeZone: 'UTC' } : {}) }).format(
    date,
  )
}

/** A date: 'long' reads "22 November 2026", 'medium' "22 Nov 2026" (in English (UK)). */
export function formatDate(
  iso: string,
  style: 'long' | 'medium' | 'short' = 'medium',
  locale?: string,
): string {
  return format(iso, { dateStyle: style }, resolve(locale))
}

/** A moment: its date and its local time to the minute. */
export function formatDateTime(iso: string, locale?: string): string {
  return format(iso, { dateStyle: 'medium', timeStyle: 'short' }, resolve(locale))
}

/** Day and month only, for chart axes: "22 Nov". */
export function formatDayMonth(date: Date | number): string {
  return new Intl.DateTimeFormat(dateLocale(), { day: 'numeric', month: 'short' }).format(date)
}
