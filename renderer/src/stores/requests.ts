import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { LocationQuery } from 'vue-router'
import type { ErrorPayload, Input, Output } from '@contract/index'
import { call, errorOf } from '../api/client'
import { formatBytes, todayIso } from '../format'
import {
  jurisdictions,
  statuses,
  type AuditEvent,
  type Jurisdiction,
  type RequestStatus,
  type RequestView,
} from '../components/requests/labels'
import { fileBase64 } from '../api/files'

export type RequestSummary = Output<'requests.summary'>
export type Matching = Output<'matching.preview'>
export type MatchedDataset = Matching['datasets'][number]
export type SortKey = NonNullable<Input<'requests.list'>['sort']>
export type SortOrder = NonNullable<Input<'requests.list'>['order']>
export type { AuditEvent, RequestView }

/**
 * The largest attachment uploaded from here: its base64 (4/3 of it) must stay under the
 * contract's 950 000 characters, inside the bridge's 1 MiB of JSON.
 */
export const MAX_ATTACHMENT_BYTES = 700_000
/** The contract's limit on pasted or read CSV text. */
export const MAX_CSV_CHARS = 900_000
/** Rows of each dataset the matching panel decodes. */
export const PREVIEW_ROWS = 10
export const PAGE_SIZES = [10, 25, 50, 100]
const SORT_KEYS: SortKey[] = ['due', 'received', 'id', 'status', 'updated']

/** What the list shows: filters, search, sort and page. Mirrored in the address (see toQuery). */
export interface ListState {
  status: RequestStatus[]
  jurisdiction: Jurisdiction[]
  overdue: boolean
  dueSoon: boolean
  search: string
  sort: SortKey
  order: SortOrder
  page: number
  pageSize: number
}

export const defaultListState = (): ListState => ({
  status: [],
  jurisdiction: [],
  overdue: false,
  dueSoon: false,
  search: '',
  sort: 'due',
  order: 'asc',
  page: 1,
  pageSize: 25,
})

/**
 * The list state as address query parameters, defaults left out, so that a filtered list
 * can be linked to (e.g. `/requests?overdue=1`) and survives going back.
 */
export function toQuery(state: ListState): Record<string, string> {
  const d = defaultListState()
  const query: Record<string, string> = {}
  if (state.status.length) query.status = state.status.join(',')
  if (state.jurisdiction.length) query.jurisdiction = state.jurisdiction.join(',')
  if (state.overdue) query.overdue = '1'
  if (state.dueSoon) query.dueSoon = '1'
  if (state.search.trim()) query.q = state.search.trim()
  if (state.sort !== d.sort) query.sort = state.sort
  if (state.order !== d.order) query.order = state.order
  if (state.page !== d.page) query.page = String(state.page)
  if (state.pageSize !== d.pageSize) query.size = String(state.pageSize)
  return query
}

const QUERY_KEYS = ['status', 'jurisdiction', 'overdue', 'dueSoon', 'q', 'sort', 'order', 'page', 'size']

/** The list state an address asks for; null when it names none (then the last state is kept). */
export function fromQuery(query: LocationQuery): ListState | null {
  if (!QUERY_KEYS.some((key) => key in query)) return null
  const one = (key: string) => {
    const value = query[key]
    return (Array.isArray(value) ? value[0] : value) ?? ''
  }
  const list = <T extends string>(key: string, allowed: readonly T[]) =>
    one(key)
      .split(',')
      .filter((v): v is T => (allowed as readonly string[]).includes(v))
  const d = defaultListState()
  const sort = one('sort') as SortKey
  const page = Number(one('page'))
  const size = Number(one('size'))
  return {
    status: list('status', statuses),
    jurisdiction: list('jurisdiction', jurisdictions),
    overdue: one('overdue') === '1',
    dueSoon: one('dueSoon') === '1',
    search: one('q'),
    sort: SORT_KEYS.includes(sort) ? sort : d.sort,
    order: one('order') === 'desc' ? 'desc' : one('order') === 'asc' ? 'asc' : d.order,
    page: Number.isInteger(page) && page > 0 ? page : d.page,
    pageSize: PAGE_SIZES.includes(size) ? size : d.pageSize,
  }
}

