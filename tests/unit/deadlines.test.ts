import { describe, expect, it } from 'vitest'
import {
  addBusinessDays,
  addDays,
  addMonthsClamped,
  checkExtension,
  daysBetween,
  deadlineStatus,
  deadlinesFor,
  defaultCalendar,
  isIsoDate,
  isWorkingDay,
  jurisdictions,
  median,
  nextWorkingDay,
  weekday,
  type Calendar,
} from '../../electron/ledger/deadlines'

// Every weekday below was checked by hand with `date -u -d YYYY-MM-DD +%a`.
const calendar = (holidays: string[] = [], otherDays = 30): Calendar => ({
  holidays: new Set(holidays),
  otherDays,
})

describe('calendar dates', () => {
  it('accepts only strict, real YYYY-MM-DD dates', () => {
    expect(isIsoDate('2028-02-29')).toBe(true) // leap year
    expect(isIsoDate('2000-02-29')).toBe(true) // divisible by 400
    expect(isIsoDate('2026-02-29')).toBe(false)
    expect(isIsoDate('2100-02-29')).toBe(false) // divisible by 100, not 400
    expect(isIsoDate('2026-2-01')).toBe(false)
    expect(isIsoDate('2026-13-01')).toBe(false)
    expect(isIsoDate('2026-04-31')).toBe(false)
    expect(isIsoDate('2026-01-01T00:00:00Z')).toBe(false)
    expect(isIsoDate('')).toBe(false)
  })

  it('throws a plain Error naming the bad value', () => {
    expect(() => addDays('2026-02-30', 1)).toThrow('"2026-02-30"')
    expect(() => weekday('31/01/2026')).toThrow(Error)
    expect(() => daysBetween('2026-01-01', '2026-1-2')).toThrow('"2026-1-2"')
    expect(() => deadlinesFor('gdpr', 'yesterday', defaultCalendar)).toThrow('"yesterday"')
    expect(() => checkExtension('gdpr', '2026-01-31', '2026-13-01', false, defaultCalendar)).toThrow(
      '"2026-13-01"',
    )
    expect(() => deadlineStatus('2026-03-02', 'today', true)).toThrow('"today"')
  })

  it('adds and subtracts days across month, year and leap-day boundaries', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29')
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28')
    expect(addDays('2026-01-15', 0)).toBe('2026-01-15')
    expect(daysBetween('2026-01-01', '2027-01-01')).toBe(365)
    expect(daysBetween('2028-01-01', '2029-01-01')).toBe(366)
    expect(daysBetween('2026-03-02', '2026-02-28')).toBe(-2)
  })

  it('agrees with Date.UTC on every day from 1999 to 2101', () => {
    let mismatches = 0
    for (let time = Date.UTC(1999, 0, 1); time <= Date.UTC(2101, 11, 31); time += 86_400_000) {
      const iso = new Date(time).toISOString().slice(0, 10)
      const next = new Date(time + 86_400_000).toISOString().slice(0, 10)
      if (!isIsoDate(iso) || addDays(iso, 1) !== next || weekday(iso) !== new Date(time).getUTCDay())
        mismatches++
      if (daysBetween('1999-01-01', iso) !== (time - Date.UTC(1999, 0, 1)) / 86_400_000) mismatches++
    }
    expect(mismatches).toBe(0)
  })

  it('clamps month arithmetic to the last day of a shorter month', () => {
    expect(addMonthsClamped('2026-01-31', 1)).toBe('2026-02-28')
    expect(addMonthsClamped('2028-01-31', 1)).toBe('2028-02-29')
    expect(addMonthsClamped('2026-03-31', 1)).toBe('2026-04-30')
    expect(addMonthsClamped('2026-12-15', 1)).toBe('2027-01-15')
    expect(addMonthsClamped('2027-11-30', 3)).toBe('2028-02-29')
    expect(addMonthsClamped('2026-03-31', -1)).toBe('2026-02-28')
  })

  it('knows the day of the week and skips weekends and holidays', () => {
    expect(weekday('1970-01-01')).toBe(4) // Thursday
    expect(weekday('2026-02-28')).toBe(6) // Saturday
    expect(weekday('2026-03-01')).toBe(0) // Sunday
    expect(weekday('2028-02-29')).toBe(2) // Tuesday
    expect(isWorkingDay('2026-03-02', defaultCalendar)).toBe(true)
    expect(isWorkingDay('2026-04-03', calendar(['2026-04-03']))).toBe(false)
    expect(nextWorkingDay('2026-02-28', defaultCalendar)).toBe('2026-03-02')
    expect(nextWorkingDay('2026-03-03', defaultCalendar)).toBe('2026-03-03')
  })

  it('counts business days without the start day, skipping weekends and holidays', () => {
    // Fri 2026-11-20; Thanksgiving Thu 2026-11-26 is a holiday.
    expect(addBusinessDays('2026-11-20', 1, defaultCalendar)).toBe('2026-11-23') // Monday
    expect(addBusinessDays('2026-11-20', 10, calendar(['2026-11-26']))).toBe('2026-12-07') // Monday
    expect(addBusinessDays('2026-11-20', 10, defaultCalendar)).toBe('2026-12-04') // Friday
    expect(addBusinessDays('2026-11-21', 0, defaultCalendar)).toBe('2026-11-21')
    expect(() => addBusinessDays('2026-11-20', -1, defaultCalendar)).toThrow('-1')
  })
})

