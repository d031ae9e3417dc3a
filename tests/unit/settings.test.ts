import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { dispatch } from '../../electron/contract/dispatch'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { tempDir } from '../support/fixtures'

let services: LetheServices | undefined
afterEach(async () => {
  await services?.close()
  services = undefined
})

const open = (dataDir: string) => {
  services = createServices({ dataDir, host: 'cli', spawnEngine: () => workerThreadChannel() })
  return async <T>(method: string, input: unknown): Promise<T> => {
    const result = await dispatch((services as LetheServices).handlers, method, input, { transport: 'cli' })
    if (!result.ok) throw Object.assign(new Error(result.error.message), result.error)
    return result.value as T
  }
}

describe('the compute backend setting', () => {
  it('selects the backend at once, is kept in the data folder, and refuses an unknown name', async () => {
    const dataDir = tempDir('lethe-settings-')
    const call = open(dataDir)
    expect(await call('settings.get', {})).toEqual({ backend: 'auto' })
    const info = await call<Output<'system.info'>>('settings.update', { backend: 'cpu' })
    expect(info.engine).toMatchObject({ selected: 'cpu', selectedBy: 'setting', warning: null })
    expect(JSON.parse(readFileSync(path.join(dataDir, 'settings.json'), 'utf8'))).toEqual({ backend: 'cpu' })
    await expect(call('settings.update', { backend: 'quantum' })).rejects.toMatchObject({ code: 'BAD_INPUT' })

    const back = await call<Output<'system.info'>>('settings.update', { backend: 'auto' })
    expect(back.engine.selectedBy).toBe('probe')
    await services?.close()
    const again = open(dataDir)
    expect(await again('settings.get', {})).toEqual({ backend: 'auto' })
  })
})
