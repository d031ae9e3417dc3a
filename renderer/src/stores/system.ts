import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Settings, SystemInfo } from '@contract/index'
import { call, errorOf, onEvent } from '../api/client'

export interface Progress {
  fraction: number | null
  message: string
}

/** What the first screen shows: version, data folder and the engine's backends. */
export const useSystemStore = defineStore('system', () => {
  const info = ref<SystemInfo | null>(null)
  const error = ref<ErrorPayload | null>(null)
  const loading = ref(false)
  const probe = ref<Progress | null>(null)

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

  return { info, error, loading, probe, load, useBackend }
})
