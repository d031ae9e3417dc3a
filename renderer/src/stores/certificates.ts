import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorPayload, Output } from '@contract/index'
import { MAX_LOGO_BYTES } from '@contract/certificates'
import { call, errorOf } from '../api/client'
import { fileBase64 } from '../api/files'

export type Organisation = NonNullable<Output<'organisation.get'>>
export type Logo = NonNullable<Output<'organisation.logo'>>
export type CompletedRequest = Output<'requests.list'>['items'][number]
export type IssuedCertificate = Output<'certificates.list'>[number]
export type Checklist = Output<'certificates.verify'>

/**
 * The largest PDF the verifier takes from here: its base64 (4/3 of it) must stay under the
 * contract's 950 000 characters, inside the bridge's 1 MiB of JSON.
 */
export const MAX_PDF_BYTES = 700_000

/** Hands some bytes to the browser as a download, through a temporary link. */
function saveFile(bytes: BlobPart, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }))
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

  const logo = ref<Logo | null>(null)
  const logoSaving = ref(false)
  const logoError = ref<ErrorPayload | null>(null)

  const importing = ref(false)
  const importError = ref<ErrorPayload | null>(null)

  /** Completed requests: a certificate can be issued for them, or a new one supersede theirs. */
  const issuable = ref<CompletedRequest[]>([])
  const issuableLoading = ref(false)
  const issueError = ref<ErrorPayload | null>(null)

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

  async function loadLogo(): Promise<void> {
    logoError.value = null
    try {
      logo.value = await call('organisation.logo', {})
    } catch (caught) {
      logoError.value = errorOf(caught)
    }
  }

  /** Sets the logo from a chosen file (checked by the main process), or removes it (null). */
  async function setLogo(file: File | null): Promise<boolean> {
    logoError.value = null
    if (file && file.type !== 'image/png' && file.type !== 'image/jpeg') {
      logoError.value = { code: 'BAD_INPUT', message: `${file.name} is not a PNG or JPEG image.` }
      return false
    }
    if (file && file.size > MAX_LOGO_BYTES) {
      logoError.value = {
        code: 'BAD_INPUT',
        message: `${file.name} is ${kilobytes(file.size)}; a logo may be at most ${kilobytes(MAX_LOGO_BYTES)}. A header logo needs no more than about 600 pixels across.`,
      }
      return false
    }
    logoSaving.value = true
    try {
      logo.value = file
        ? await call('organisation.setLogo', {
            imageBase64: await fileBase64(file),
            mediaType: file.type as Logo['mediaType'],
          })
        : await call('organisation.setLogo', { imageBase64: null })
      return true
    } catch (caught) {
      logoError.value = errorOf(caught)
      return false
    } finally {
      logoSaving.value = false
    }
  }

  /** Signs PDFs from now on with the organisation's own certificate, from an uploaded PKCS#12. */
  async function importPkcs12(file: File, passphrase: string): Promise<boolean> {
    importing.value = true
    importError.value = null
    try {
      organisation.value = await call('organisation.importPkcs12', {
        p12Base64: await fileBase64(file),
        passphrase,
      })
      return true
    } catch (caught) {
      importError.value = errorOf(caught)
      return false
    } finally {
      importing.value = false
    }
  }

  /** The public halves, for auditors: the manifest key and the PDF certificate, as PEM files. */
  function exportPublic(which: 'manifest-key' | 'certificate'): void {
    const org = organisation.value
    if (!org) return
    if (which === 'manifest-key')
      saveFile(org.manifestPublicKeyPem, 'organisation-manifest-key.pem', 'application/x-pem-file')
    else saveFile(org.certificatePem, 'organisation-certificate.pem', 'application/x-pem-file')
  }

  async function loadIssuable(): Promise<void> {
    issuableLoading.value = true
    issueError.value = null
    try {
      const completed = await call('requests.list', {
        status: ['completed'],
        sort: 'updated',
        order: 'desc',
        limit: 500,
      })
      issuable.value = completed.items
    } catch (caught) {
      issueError.value = errorOf(caught)
    } finally {
      issuableLoading.value = false
    }
  }

  /** Saves an issued certificate's PDF through a temporary link, as a browser download. */
  async function download(certificateId: string): Promise<void> {
    downloading.value = certificateId
    downloadError.value = null
    try {
      const got = await call('certificates.get', { certificateId })
      saveFile(fromBase64(got.pdfBase64), got.fileName || `${got.certificateId}.pdf`, 'application/pdf')
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
      checklist.value = await call('certificates.verify', { pdfBase64: await fileBase64(file) })
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
    logo,
    logoSaving,
    logoError,
    importing,
    importError,
    issuable,
    issuableLoading,
    issueError,
    load,
    createOrganisation,
    download,
    verify,
    loadLogo,
    setLogo,
    importPkcs12,
    exportPublic,
    loadIssuable,
  }
})
