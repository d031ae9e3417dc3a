import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Input, Output } from '@contract/index'
import { call, errorOf } from '../api/client'
import { jobTracker, useModelsStore } from './models'

export type MethodInfo = Output<'unlearn.methods'>[number]
export type RunRecord = Output<'unlearn.get'>
export type EligibleRequest = Output<'requests.list'>['items'][number]
export type RunInput = Input<'unlearn.start'>
export type MatchPreview = Output<'matching.preview'>

/** What a run was started with, remembered per job for this tab (a job's status does not carry it). */
export interface RunStart {
  modelId: string
  method: string
  requestId: string
  reference: boolean
  /** The method's own options (HF and certified: epsilon, delta, noise, …). */
  options?: Record<string, unknown>
}

/** Requests whose subjects may be unlearned now. */
export const RUNNABLE_STATUSES = ['identity-verified', 'in-progress'] as const

const METHOD_NAMES: Record<string, string> = {
  train: 'Trained',
  import: 'Imported',
  retrain: 'Exact retraining',
  finetune: 'Fine-tuning',
  neggrad: 'Gradient ascent',
  hf: 'Hessian-free (HF)',
  certified: 'Certified Newton step',
  del: 'DEL (localized reset)',
}
/** A model version's method, in words. */
export const methodLabel = (method: string) => METHOD_NAMES[method] ?? method

const STARTS_KEY = 'lethe.runStarts'
function rememberedStarts(): Record<string, RunStart> {
  try {
    return JSON.parse(sessionStorage.getItem(STARTS_KEY) ?? '{}') as Record<string, RunStart>
  } catch {
    return {}
  }
}

/** The unlearning methods, the run being followed live, and the record of a finished run. */
export const useRunsStore = defineStore('runs', () => {
  const models = useModelsStore()

  const methods = ref<MethodInfo[]>([])
  const requests = ref<EligibleRequest[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<ErrorPayload | null>(null)

  const starting = ref(false)
  const startError = ref<ErrorPayload | null>(null)
  const starts = ref<Record<string, RunStart>>(rememberedStarts())

  const record = ref<RunRecord | null>(null)
  const recordModelId = ref<string | null>(null)
  const recordLoading = ref(false)
  const recordError = ref<ErrorPayload | null>(null)

  const match = ref<MatchPreview | null>(null)
  // Answers to an earlier question that arrive after a newer one are dropped.
  let matchGeneration = 0
  let recordGeneration = 0

  const tracker = jobTracker('unlearn', (job) => {
    if (job.state !== 'succeeded') return
    const result = job.result as { model?: { id?: string } } | null
    void models.load()
    if (result?.model?.id) void loadRecord(result.model.id)
  })

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const [m, r] = await Promise.all([
        call('unlearn.methods', {}),
        call('requests.list', { status: [...RUNNABLE_STATUSES], sort: 'due', order: 'asc', limit: 500 }),
        models.load(),
      ])
      methods.value = m
      requests.value = r.items
      loaded.value = true
    } catch (caught) {
      error.value = errorOf(caught)
    } finally {
      loading.value = false
    }
  }

  async function start(input: RunStart): Promise<boolean> {
    starting.value = true
    startError.value = null
    try {
      const { jobId } = await call('unlearn.start', {
        modelId: input.modelId,
        method: input.method as RunInput['method'],
        requestId: input.requestId,
        reference: input.reference,
        options: input.options ?? {},
      })
      starts.value = { ...starts.value, [jobId]: input }
      sessionStorage.setItem(STARTS_KEY, JSON.stringify(starts.value))
      tracker.started(jobId)
      return true
    } catch (caught) {
      startError.value = errorOf(caught)
      return false
    } finally {
      starting.value = false
    }
  }

  /** The stored record of the run that produced a model version (read from disk: survives restarts). */
  async function loadRecord(modelId: string): Promise<void> {
    const mine = ++recordGeneration
    recordModelId.value = modelId
    recordLoading.value = true
    recordError.value = null
    try {
      const got = await call('unlearn.get', { modelId })
      if (mine === recordGeneration) record.value = got
    } catch (caught) {
      if (mine !== recordGeneration) return
      record.value = null
      recordError.value = errorOf(caught)
    } finally {
      if (mine === recordGeneration) recordLoading.value = false
    }
  }

  function clearRecord(): void {
    recordGeneration++
    record.value = null
    recordModelId.value = null
    recordError.value = null
    recordLoading.value = false
  }

  /** How many of a request's matched training rows a model still learned from. */
  async function loadMatch(requestId: string | null): Promise<void> {
    const mine = ++matchGeneration
    match.value = null
    if (!requestId) return
    try {
      const got = await call('matching.preview', { requestId, limit: 0 })
      if (mine === matchGeneration) match.value = got
    } catch {
      // The preview only informs; starting the run reports the real error.
    }
  }

  return {
    methods,
    requests,
    loaded,
    loading,
    error,
    starting,
    startError,
    starts,
    record,
    recordModelId,
    recordLoading,
    recordError,
    match,
    /** The unlearning job followed live. */
    job: tracker.job,
    running: tracker.running,
    cancelling: tracker.cancelling,
    cancelError: tracker.cancelError,
    cancel: tracker.cancel,
    resume: tracker.resume,
    dismiss: tracker.dismiss,
    attach: tracker.attach,
    detach: tracker.detach,
    load,
    start,
    loadRecord,
    clearRecord,
    loadMatch,
  }
})
