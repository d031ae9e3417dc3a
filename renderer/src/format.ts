/**
 * Dates and numbers for every view. Dates read as the user chose (Settings → Date language).
 * Calendar dates (YYYY-MM-DD: receipts, deadlines) are days, not instants: they are formatted as
 * written, in UTC, so that no time zone moves them to the day before. Timestamps are shown in
 * local time. Nothing else lives here: no API calls.
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
  iso: string | null | undefined,
  style: 'long' | 'medium' | 'short' = 'medium',
  locale?: string,
): string {
  return iso ? format(iso, { dateStyle: style }, resolve(locale)) : '—'
}

/** A moment: its date and its local time, to the minute (or the second, for audit entries). */
export function formatDateTime(
  iso: string | null | undefined,
  { seconds = false, locale }: { seconds?: boolean; locale?: string } = {},
): string {
  if (!iso) return '—'
  return format(iso, { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short' }, resolve(locale))
}

/** The local time of a moment, to the minute. */
export function formatTime(iso: string): string {
  return format(iso, { timeStyle: 'short' }, dateLocale())
}

/** Day and month only, for chart axes: "22 Nov". */
export function formatDayMonth(date: Date | number): string {
  return new Intl.DateTimeFormat(dateLocale(), { day: 'numeric', month: 'short' }).format(date)
}

/** A calendar date (YYYY-MM-DD) as a local date: parsed by parts, so no time zone shifts it a day. */
export function parseDate(iso: string): Date {
  const [y, m, d] = iso.split('-').map(Number)
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1)
}

/** Today as YYYY-MM-DD in local time, as the ledger counts days. */
export function todayIso(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
}

/** Whole days from one YYYY-MM-DD date to another (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((parseDate(to).getTime() - parseDate(from).getTime()) / 86_400_000)
}

/** 1,234 (grouped as the locale groups them). */
export const formatCount = (n: number): string => n.toLocaleString()

/** A file size in B, KB, MB or GB (powers of 1000, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1000).toLocaleString(undefined, { maximumFractionDigits: 1 })} KB`
  if (bytes < 1e9) return `${(bytes / 1_000_000).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`
  return `${(bytes / 1e9).toLocaleString(undefined, { maximumFractionDigits: 1 })} GB`
}

/** How long ago a moment was, in the chosen language: "3 minutes ago", "yesterday". */
export function formatAgo(iso: string, now = Date.now()): string {
  const then = new Date(iso).getTime()
  if (Number.isNaN(then)) return iso
  const seconds = Math.round((then - now) / 1000)
  const relative = new Intl.RelativeTimeFormat(dateLocale(), { numeric: 'auto' })
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['second', 60],
    ['minute', 60],
    ['hour', 24],
    ['day', 30],
    ['month', 12],
  ]
  let value = seconds
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) return relative.format(unit === 'second' ? Math.min(value, 0) : value, unit)
    value = Math.round(value / size)
  }
  return relative.format(value, 'year')
}

/**
 * A decoded data value: integers as they are, decimals to five significant digits (the
 * engine stores float32, so 19.07 comes back as 19.0699996…).
 */
export function formatValue(value: string | number): string {
  if (typeof value === 'string') return value
  if (Number.isInteger(value)) return String(value)
  return String(Number(value.toPrecision(5)))
}

/** A duration: "840 ms", "12.4 s", "3.2 min", "1.5 h". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}
