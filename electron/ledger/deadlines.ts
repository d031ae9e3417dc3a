/**
 * Statutory response deadlines for erasure / access requests. Pure functions, no I/O.
 *
 * Dates are ISO calendar dates ('YYYY-MM-DD') handled as plain day numbers (days since
 * 1970-01-01 in the proleptic Gregorian calendar), so no time zone or DST can shift them.
 */

export const jurisdictions = ['gdpr', 'uk-gdpr', 'ccpa', 'lgpd', 'other'] as const
export type Jurisdiction = (typeof jurisdictions)[number]

export interface Calendar {
  /** Public holidays as 'YYYY-MM-DD'; Saturdays and Sundays are never working days. */
  holidays: ReadonlySet<string>
  /** Period in calendar days for the 'other' jurisdiction. */
  otherDays: number
}

export const defaultCalendar: Calendar = { holidays: new Set<string>(), otherDays: 30 }

// ---------------------------------------------------------------------------------------
// Calendar arithmetic
// ---------------------------------------------------------------------------------------

interface Civil {
  year: number
  month: number // 1..12
  day: number // 1..31
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

function parseCivil(value: string): Civil | null {
  if (typeof value !== 'string') return null
  const match = ISO_DATE.exec(value)
  if (!match) return null
  const year = Number(match[1])
  const month = Number(match[2])
  const day = Number(match[3])
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  return { year, month, day }
}

function parse(value: string, what = 'date'): Civil {
  const civil = parseCivil(value)
  if (!civil)
    throw new Error(`Invalid ${what} ${JSON.stringify(value)}: expected a real calendar date as YYYY-MM-DD.`)
  return civil
}

// Days from 1970-01-01 to a civil date and back (H. Hinnant's algorithms); pure integer maths.
function toDayNumber({ year, month, day }: Civil): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function fromDayNumber(dayNumber: number): Civil {
  const z = dayNumber + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

function format({ year, month, day }: Civil): string {
  if (year < 0 || year > 9999)
    throw new Error(`Date out of range: year ${year} cannot be written as YYYY-MM-DD.`)
  const pad = (n: number, width: number) => String(n).padStart(width, '0')
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`
}

function requireInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value))
    throw new Error(`Invalid ${what} ${String(value)}: expected a whole number.`)
}

/** True for a strict 'YYYY-MM-DD' string that names a real date (rejects 2026-02-29, 2026-2-01). */
export function isIsoDate(value: string): boolean {
  return parseCivil(value) !== null
}

/** The date `days` calendar days after `date` (before it when negative). */
export function addDays(date: string, days: number): string {
  const civil = parse(date)
  requireInteger(days, 'number of days')
  return format(fromDayNumber(toDayNumber(civil) + days))
}

/**
 * The date `months` months after `date`, on the same day of the month, or on the last day of
 * the target month when that day does not exist there (Reg. 1182/71 Art. 3(2)(c)).
 */
export function addMonthsClamped(date: string, months: number): string {
  const { year, month, day } = parse(date)
  requireInteger(months, 'number of months')
  const index = year * 12 + (month - 1) + months
  const targetYear = Math.floor(index / 12)
  const targetMonth = index - targetYear * 12 + 1
  return format({
    year: targetYear,
    month: targetMonth,
    day: Math.min(day, daysInMonth(targetYear, targetMonth)),
  })
}

/** `to - from` in calendar days: negative when `to` is before `from`. */
export function daysBetween(from: string, to: string): number {
  const start = parse(from)
  const end = parse(to)
  return toDayNumber(end) - toDayNumber(start)
}

/** Day of the week: 0 = Sunday … 6 = Saturday. */
export function weekday(date: string): number {
  // 1970-01-01 was a Thursday (4).
  return (((toDayNumber(parse(date)) + 4) % 7) + 7) % 7
}

/** Monday to Friday, and not a configured public holiday. */
export function isWorkingDay(date: string, calendar: Calendar): boolean {
  const day = weekday(date)
  return day !== 0 && day !== 6 && !calendar.holidays.has(date)
}

/** The date itself when it is a working day, otherwise the first working day after it. */
export function nextWorkingDay(date: string, calendar: Calendar): string {
  let current = format(parse(date))
  // A run of more than a year of non-working days can only be a misconfigured calendar.
  for (let step = 0; step <= 366; step++) {
    if (isWorkingDay(current, calendar)) return current
    current = addDays(current, 1)
  }
  throw new Error(`No working day within a year after ${date}: check the configured holidays.`)
}

/** The date `days` working days after `date`; the start date itself is not counted. */
export function addBusinessDays(date: string, days: number, calendar: Calendar): string {
  let current = format(parse(date))
  requireInteger(days, 'number of business days')
  if (days < 0) throw new Error(`Invalid number of business days ${days}: expected zero or more.`)
  for (let counted = 0; counted < days; counted++) current = nextWorkingDay(addDays(current, 1), calendar)
  return current
}

// ---------------------------------------------------------------------------------------
// Statutory deadlines
// ---------------------------------------------------------------------------------------

export interface Deadlines {
  /** When the response is due now, without an extension. */
  dueDate: string
  /** CCPA only: the last day to confirm receipt of the request. */
  acknowledgeBy: string | null
  /** Last day an extension may be notified to the requester; null if none is allowed. */
  extensionNoticeBy: string | null
  /** The due date once extended; null if no extension is allowed. */
  extendedDueDate: string | null
  /** One human sentence citing the legal rule applied. */
  rule: string
}

/**
 * A period in months per Reg. (EEC, Euratom) 1182/71: it ends on the day of the last month
 * with the same number as the day of receipt, or on that month's last day if there is no
 * such day (Art. 3(2)(c)); if that day is a Saturday, Sunday or public holiday, it ends on
 * the next working day instead (Art. 3(4)).
 */
function monthsPeriod(received: string, months: number, calendar: Calendar): string {
  return nextWorkingDay(addMonthsClamped(received, months), calendar)
}

function requireOtherDays(calendar: Calendar): number {
  const days = calendar.otherDays
  if (!Number.isSafeInteger(days) || days < 1) {
    throw new Error(
      `Invalid period for 'other' requests ${String(days)}: expected a whole number of days, 1 or more.`,
    )
  }
  return days
}

export function deadlinesFor(jurisdiction: Jurisdiction, received: string, calendar: Calendar): Deadlines {
  parse(received, 'receipt date')
  switch (jurisdiction) {
    case 'gdpr':
    case 'uk-gdpr': {
      // Art. 12(3): one month from receipt, extendable by two further months; the extension and
      // its reasons must be notified within the first month. The extended date is counted as
      // three months from receipt (not from the possibly rolled one-month date). The UK ICO
      // counts UK GDPR periods the same way.
      const dueDate = monthsPeriod(received, 1, calendar)
      const label = jurisdiction === 'gdpr' ? 'GDPR' : 'UK GDPR'
      return {
        dueDate,
        acknowledgeBy: null,
        extensionNoticeBy: dueDate,
        extendedDueDate: monthsPeriod(received, 3, calendar),
        rule: `${label} Art. 12(3): one month from receipt, counted per Reg. 1182/71; may be extended by two further months.`,
      }
    }
    case 'ccpa': {
      // Cal. Code Regs. tit. 11 § 7021: confirm receipt within 10 business days; respond within
      // 45 calendar days of receipt (whatever the time taken to verify), extendable once by 45
      // more (90 in all) with notice given within the first 45 days. The receipt day is not
      // counted (Cal. Code Civ. Proc. § 12). Calendar-day periods are deliberately NOT moved to
      // the next working day: the conservative reading, since a late answer is the costly error.
      const dueDate = addDays(received, 45)
      return {
        dueDate,
        acknowledgeBy: addBusinessDays(received, 10, calendar),
        extensionNoticeBy: dueDate,
        extendedDueDate: addDays(received, 90),
        rule: 'CCPA/CPRA (11 CCR § 7021): acknowledge within 10 business days and respond within 45 calendar days of receipt; may be extended once by a further 45 days.',
      }
    }
    case 'lgpd':
      // LGPD Art. 19, II: a full reply within 15 days of the request; no extension is provided.
      // Not moved to the next working day (conservative reading).
      return {
        dueDate: addDays(received, 15),
        acknowledgeBy: null,
        extensionNoticeBy: null,
        extendedDueDate: null,
        rule: 'LGPD Art. 19, II: respond within 15 calendar days of the request; no extension.',
      }
    case 'other': {
      const days = requireOtherDays(calendar)
      return {
        dueDate: addDays(received, days),
        acknowledgeBy: null,
        extensionNoticeBy: null,
        extendedDueDate: null,
        rule: `No statutory rule configured: respond within ${days} calendar days of receipt (local policy); no extension.`,
      }
    }
    default: {
      const unknown: never = jurisdiction
      throw new Error(
        `Unknown jurisdiction ${JSON.stringify(unknown)}: expected one of ${jurisdictions.join(', ')}.`,
      )
    }
  }
}

export interface ExtensionCheck {
  allowed: boolean
  /** Why the extension is refused, as a full sentence naming the dates; null when allowed. */
  reason: string | null
}

const refuse = (reason: string): ExtensionCheck => ({ allowed: false, reason })

export function checkExtension(
  jurisdiction: Jurisdiction,
  received: string,
  noticeDate: string,
  alreadyExtended: boolean,
  calendar: Calendar,
): ExtensionCheck {
  parse(noticeDate, 'notice date')
  const deadlines = deadlinesFor(jurisdiction, received, calendar)
  if (deadlines.extensionNoticeBy === null) {
    return refuse(
      `The rule for ${jurisdiction} requests allows no extension: the response is due on ${deadlines.dueDate}.`,
    )
  }
  if (alreadyExtended) {
    return refuse(
      `This request has already been extended once, to ${deadlines.extendedDueDate}; it cannot be extended again.`,
    )
  }
  if (daysBetween(received, noticeDate) < 0) {
    return refuse(
      `The extension notice date ${noticeDate} is before the request was received on ${received}.`,
    )
  }
  if (daysBetween(deadlines.extensionNoticeBy, noticeDate) > 0) {
    return refuse(
      `An extension had to be notified by ${deadlines.extensionNoticeBy}; a notice on ${noticeDate} is too late, so the response is due on ${deadlines.dueDate}.`,
    )
  }
  return { allowed: true, reason: null }
}

export interface DeadlineStatus {
  daysLeft: number
  overdue: boolean
  dueSoon: boolean
}

/** Where an open (or closed) request stands against its due date on `today`. */
export function deadlineStatus(dueDate: string, today: string, open: boolean, soonDays = 7): DeadlineStatus {
  const daysLeft = daysBetween(today, dueDate)
  return {
    daysLeft,
    overdue: open && daysLeft < 0,
    dueSoon: open && daysLeft >= 0 && daysLeft <= soonDays,
  }
}

/** Median of the values; null when there are none, the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const upper = sorted[middle] as number
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2
}
