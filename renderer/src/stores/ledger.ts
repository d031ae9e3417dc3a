import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Output } from '@contract/index'
import { call, errorOf } from '../api/client'

export type LedgerStatus = Output<'ledger.status'>
export type SignedHead = Output<'ledger.head'>
export type VerifyReport = Output<'ledger.verify'>
export type AuditEvent = Output<'ledger.events'>['items'][number]

/** Entries fetched per page of the audit log. */
export const PAGE_SIZE = 50
export const REQUEST_ID = /^RTBF-\d{4}-\d{4,}$/

/** The ledger's status, its signed head, the chain verifier and the audit log, newest first. */
export const useLedgerStore = defineStore('ledger', () => {
  const status = ref<LedgerStatus | null>(null)
  const statusLoading = ref(false)
  const statusError = ref<ErrorPayload | null>(null)

  const head = ref<SignedHead | null>(null)
  const headError = ref<ErrorPayload | null>(null)

  const verifying = ref(false)
  const report = ref<VerifyReport | null>(null)
  const verifyError = ref<ErrorPayload | null>(null)

  const events = ref<AuditEvent[]>([])
  const total = ref(0)
  /** The request the log is filtered by (null: the whole log). */
  const requestId = ref<string | null>(null)
  const eventsLoaded = ref(false)
  const eventsLoading = ref(false)
  const loadingOlder = ref(false)
  const eventsError = ref<ErrorPayload | null>(null)
  // Answers to an earlier filter that arrive after a newer one are dropped.
  let generation = 0

  async function loadStatus(): Promise<void> {
    statusLoading.value = true
    statusError.value = null
    try {
      status.value = await call('ledger.status', {})
    } catch (caught) {
      statusError.value = errorOf(caught)
    } finally {
      statusLoading.value = false
    }
  }

  async function loadHead(): Promise<void> {
    headError.value = null
    try {
      head.value = await call('ledger.head', {})
    } catch (caught) {
      head.value = null
      headError.value = errorOf(caught)
    }
  }

  /** The newest page of the log, for one request or for all. */
  async function loadEvents(forRequest: string | null = requestId.value): Promise<void> {
    const mine = ++generation
    requestId.value = forRequest
    eventsLoading.value = true
    eventsError.value = null
    try {
      const page = await call('ledger.events', {
        ...(forRequest ? { requestId: forRequest } : {}),
        limit: PAGE_SIZE,
      })
      if (mine !== generation) return
      events.value = page.items
      total.value = page.total
      eventsLoaded.value = true
    } catch (caught) {
      if (mine !== generation) return
      events.value = []
      total.value = 0
      eventsError.value = errorOf(caught)
    } finally {
      if (mine === generation) eventsLoading.value = false
    }
  }

  /** The page before the oldest entry shown. */
  async function loadOlder(): Promise<void> {
    const oldest = events.value.at(-1)
    if (!oldest || loadingOlder.value) return
    const mine = generation
    loadingOlder.value = true
    eventsError.value = null
    try {
      const page = await call('ledger.events', {
        ...(requestId.value ? { requestId: requestId.value } : {}),
        beforeSeq: Math.min(...events.value.map((e) => e.seq)),
        limit: PAGE_SIZE,
      })
      if (mine !== generation) return
      const shown = new Set(events.value.map((e) => e.seq))
      events.value = [...events.value, ...page.items.filter((e) => !shown.has(e.seq))]
      total.value = page.total
    } catch (caught) {
      if (mine === generation) eventsError.value = errorOf(caught)
    } finally {
      loadingOlder.value = false
    }
  }

  async function verify(): Promise<void> {
    verifying.value = true
    report.value = null
    verifyError.value = null
    try {
      report.value = await call('ledger.verify', {})
    } catch (caught) {
      verifyError.value = errorOf(caught)
    } finally {
      verifying.value = false
    }
    void loadHead()
  }

  function load(): Promise<unknown> {
    return Promise.all([loadStatus(), loadHead(), loadEvents()])
  }

  return {
    status,
    statusLoading,
    statusError,
    head,
    headError,
    verifying,
    report,
    verifyError,
    events,
    total,
    requestId,
    eventsLoaded,
    eventsLoading,
    loadingOlder,
    eventsError,
    load,
    loadStatus,
    loadHead,
    loadEvents,
    loadOlder,
    verify,
  }
})