describe('GDPR and UK GDPR deadlines', () => {
  it('rolls 31 Jan 2026 + one month (Sat 28 Feb) to Monday 2 Mar, extended from receipt to 30 Apr', () => {
    expect(deadlinesFor('gdpr', '2026-01-31', defaultCalendar)).toEqual({
      dueDate: '2026-03-02',
      acknowledgeBy: null,
      extensionNoticeBy: '2026-03-02',
      // receipt + 3 months = Thu 30 Apr, not rolled 2 Mar + 2 months (Sat 2 May → Mon 4 May)
      extendedDueDate: '2026-04-30',
      rule: 'GDPR Art. 12(3): one month from receipt, counted per Reg. 1182/71; may be extended by two further months.',
    })
  })

  it('ends on 29 Feb in a leap year, and rolls a Sunday extended date', () => {
    const result = deadlinesFor('uk-gdpr', '2028-01-31', defaultCalendar)
    expect(result.dueDate).toBe('2028-02-29') // Tuesday
    expect(result.extendedDueDate).toBe('2028-05-01') // Sun 30 Apr → Mon 1 May
    expect(result.rule).toMatch(/^UK GDPR Art\. 12\(3\)/)
  })

  it('ends 31 Mar + one month on 30 Apr', () => {
    const result = deadlinesFor('gdpr', '2026-03-31', defaultCalendar)
    expect(result.dueDate).toBe('2026-04-30') // Thursday
    expect(result.extendedDueDate).toBe('2026-06-30') // Tuesday
  })

  it('rolls past a holiday and the weekend and holiday after it', () => {
    // Tue 3 Mar 2026 + 1 month = Good Friday 3 Apr; Sat, Sun, Easter Monday 6 Apr → Tue 7 Apr.
    const easter = calendar(['2026-04-03', '2026-04-06'])
    expect(deadlinesFor('uk-gdpr', '2026-03-03', defaultCalendar).dueDate).toBe('2026-04-03')
    expect(deadlinesFor('uk-gdpr', '2026-03-03', easter).dueDate).toBe('2026-04-07')
    expect(deadlinesFor('uk-gdpr', '2026-03-03', easter).extensionNoticeBy).toBe('2026-04-07')
  })

  it('computes the extended date three months after a 30 Nov receipt', () => {
    expect(deadlinesFor('gdpr', '2027-11-30', defaultCalendar).dueDate).toBe('2027-12-30') // Thursday
    expect(deadlinesFor('gdpr', '2027-11-30', defaultCalendar).extendedDueDate).toBe('2028-02-29') // Tuesday
    expect(deadlinesFor('gdpr', '2026-11-30', defaultCalendar).extendedDueDate).toBe('2027-03-01') // Sun 28 Feb → Mon
  })

  it('crosses the year boundary: 15 Dec 2026 → Fri 15 Jan 2027', () => {
    expect(deadlinesFor('gdpr', '2026-12-15', defaultCalendar).dueDate).toBe('2027-01-15')
  })
})

