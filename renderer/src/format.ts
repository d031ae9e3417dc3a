/**
 * Dates and numbers as the person reading them writes them (the system's locale). Only
 * formatting lives here: no store, no API.
 */

/** A calendar date (YYYY-MM-DD) as a local date: parsed by parts, so no time zone shifts it a day. */
export function parseDate(iso: string): Date {
  const [y, m, d] = iso.split('-').map(Number)
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1)
}

/** "2 Nov 2026" (or the locale's medium form) for a YYYY-MM-DD date; a dash for none. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  return parseDate(iso).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })
}

/** A timestamp (ISO 8601) as a medium date and a short time. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
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

/** A file size in B, KB or MB (powers of 1000, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1000).toLocaleString(undefined, { maximumFractionDigits: 1 })} KB`
  return `${(bytes / 1_000_000).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`
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
