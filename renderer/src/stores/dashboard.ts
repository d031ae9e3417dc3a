import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Output } from '@contract/index'
import { call, errorOf } from '../api/client'

export type RequestSummary = Output<'requests.summary'>
export type OpenRequest = Output<'requests.list'>['items'][number]
export type RequestStatus = OpenRequest['status']
export type ActivityEvent = Output<'ledger.events'>['items'][number]

/** Statuses of a request that still needs work, in workflow order. */
export const OPEN_STATUSES: RequestStatus[] = ['received', 'identity-verified', 'in-progress', 'on-hold']
export const STATUS_LABELS: Record<RequestStatus, string> = {
  received: 'Received',
  'identity-verified': 'Identity verified',
  'in-progress': 'In progress',
  'on-hold': 'On hold',
  completed: 'Completed',
  rejected: 'Rejected',
}

/** Open requests drawn on the deadline timeline; more are counted, not drawn. */
export const TIMELINE_LIMIT = 200
const ACTIVITY_LIMIT = 10

/** The compliance overview: counts, the open requests by deadline, and the latest ledger entries. */
export const useDashboardStore = defineStore('dashboard', () => {
  const summary = ref<RequestSummary | null>(null)
  const open = ref<OpenRequest[]>([])
  const openTotal = ref(0)
  const activity = ref<ActivityEvent[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<ErrorPayload | null>(null)

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const [counts, list, events] = await Promise.all([
        call('requests.summary', {}),
        call('requests.list', { status: OPEN_STATUSES, sort: 'due', order: 'asc', limit: TIMELINE_LIMIT }),
        call('ledger.events', { limit: ACTIVITY_LIMIT }),
      ])
      summary.value = counts
      open.value = list.items
      openTotal.value = list.total
      activity.value = events.items
      loaded.value = true
    } catch (caught) {
      error.value = errorOf(caught)
    } finally {
      loading.value = false
    }
  }

  return { summary, open, openTotal, activity, loaded, loading, error, load }
})