/** Personal data shown after a reveal, kept while the page stays open so later changes do not mask it again. */
interface Revealed {
  requester: RequestView['requester']
  subjectValues: (string | null)[]
  notes: Map<string, string | null>
  attachments: Map<string, string | null>
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** Hands bytes to the browser as a download, through a temporary link. */
function saveFile(bytes: Uint8Array<ArrayBuffer>, mediaType: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: mediaType }))
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  link.hidden = true
  document.body.append(link)
  link.click()
  link.remove()
  // Revoked after the click has handed the bytes over, not before.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** Requests: the list with its filters, intake and import, and one request's detail and workflow. */
export const useRequestsStore = defineStore('requests', () => {
  // ── list ──────────────────────────────────────────────────────────────────────────
  const query = ref<ListState>(defaultListState())
  const items = ref<RequestView[]>([])
  const total = ref(0)
  const listLoaded = ref(false)
  const listLoading = ref(false)
  const listError = ref<ErrorPayload | null>(null)
  const summary = ref<RequestSummary | null>(null)
  const summaryError = ref<ErrorPayload | null>(null)
  // Answers to an earlier query that arrive after a newer one are dropped.
  let listGeneration = 0

  const filtered = computed(() => {
    const q = query.value
    return Boolean(q.status.length || q.jurisdiction.length || q.overdue || q.dueSoon || q.search.trim())
  })

  async function loadList(): Promise<void> {
    const mine = ++listGeneration
    const q = query.value
    listLoading.value = true
    listError.value = null
    try {
      const page = await call('requests.list', {
        ...(q.status.length ? { status: q.status } : {}),
        ...(q.jurisdiction.length ? { jurisdiction: q.jurisdiction } : {}),
        ...(q.overdue ? { overdue: true } : {}),
        ...(q.dueSoon ? { dueWithinDays: 7 } : {}),
        ...(q.search.trim() ? { search: q.search.trim() } : {}),
        sort: q.sort,
        order: q.order,
        offset: (q.page - 1) * q.pageSize,
        limit: q.pageSize,
      })
      if (mine !== listGeneration) return
      items.value = page.items
      total.value = page.total
      listLoaded.value = true
    } catch (caught) {
      if (mine !== listGeneration) return
      listError.value = errorOf(caught)
    } finally {
      if (mine === listGeneration) listLoading.value = false
    }
  }

  async function loadSummary(): Promise<void> {
    summaryError.value = null
    try {
      summary.value = await call('requests.summary', {})
    } catch (caught) {
      summaryError.value = errorOf(caught)
    }
  }

  const loadAll = () => Promise.all([loadList(), loadSummary()])

  // ── intake ────────────────────────────────────────────────────────────────────────
  const creating = ref(false)
  const createError = ref<ErrorPayload | null>(null)

  /** Logs a new request; its id, or null with createError set. */
  async function create(input: Input<'requests.create'>): Promise<string | null> {
    creating.value = true
    createError.value = null
    try {
      const view = await call('requests.create', input)
      void loadSummary()
      return view.id
    } catch (caught) {
      createError.value = errorOf(caught)
      return null
    } finally {
      creating.value = false
    }
  }

  /** The period for 'other' jurisdictions, for the intake form's hint; null until read. */
  const otherDays = ref<number | null>(null)
  async function loadSettings(): Promise<void> {
    try {
      otherDays.value = (await call('ledger.settings', {})).otherJurisdictionDays
    } catch {
      otherDays.value = null // the hint then names the setting instead of its value
    }
  }

  const importing = ref(false)
  const importError = ref<ErrorPayload | null>(null)
  const imported = ref<string[] | null>(null)

  /** Imports a CSV, all rows or none; the ids created, or null with importError set. */
  async function importCsv(csv: string): Promise<string[] | null> {
    importing.value = true
    importError.value = null
    imported.value = null
    try {
      if (csv.length > MAX_CSV_CHARS) {
        throw new Error(
          `The file has ${csv.length.toLocaleString()} characters; up to ${MAX_CSV_CHARS.toLocaleString()} can be imported here. Split it, or import it from the command line: lethe request import FILE.`,
        )
      }
      const { imported: ids } = await call('requests.import', { csv })
      imported.value = ids
      void loadAll()
      return ids
    } catch (caught) {
      importError.value = errorOf(caught)
      return null
    } finally {
      importing.value = false
    }
  }

  const exporting = ref(false)
  const exportError = ref<ErrorPayload | null>(null)

  /** Every request as CSV (personal data masked), the register a regulator asks for, as a download. */
  async function exportCsv(): Promise<void> {
    exporting.value = true
    exportError.value = null
    try {
      const { content } = await call('requests.export', { format: 'csv' })
      saveFile(new TextEncoder().encode(content), 'text/csv', `lethe-requests-${todayIso()}.csv`)
    } catch (caught) {
      exportError.value = errorOf(caught)
    } finally {
      exporting.value = false
    }
  }

  // ── one request ───────────────────────────────────────────────────────────────────
  const current = ref<RequestView | null>(null)
  const events = ref<AuditEvent[]>([])
  const detailLoading = ref(false)
  const detailError = ref<ErrorPayload | null>(null)
  let revealed: Revealed | null = null
  let detailGeneration = 0
  let matchingGeneration = 0

  const revealing = ref(false)
  const revealError = ref<ErrorPayload | null>(null)
  const acting = ref<string | null>(null)
  const actionError = ref<ErrorPayload | null>(null)
  const deadlineError = ref<ErrorPayload | null>(null)
  const noteError = ref<ErrorPayload | null>(null)
  const attachError = ref<ErrorPayload | null>(null)
  const downloadError = ref<ErrorPayload | null>(null)
  const downloading = ref<string | null>(null)

  const matching = ref<Matching | null>(null)
  const matchingLoading = ref(false)
  const matchingError = ref<ErrorPayload | null>(null)

  /** Shows a view, keeping what an earlier reveal showed (a later change answers masked). */
  function adopt(view: RequestView, known: { note?: string; attachment?: string } = {}): void {
    if (!revealed || !view.requester) {
      current.value = view
      return
    }
    const r = revealed
    const fresh = <T extends { id: string }>(list: T[], seen: Map<string, string | null>) =>
      list.filter((x) => !seen.has(x.id))
    // The one note or file this page just added is known without another (logged) reveal.
    const [newNote, ...moreNotes] = fresh(view.notes, r.notes)
    if (known.note !== undefined && newNote && !moreNotes.length) r.notes.set(newNote.id, known.note)
    const [newFile, ...moreFiles] = fresh(view.attachments, r.attachments)
    if (known.attachment !== undefined && newFile && !moreFiles.length)
      r.attachments.set(newFile.id, known.attachment)
    current.value = {
      ...view,
      revealed: true,
      requester: r.requester,
      subjectIds: view.subjectIds.map((s, i) => ({ ...s, value: r.subjectValues[i] ?? s.value })),
      notes: view.notes.map((n) => ({ ...n, text: r.notes.get(n.id) ?? n.text })),
      attachments: view.attachments.map((a) => ({ ...a, name: r.attachments.get(a.id) ?? a.name })),
    }
  }

  function remember(view: RequestView): void {
    revealed = {
      requester: view.requester,
      subjectValues: view.subjectIds.map((s) => s.value),
      notes: new Map(view.notes.map((n) => [n.id, n.text])),
      attachments: new Map(view.attachments.map((a) => [a.id, a.name])),
    }
  }

  /** Opens a request, masked; the matching preview loads beside it. */
  async function open(id: string): Promise<void> {
    const mine = ++detailGeneration
    if (current.value?.id !== id) {
      current.value = null
      events.value = []
      matching.value = null
      revealed = null
    }
    for (const e of [actionError, deadlineError, noteError, attachError, downloadError, revealError])
      e.value = null
    detailLoading.value = true
    detailError.value = null
    void loadMatching(id)
    try {
      const got = await call('requests.get', { id })
      if (mine !== detailGeneration) return
      revealed = null
      current.value = got.request
      events.value = got.events
    } catch (caught) {
      if (mine !== detailGeneration) return
      detailError.value = errorOf(caught)
    } finally {
      if (mine === detailGeneration) detailLoading.value = false
    }
  }

  /** The request and its audit trail again, after a change. */
  async function refresh(known: { note?: string; attachment?: string } = {}): Promise<void> {
    const id = current.value?.id
    if (!id) return
    const mine = ++detailGeneration
    try {
      const got = await call('requests.get', { id })
      if (mine !== detailGeneration) return
      adopt(got.request, known)
      events.value = got.events
    } catch (caught) {
      if (mine === detailGeneration) detailError.value = errorOf(caught)
    }
  }

  /** Shows the personal data; the ledger logs every reveal. */
  async function reveal(): Promise<void> {
    const id = current.value?.id
    if (!id) return
    revealing.value = true
    revealError.value = null
    try {
      const got = await call('requests.get', { id, reveal: true })
      remember(got.request)
      current.value = got.request
      events.value = got.events
    } catch (caught) {
      revealError.value = errorOf(caught)
    } finally {
      revealing.value = false
    }
  }

  async function hide(): Promise<void> {
    revealed = null
    await refresh()
  }

  /**
   * Runs one change to the current request: `acting` names it while it runs; a refusal is
   * kept in `error` (the dialog that asked shows it) and false returned.
   */
  async function change(
    name: string,
    error: typeof actionError,
    run: (id: string) => Promise<unknown>,
    known: { note?: string; attachment?: string } = {},
  ): Promise<boolean> {
    const id = current.value?.id
    if (!id) return false
    acting.value = name
    error.value = null
    try {
      await run(id)
      await refresh(known)
      return true
    } catch (caught) {
      error.value = errorOf(caught)
      // A refusal is an audit entry too: show it in the timeline.
      void refresh()
      return false
    } finally {
      acting.value = null
    }
  }

  const transition = (input: Omit<Input<'requests.transition'>, 'id'>) =>
    change(`to-${input.to}`, actionError, (id) => call('requests.transition', { id, ...input }))
  const extend = (input: Omit<Input<'requests.extend'>, 'id'>) =>
    change('extend', deadlineError, (id) => call('requests.extend', { id, ...input }))
  const acknowledge = () => change('acknowledge', deadlineError, (id) => call('requests.acknowledge', { id }))
  const update = (changes: Omit<Input<'requests.update'>, 'id'>) =>
    change('update', actionError, (id) => call('requests.update', { id, ...changes }))
  const addNote = (text: string) =>
    change('note', noteError, (id) => call('requests.addNote', { id, text }), { note: text })

  /** Uploads a file chosen by the user; refused here above the bridge's size. */
  async function attach(file: File): Promise<boolean> {
    if (file.size > MAX_ATTACHMENT_BYTES) {
      attachError.value = {
        code: 'TOO_LARGE',
        message: `${file.name} is ${formatBytes(file.size)}; files up to ${formatBytes(MAX_ATTACHMENT_BYTES)} can be attached here. Attach a larger file from the command line: lethe request attach ID FILE.`,
      }
      return false
    }
    return change(
      'attach',
      attachError,
      async (id) => {
        const contentBase64 = await fileBase64(file)
        return call('requests.attach', {
          id,
          name: file.name,
          contentBase64,
          ...(file.type ? { mediaType: file.type } : {}),
        })
      },
      { attachment: file.name },
    )
  }

  async function download(attachmentId: string, fileName: string): Promise<void> {
    const id = current.value?.id
    if (!id) return
    downloading.value = attachmentId
    downloadError.value = null
    try {
      const got = await call('requests.attachment', { id, attachmentId })
      saveFile(fromBase64(got.contentBase64), got.mediaType, fileName)
    } catch (caught) {
      downloadError.value = errorOf(caught)
    } finally {
      downloading.value = null
    }
  }

  async function loadMatching(id = current.value?.id): Promise<void> {
    if (!id) return
    const mine = ++matchingGeneration
    matchingLoading.value = true
    matchingError.value = null
    try {
      const got = await call('matching.preview', { requestId: id, limit: PREVIEW_ROWS })
      if (mine === matchingGeneration) matching.value = got
    } catch (caught) {
      if (mine === matchingGeneration) matchingError.value = errorOf(caught)
    } finally {
      if (mine === matchingGeneration) matchingLoading.value = false
    }
  }

  return {
    query,
    items,
    total,
    listLoaded,
    listLoading,
    listError,
    filtered,
    summary,
    summaryError,
    loadList,
    loadSummary,
    loadAll,
    creating,
    createError,
    create,
    otherDays,
    loadSettings,
    importing,
    importError,
    imported,
    importCsv,
    exporting,
    exportError,
    exportCsv,
    current,
    events,
    detailLoading,
    detailError,
    revealing,
    revealError,
    acting,
    actionError,
    deadlineError,
    noteError,
    attachError,
    downloadError,
    downloading,
    matching,
    matchingLoading,
    matchingError,
    open,
    refresh,
    reveal,
    hide,
    transition,
    extend,
    acknowledge,
    update,
    addNote,
    attach,
    download,
    loadMatching,
  }
})
