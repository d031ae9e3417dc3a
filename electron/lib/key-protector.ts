/**
 * How private keys are sealed at rest: the organisation's signing keys and the ledger's head
 * key. The app uses the operating system's key store (Electron's safeStorage) where there is a
 * real one (host/key-protection.ts); elsewhere a passphrase seals them as encrypted PKCS#8.
 */
import { createPrivateKey } from 'node:crypto'
import { LetheError } from '../contract'

/** Seals private keys at rest and opens them again. */
export interface KeyProtector {
  /** What the stored form says about how it was sealed, for a clear error when it cannot be opened. */
  kind: 'passphrase' | 'safe-storage'
  seal(privateKeyPem: string): Promise<string>
  open(sealed: string): Promise<string>
}

/**
 * Passphrase protection as encrypted PKCS#8 (PBES2 with AES-256-CBC), which openssl reads too: `openssl pkey -in key.pem -passin pass:…`.
 */
export function passphraseProtector(passphrase: string): KeyProtector {
  if (passphrase.length < 8)
    throw new LetheError('BAD_INPUT', 'The key passphrase must have at least 8 characters.')
  return {
    kind: 'passphrase',
    seal: async (pem) =>
      createPrivateKey(pem)
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
        .toString(),
    open: async (sealed) => {
      try {
        return createPrivateKey({ key: sealed, passphrase })
          .export({ type: 'pkcs8', format: 'pem' })
          .toString()
      } catch {
        throw new LetheError('BAD_INPUT', 'The key passphrase is wrong: the sealed keys cannot be opened.')
      }
    },
  }
}
