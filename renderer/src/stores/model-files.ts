import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Input, Output } from '@contract/index'
import { call, errorOf } from '../api/client'
import { useModelsStore } from './models'

export type ModelImportInput = Input<'models.import'>
export type ModelExport = Output<'models.export'>
export type FileChoice = Input<'system.chooseFile'>

/** The desktop app has a native file dialog; a browser tab uploads with a file input instead. */
export const hasNativeDialog = () => typeof window !== 'undefined' && window.api !== undefined

/** A browser File as the base64 an upload carries. */
export async function uploadOf(file: File): Promise<{ name: string; base64: string }> {
  const bytes = new Uint8Array(await file.arrayBuffer())
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return { name: file.name, base64: btoa(binary) }
}

/** Models coming in from files a team deployed, and going back out as files. */
export const useModelFilesStore = defineStore('model-files', () => {
  const models = useModelsStore()
  const importing = ref(false)
  const importError = ref<ErrorPayload | null>(null)
  /** The version the last import made, to highlight in the lineage. */
  const imported = ref<string | null>(null)
  const exporting = ref(false)
  const exportError = ref<ErrorPayload | null>(null)
  /** The last export's files and hashes, shown until the dialog closes. */
  const exported = ref<ModelExport | null>(null)

  async function importModel(input: ModelImportInput): Promise<boolean> {
    importing.value = true
    importError.value = null
    try {
      imported.value = (await call('models.import', input)).id
      await models.load()
      return true
    } catch (caught) {
      importError.value = errorOf(caught)
      return false
    } finally {
      importing.value = false
    }
  }

  async function exportModel(input: Input<'models.export'>): Promise<boolean> {
    exporting.value = true
    exportError.value = null
    exported.value = null
    try {
      exported.value = await call('models.export', input)
      await models.load()
      return true
    } catch (caught) {
      exportError.value = errorOf(caught)
      return false
    } finally {
      exporting.value = false
    }
  }

  /** The paths chosen in the native dialog (none when cancelled). */
  const choose = async (choice: FileChoice): Promise<string[]> =>
    (await call('system.chooseFile', choice)).paths

  return {
    importing,
    importError,
    imported,
    importModel,
    exporting,
    exportError,
    exported,
    exportModel,
    choose,
  }
})
