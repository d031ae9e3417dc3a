/**
 * Which protector seals private keys in the app. Electron's safeStorage is the operating
 * system's key store, except on Linux without a keyring: there Chromium falls back to a
 * hard-coded password (the `basic_text` backend), which protects nothing, so a passphrase
 * from LETHE_KEY_PASSPHRASE seals the keys instead.
 */
import type { SafeStorage } from 'electron'
import { LetheError } from '../contract'
import { passphraseProtector, type KeyProtector } from '../lib/key-protector'

/** The part of safeStorage Lethe uses: the asynchronous API only (the synchronous one is deprecated). */
export type OsKeyStore = Pick<
  SafeStorage,
  'isAsyncEncryptionAvailable' | 'encryptStringAsync' | 'decryptStringAsync' | 'getSelectedStorageBackend'
>

/** Linux backends that keep the key in a real secret store; `basic_text` and `unknown` do not. */
const SECRET_STORES: readonly string[] = ['gnome_libsecret', 'kwallet', 'kwallet5', 'kwallet6']

/** Platforms whose key store is always a real one (Keychain, DPAPI) once encryption is available. */
const KEYCHAIN_PLATFORMS: readonly NodeJS.Platform[] = ['darwin', 'win32']

/**
 * The app's key protector, decided once per launch on first use (safeStorage answers only
 * after the app is ready).
 */
export function keyProtectorOncePerLaunch(
  store: OsKeyStore,
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): () => Promise<KeyProtector> {
  let decision: Promise<KeyProtector> | undefined
  return () => (decision ??= chooseKeyProtector(store, platform, env))
}

/** The OS key store when it really protects keys here; else the passphrase; else a clear error. */
export async function chooseKeyProtector(
  store: OsKeyStore,
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): Promise<KeyProtector> {
  const missing = await whyNoKeyStore(store, platform)
  if (missing === undefined) return safeStorageProtector(store)
  const passphrase = env.LETHE_KEY_PASSPHRASE
  if (passphrase) return passphraseProtector(passphrase)
  throw new LetheError(
    'BAD_INPUT',
    `There is no operating-system key store here (${missing}). Set LETHE_KEY_PASSPHRASE to a passphrase ` +
      'of at least 8 characters to seal the keys with it, and start Lethe again.',
  )
}

/** Why safeStorage cannot protect keys on this machine, or undefined when it can. */
async function whyNoKeyStore(store: OsKeyStore, platform: NodeJS.Platform): Promise<string | undefined> {
  // Asked first: it initialises safeStorage, and the Linux backend means something only after that.
  const available = await store.isAsyncEncryptionAvailable()
  if (!KEYCHAIN_PLATFORMS.includes(platform)) {
    const backend = store.getSelectedStorageBackend()
    if (backend === 'basic_text') return 'basic_text: Electron would seal keys with a hard-coded password'
    if (!SECRET_STORES.includes(backend)) return `${backend}: Electron has chosen no keyring or wallet`
  }
  return available ? undefined : 'safeStorage reports that encryption is unavailable'
}

function safeStorageProtector(store: OsKeyStore): KeyProtector {
  return {
    kind: 'safe-storage',
    seal: async (pem) => (await store.encryptStringAsync(pem)).toString('base64'),
    // decryptStringAsync also reads what the synchronous encryptString sealed before. Its
    // shouldReEncrypt (the key was rotated) is safe to ignore: Chromium keeps earlier keys to
    // decrypt with, and a seal Lethe wrote was never under the hard-coded key (the synchronous
    // API refused basic_text, and this module refuses it now).
    open: async (sealed) => (await store.decryptStringAsync(Buffer.from(sealed, 'base64'))).result,
  }
}
