import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  chooseKeyProtector,
  keyProtectorOncePerLaunch,
  type OsKeyStore,
} from '../../electron/host/key-protection'

type Backend = ReturnType<OsKeyStore['getSelectedStorageBackend']>

/**
 * Stands in for Electron's safeStorage: sealed values are random tokens remembered in memory.
 * The synchronous API throws, as it must not be used.
 */
class MemoryKeyStore implements OsKeyStore {
  readonly sealed = new Map<string, string>()
  availabilityChecks = 0

  constructor(
    private readonly available: boolean,
    private readonly backend?: Backend,
  ) {}

  async isAsyncEncryptionAvailable() {
    this.availabilityChecks++
    return this.available
  }

  async encryptStringAsync(plain: string) {
    const token = randomBytes(16)
    this.sealed.set(token.toString('hex'), plain)
    return token
  }

  async decryptStringAsync(encrypted: Buffer) {
    const result = this.sealed.get(encrypted.toString('hex'))
    if (result === undefined) throw new Error('Error while decrypting the ciphertext')
    return { shouldReEncrypt: false, result }
  }

  getSelectedStorageBackend(): Backend {
    if (!this.backend) throw new Error('getSelectedStorageBackend exists on Linux only')
    return this.backend
  }

  isEncryptionAvailable(): boolean {
    throw new Error('the synchronous isEncryptionAvailable is deprecated')
  }
  encryptString(): Buffer {
    throw new Error('the synchronous encryptString is deprecated')
  }
  decryptString(): string {
    throw new Error('the synchronous decryptString is deprecated')
  }
}

const passphrase = 'correct horse battery'
const withPassphrase = { LETHE_KEY_PASSPHRASE: passphrase }
const privateKeyPem = generateKeyPairSync('ed25519')
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString()

describe('the key protector on Linux', () => {
  it.each(['gnome_libsecret', 'kwallet', 'kwallet5', 'kwallet6'] as const)(
    'seals with the %s secret store through the asynchronous API',
    async (backend) => {
      const store = new MemoryKeyStore(true, backend)
      const protector = await chooseKeyProtector(store, 'linux', withPassphrase)
      expect(protector.kind).toBe('safe-storage')
      const sealed = await protector.seal(privateKeyPem)
      expect(sealed).not.toContain('PRIVATE KEY')
      expect(store.sealed.size).toBe(1)
      expect(await protector.open(sealed)).toBe(privateKeyPem)
    },
  )

  it('opens keys sealed before, stored as base64 of what safeStorage returned', async () => {
    const store = new MemoryKeyStore(true, 'gnome_libsecret')
    const sealedEarlier = (await store.encryptStringAsync(privateKeyPem)).toString('base64')
    const protector = await chooseKeyProtector(store, 'linux', {})
    expect(await protector.open(sealedEarlier)).toBe(privateKeyPem)
  })

  it('seals with the passphrase when Electron would use its hard-coded password (basic_text)', async () => {
    const store = new MemoryKeyStore(true, 'basic_text')
    const protector = await chooseKeyProtector(store, 'linux', withPassphrase)
    expect(protector.kind).toBe('passphrase')
    const sealed = await protector.seal(privateKeyPem)
    expect(store.sealed.size).toBe(0)
    expect(createPrivateKey({ key: sealed, passphrase }).export({ type: 'pkcs8', format: 'pem' })).toBe(
      privateKeyPem,
    )
    expect(() => createPrivateKey({ key: sealed, passphrase: 'another passphrase' })).toThrow()
  })

  it('refuses basic_text without a passphrase, naming the backend and what to set', async () => {
    const store = new MemoryKeyStore(true, 'basic_text')
    await expect(chooseKeyProtector(store, 'linux', {})).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(
        /basic_text: Electron would seal keys with a hard-coded password.*LETHE_KEY_PASSPHRASE/,
      ),
    })
  })

  it('does not trust a backend Electron has not chosen yet', async () => {
    const store = new MemoryKeyStore(true, 'unknown')
    await expect(chooseKeyProtector(store, 'linux', {})).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/unknown: .*LETHE_KEY_PASSPHRASE/),
    })
    expect((await chooseKeyProtector(store, 'linux', withPassphrase)).kind).toBe('passphrase')
  })

  it('falls back to the passphrase, or refuses, when encryption is unavailable', async () => {
    const store = new MemoryKeyStore(false, 'gnome_libsecret')
    expect((await chooseKeyProtector(store, 'linux', withPassphrase)).kind).toBe('passphrase')
    await expect(chooseKeyProtector(store, 'linux', {})).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/encryption is unavailable.*LETHE_KEY_PASSPHRASE/),
    })
  })
})

describe('the key protector on macOS and Windows', () => {
  it.each(['darwin', 'win32'] as const)(
    'seals with the OS key store on %s without asking for a backend',
    async (platform) => {
      const store = new MemoryKeyStore(true)
      const protector = await chooseKeyProtector(store, platform, withPassphrase)
      expect(protector.kind).toBe('safe-storage')
      expect(await protector.open(await protector.seal(privateKeyPem))).toBe(privateKeyPem)
    },
  )

  it.each(['darwin', 'win32'] as const)(
    'falls back to the passphrase, or refuses, on %s when encryption is unavailable',
    async (platform) => {
      const store = new MemoryKeyStore(false)
      expect((await chooseKeyProtector(store, platform, withPassphrase)).kind).toBe('passphrase')
      await expect(chooseKeyProtector(store, platform, {})).rejects.toMatchObject({ code: 'BAD_INPUT' })
    },
  )
})

describe('the app key protector', () => {
  it('decides once per launch, on first use', async () => {
    const store = new MemoryKeyStore(true, 'gnome_libsecret')
    const keyProtector = keyProtectorOncePerLaunch(store, 'linux', {})
    expect(store.availabilityChecks).toBe(0)
    const [first, second] = await Promise.all([keyProtector(), keyProtector()])
    expect(await keyProtector()).toBe(first)
    expect(second).toBe(first)
    expect(store.availabilityChecks).toBe(1)
  })
})