describe('CCPA, LGPD and other deadlines', () => {
  it('acknowledges in 10 business days and answers in 45 / 90 calendar days', () => {
    const result = deadlinesFor('ccpa', '2026-11-20', calendar(['2026-11-26']))
    expect(result.acknowledgeBy).toBe('2026-12-07')
    expect(result.dueDate).toBe('2027-01-04')
    expect(result.extensionNoticeBy).toBe('2027-01-04')
    expect(result.extendedDueDate).toBe('2027-02-18')
  })

  it('does not roll CCPA calendar-day periods to a working day', () => {
    expect(deadlinesFor('ccpa', '2026-10-01', defaultCalendar).dueDate).toBe('2026-11-15') // Sunday
    expect(deadlinesFor('ccpa', '2026-02-01', defaultCalendar).extendedDueDate).toBe('2026-05-02') // Saturday
  })

  it('gives LGPD 15 calendar days, unrolled and without extension', () => {
    const result = deadlinesFor('lgpd', '2026-02-07', defaultCalendar)
    expect(result.dueDate).toBe('2026-02-22') // Sunday
    expect(result.acknowledgeBy).toBeNull()
    expect(result.extensionNoticeBy).toBeNull()
    expect(result.extendedDueDate).toBeNull()
  })

  it('uses the configured period for other jurisdictions', () => {
    expect(deadlinesFor('other', '2026-10-01', defaultCalendar).dueDate).toBe('2026-10-31') // Saturday
    expect(deadlinesFor('other', '2026-10-01', calendar([], 10)).dueDate).toBe('2026-10-11')
    expect(deadlinesFor('other', '2026-10-01', defaultCalendar).extendedDueDate).toBeNull()
    expect(() => deadlinesFor('other', '2026-10-01', calendar([], 0))).toThrow(Error)
  })

  it('has a rule sentence for every jurisdiction', () => {
    for (const jurisdiction of jurisdictions) {
      expect(deadlinesFor(jurisdiction, '2026-06-01', defaultCalendar).rule).toMatch(/\.$/)
    }
  })
})

describe('extensions', () => {
  it('allows notice from receipt up to and including the original due date', () => {
    expect(checkExtension('gdpr', '2026-01-31', '2026-01-31', false, defaultCalendar)).toEqual({
      allowed: true,
      reason: null,
    })
    expect(checkExtension('gdpr', '2026-01-31', '2026-03-02', false, defaultCalendar)).toEqual({
      allowed: true,
      reason: null,
    })
    expect(checkExtension('ccpa', '2026-11-20', '2027-01-04', false, defaultCalendar).allowed).toBe(true)
  })

  it('refuses a notice the day after the original due date', () => {
    const late = checkExtension('gdpr', '2026-01-31', '2026-03-03', false, defaultCalendar)
    expect(late.allowed).toBe(false)
    expect(late.reason).toContain('2026-03-02')
    expect(late.reason).toContain('2026-03-03')
    expect(checkExtension('ccpa', '2026-11-20', '2027-01-05', false, defaultCalendar).allowed).toBe(false)
  })

  it('refuses a second extension', () => {
    const twice = checkExtension('gdpr', '2026-01-31', '2026-02-10', true, defaultCalendar)
    expect(twice.allowed).toBe(false)
    expect(twice.reason).toContain('already been extended')
  })

  it('refuses a notice dated before receipt', () => {
    const early = checkExtension('uk-gdpr', '2026-01-31', '2026-01-30', false, defaultCalendar)
    expect(early.allowed).toBe(false)
    expect(early.reason).toContain('2026-01-30')
  })

  it('refuses any extension for LGPD and other', () => {
    const lgpd = checkExtension('lgpd', '2026-02-07', '2026-02-08', false, defaultCalendar)
    expect(lgpd.allowed).toBe(false)
    expect(lgpd.reason).toContain('2026-02-22')
    expect(checkExtension('other', '2026-02-07', '2026-02-08', false, defaultCalendar).allowed).toBe(false)
  })
})

describe('deadline status and statistics', () => {
  it('flags due today as due soon, yesterday as overdue, and nothing once closed', () => {
    expect(deadlineStatus('2026-03-02', '2026-03-02', true)).toEqual({
      daysLeft: 0,
      overdue: false,
      dueSoon: true,
    })
    expect(deadlineStatus('2026-03-02', '2026-03-03', true)).toEqual({
      daysLeft: -1,
      overdue: true,
      dueSoon: false,
    })
    expect(deadlineStatus('2026-03-02', '2026-03-03', false)).toEqual({
      daysLeft: -1,
      overdue: false,
      dueSoon: false,
    })
    expect(deadlineStatus('2026-03-09', '2026-03-02', true).dueSoon).toBe(true) // 7 days left
    expect(deadlineStatus('2026-03-10', '2026-03-02', true).dueSoon).toBe(false) // 8 days left
    expect(deadlineStatus('2026-03-10', '2026-03-02', true, 8).dueSoon).toBe(true)
  })

  it('takes the median of odd, even and empty lists', () => {
    expect(median([9, 1, 5])).toBe(5)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNull()
    const input = [3, 1, 2]
    median(input)
    expect(input).toEqual([3, 1, 2]) // not sorted in place
  })
})
