import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { dispatch } from '../../electron/contract/dispatch'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { tempDir } from '../support/fixtures'
import { testKeys } from '../support/ledger'

let services: LetheServices | undefined
afterEach(async () => {
  await services?.close()
  services = undefined
})

const open = (dataDir: string) => {
  services = createServices({
    dataDir,
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: testKeys,
  })
  return async <T>(method: string, input: unknown): Promise<T> => {
    const result = await dispatch((services as LetheServices).handlers, method, input, { transport: 'cli' })
    if (!result.ok) throw Object.assign(new Error(result.error.message), result.error)
    return result.value as T
  }
}

/** The default (ε, δ) of certified unlearning, which these tests leave alone. */
const certification = { epsilon: 1, delta: 1e-5 }
describe('the compute backend setting', () => {
  it('selects the backend at once, is kept in the data folder, and refuses an unknown name', async () => {
    const dataDir = tempDir('lethe-settings-')
    const call = open(dataDir)
    expect(await call('settings.get', {})).toEqual({ backend: 'auto', dateLocale: 'auto', certification })
    const info = await call<Output<'system.info'>>('settings.update', { backend: 'cpu' })
    expect(info.engine).toMatchObject({ selected: 'cpu', selectedBy: 'setting', warning: null })
    expect(JSON.parse(readFileSync(path.join(dataDir, 'settings.json'), 'utf8'))).toEqual({
      backend: 'cpu',
      dateLocale: 'auto',
      certification,
    })
    await expect(call('settings.update', { backend: 'quantum' })).rejects.toMatchObject({ code: 'BAD_INPUT' })

    const back = await call<Output<'system.info'>>('settings.update', { backend: 'auto' })
    expect(back.engine.selectedBy).toBe('probe')
    await services?.close()
    const again = open(dataDir)
    expect(await again('settings.get', {})).toEqual({ backend: 'auto', dateLocale: 'auto', certification })
  })
})

describe('the date language setting', () => {
  it('takes auto or a language tag dates can be formatted in, keeps it, and leaves the backend alone', async () => {
    const dataDir = tempDir('lethe-settings-')
    const call = open(dataDir)
    await call('settings.update', { dateLocale: 'de' })
    expect(await call('settings.get', {})).toEqual({ backend: 'auto', dateLocale: 'de', certification })
    for (const bad of ['', 'not a tag!', 'en_GB', 'x'.repeat(40)]) {
      await expect(call('settings.update', { dateLocale: bad })).rejects.toMatchObject({ code: 'BAD_INPUT' })
    }
    await expect(call('settings.update', { dateLocale: 'xx-QQ' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/language tag/),
    })
    await call('settings.update', { dateLocale: 'pt-BR' })
    await services?.close()
    const again = open(dataDir)
    expect(await again('settings.get', {})).toEqual({ backend: 'auto', dateLocale: 'pt-BR', certification })
    expect(JSON.parse(readFileSync(path.join(dataDir, 'settings.json'), 'utf8'))).toEqual({
      backend: 'auto',
      dateLocale: 'pt-BR',
      certification,
    })
  })

  it('reads a settings file from before the setting existed', async () => {
    const dataDir = tempDir('lethe-settings-')
    writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ backend: 'cpu' }))
    const call = open(dataDir)
    expect(await call('settings.get', {})).toEqual({ backend: 'cpu', dateLocale: 'auto', certification })
  })
})
