import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Output } from '@contract/index'
import { call, errorOf } from '../api/client'

export type Organisation = NonNullable<Output<'organisation.get'>>
export type IssuedCertificate = Output<'certificates.list'>[number]
export type Checklist = Output<'certificates.verify'>

/**
 * The largest PDF the verifier takes from here: its base64 (4/3 of it) must stay under the
 * contract's 950 000 characters, inside the bridge's 1 MiB of JSON.
 */
export const MAX_PDF_BYTES = 700_000

/** Base64 of some bytes, a chunk at a time (a whole-file spread overflows the call stack). */
export function toBase64(bytes: Uint8Array): string {
  const CHUNK = 0x8000
  let binary = ''
  for (let at = 0; at < bytes.length; at += CHUNK) {
    binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(at, at + CHUNK)))
  }
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

const kilobytes = (bytes: number) => `${Math.round(bytes / 1000).toLocaleString('en')} KB`

/** The organisation's keys, the certificates issued with them, and the verifier. */
export const useCertificatesStore = defineStore('certificates', () => {
  const organisation = ref<Organisation | null>(null)
  const certificates = ref<IssuedCertificate[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<ErrorPayload | null>(null)

  const creating = ref(false)
  const createError = ref<ErrorPayload | null>(null)

  const downloading = ref<string | null>(null)
  const downloadError = ref<ErrorPayload | null>(null)

  const verifying = ref(false)
  const verifiedFile = ref<string | null>(null)
  const checklist = ref<Checklist | null>(null)
  const verifyError = ref<ErrorPayload | null>(null)

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const [org, list] = await Promise.all([call('organisation.get', {}), call('certificates.list', {})])
      organisation.value = org
      certificates.value = list
      loaded.value = true
    } catch (caught) {
      error.value = errorOf(caught)
    } finally {
      loading.value = false
    }
  }

  async function createOrganisation(name: string): Promise<void> {
    creating.value = true
    createError.value = null
    try {
      organisation.value = await call('organisation.create', { name })
    } catch (caught) {
      createError.value = errorOf(caught)
    } finally {
      creating.value = false
    }
  }

  /** Saves an issued certificate's PDF through a temporary link, as a browser download. */
  async function download(certificateId: string): Promise<void> {
    downloading.value = certificateId
    downloadError.value = null
    try {
      const got = await call('certificates.get', { certificateId })
      const blob = new Blob([fromBase64(got.pdfBase64)], { type: 'application/pdf' })
      const url = URL.createObjectURL(blob)
      const link = document.createElement('a')
      link.href = url
      link.download = got.fileName || `${got.certificateId}.pdf`
      link.hidden = true
      document.body.append(link)
      link.click()
      link.remove()
      // Revoked after the click has handed the bytes over, not before.
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (caught) {
      downloadError.value = errorOf(caught)
    } finally {
      downloading.value = null
    }
  }

  /** Checks a PDF chosen or dropped by the user: its bytes go to the verifier as base64. */
  async function verify(file: File): Promise<void> {
    verifiedFile.value = file.name
    checklist.value = null
    verifyError.value = null
    if (file.size > MAX_PDF_BYTES) {
      verifyError.value = {
        code: 'BAD_INPUT',
        message: `${file.name} is ${kilobytes(file.size)}; the verifier here takes PDFs up to ${kilobytes(MAX_PDF_BYTES)}. Verify it from the command line instead: lethe verify FILE.`,
      }
      return
    }
    verifying.value = true
    try {
      const bytes = new Uint8Array(await file.arrayBuffer())
      checklist.value = await call('certificates.verify', { pdfBase64: toBase64(bytes) })
    } catch (caught) {
      verifyError.value = errorOf(caught)
    } finally {
      verifying.value = false
    }
  }

  return {
    organisation,
    certificates,
    loaded,
    loading,
    error,
    creating,
    createError,
    downloading,
    downloadError,
    verifying,
    verifiedFile,
    checklist,
    verifyError,
    load,
    createOrganisation,
    download,
    verify,
  }
})
