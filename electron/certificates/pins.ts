/**
 * What the organisation's identity and its issued certificates pin about this installation's
 * ledger: the key its heads are signed with, and the entries the certificates cite. `ledger
 * verify` holds the chain against them, so a history re-signed with another key, or rolled back
 * past an issued certificate, is caught without any flag.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { LedgerPin } from '../ledger/verify'
import { extractAttachments } from './attachments'
import type { CertificateManifest } from './manifest'
import { manifestSignatureValid, organisationFile, pinnedLedgerKey, publicIdentity } from './organisation'

export async function ledgerPins(dataDir: string): Promise<LedgerPin[]> {
  const orgDir = path.join(dataDir, 'organisation')
  if (!existsSync(organisationFile(orgDir))) return []
  const pins: LedgerPin[] = []
  const identity = 'The organisation’s identity'
  const pinned = await pinnedLedgerKey(orgDir).catch((error: unknown) => ({
    invalid: (error as Error).message,
  }))
  if (pinned?.invalid !== undefined) pins.push({ source: identity, invalid: pinned.invalid })
  else if (pinned) pins.push({ source: identity, keyFingerprint: pinned.keyFingerprint })

  const orgKey = (await publicIdentity(orgDir)).manifestPublicKeyPem
  const certDir = path.join(dataDir, 'certificates')
  const names = existsSync(certDir)
    ? (await readdir(certDir)).filter((f) => /^CERT-\d{4}-\d{4,}\.pdf$/.test(f))
    : []
  for (const name of names.sort()) {
    const source = `Certificate ${name.slice(0, -4)}`
    try {
      const files = extractAttachments(await readFile(path.join(certDir, name)))
      const bytes = files.get('manifest.json')
      const signature = files.get('manifest.sig')
      // Only what the organisation signed pins anything; a file someone put here is caught instead.
      if (!bytes || !signature || !manifestSignatureValid(bytes, signature, orgKey)) {
        pins.push({ source, invalid: `${name} carries no manifest signed with the organisation’s key` })
        continue
      }
      const { ledger } = JSON.parse(bytes.toString('utf8')) as CertificateManifest
      pins.push({
        source,
        head: { seq: ledger.seq, hash: ledger.hash },
        // Certificates of version 1 predate pinned keys.
        ...(ledger.keyFingerprint && { keyFingerprint: ledger.keyFingerprint }),
      })
    } catch (error) {
      pins.push({ source, invalid: (error as Error).message })
    }
  }
  return pins
}
