import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultUserDataDir, resolveDataDir } from '../../electron/host/paths'
import { tempDir } from '../support/fixtures'

describe('the data folder', () => {
  it('matches where Electron keeps userData on each platform', () => {
    expect(defaultUserDataDir('linux', {}, '/home/ada')).toBe('/home/ada/.config/Lethe')
    expect(defaultUserDataDir('linux', { XDG_CONFIG_HOME: '/xdg' }, '/home/ada')).toBe('/xdg/Lethe')
    expect(defaultUserDataDir('darwin', {}, '/Users/ada')).toBe(
      '/Users/ada/Library/Application Support/Lethe',
    )
    expect(defaultUserDataDir('win32', { APPDATA: 'D:\\Roaming' }, 'C:\\Users\\ada')).toBe(
      path.join('D:\\Roaming', 'Lethe'),
    )
  })

  it('creates a missing folder', () => {
    const dir = path.join(tempDir(), 'nested', 'data')
    expect(resolveDataDir(dir)).toBe(dir)
    expect(existsSync(dir)).toBe(true)
  })

  it('refuses a path that is a file, with a clear error naming it', () => {
    const file = path.join(tempDir(), 'ledger.json')
    writeFileSync(file, '{}')
    expect(() => resolveDataDir(file)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    expect(() => resolveDataDir(file)).toThrow(`The data folder ${file} cannot be used`)
  })
})
