import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { backendNames, SystemInfo } from '../../electron/contract'
import { lethe as cli } from '../support/cli'
import { tempDir } from '../support/fixtures'

const lethe = (args: string[], env: Record<string, string> = {}) => cli(args, { env })

describe('lethe info', () => {
  it('prints one JSON document with the version, the data folder and the probed backends', () => {
    const dataDir = tempDir()
    const { code, stdout } = lethe(['info', '--json', '--data-dir', dataDir])
    expect(code).toBe(0)
    const info = SystemInfo.parse(JSON.parse(stdout))
    expect(info.dataDir).toBe(dataDir)
    expect(info.host).toBe('cli')
    expect(info.engine.backends.map((b) => b.name)).toEqual([...backendNames])
    expect(info.engine.backends.find((b) => b.name === 'wasm')?.available).toBe(true)
  })

  it('takes the data folder from LETHE_DATA_DIR and prints a readable summary', () => {
    const dataDir = tempDir()
    const { code, stdout } = lethe(['info'], { LETHE_DATA_DIR: dataDir, LETHE_BACKEND: 'cpu' })
    expect(code).toBe(0)
    expect(stdout).toContain(`Data folder: ${dataDir}`)
    expect(stdout).toMatch(/\* cpu\s+Plain JavaScript CPU/)
    expect(stdout).toContain('selected by LETHE_BACKEND')
  })

  it('fails with the typed error on stderr and a non-zero status', () => {
    const file = path.join(tempDir(), 'not-a-folder')
    writeFileSync(file, '')
    const human = lethe(['info', '--data-dir', file])
    expect(human.code).toBe(2)
    expect(human.stdout).toBe('')
    expect(human.stderr).toContain('lethe: BAD_INPUT: The data folder')

    const json = lethe(['info', '--json', '--data-dir', file])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stderr)).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } })
  })

  it('has --help for the program and for each command', () => {
    const top = lethe(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/info \[options\]\s+version, data folder/)
    const info = lethe(['info', '--help'])
    expect(info.code).toBe(0)
    expect(info.stdout).toContain('--json')
    expect(info.stdout).toContain('--data-dir <dir>')
  })

  it('refuses an unknown command', () => {
    const { code, stderr } = lethe(['frobnicate'])
    expect(code).not.toBe(0)
    expect(stderr).toMatch(/unknown command 'frobnicate'/)
  })
})
