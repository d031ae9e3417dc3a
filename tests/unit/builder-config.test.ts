import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

// Packaging needs downloads, so CI checks the configuration instead of building installers.
const config = parse(readFileSync('electron-builder.yml', 'utf8')) as Record<string, unknown> & {
  files: string[]
  asarUnpack: string[]
  electronFuses: Record<string, boolean>
  linux: { target: string[]; maintainer?: string; icon: string }
  win: { target: string[] }
  mac: { target: string[] }
}
const schema = createRequire(import.meta.url)('app-builder-lib/scheme.json') as object
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  homepage?: string
  author?: { email?: string }
}

describe('electron-builder.yml', () => {
  it("is valid against electron-builder's own schema", () => {
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true })
    const validate = ajv.compile(schema)
    const valid = validate(config)
    expect(validate.errors ?? []).toEqual([])
    expect(valid).toBe(true)
  })

  it('targets Linux (AppImage, deb), Windows (nsis) and macOS (dmg)', () => {
    expect(config.appId).toBe('org.lethe.desk')
    expect(config.productName).toBe('Lethe')
    expect(config.linux.target).toEqual(['AppImage', 'deb'])
    expect(config.win.target).toEqual(['nsis'])
    expect(config.mac.target).toEqual(['dmg'])
  })

  it('has what a deb needs: a maintainer and a homepage', () => {
    expect(config.linux.maintainer).toMatch(/<.+@.+>/)
    expect(pkg.homepage).toBeTruthy()
    expect(pkg.author?.email).toBeTruthy()
  })

  it('sets the fuses of the Electron security checklist', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableCookieEncryption: true,
      grantFileProtocolExtraPrivileges: false,
    })
  })

  it('publishes nothing: the app never phones home', () => {
    expect(config.publish).toBeNull()
  })

  it('keeps native addons and WASM out of the asar archive', () => {
    expect(config.asarUnpack).toEqual(
      expect.arrayContaining([
        '**/*.node',
        'node_modules/webgpu/**',
        'node_modules/@tensorflow/tfjs-node/**',
        'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm',
      ]),
    )
  })

  it('ships the build output and icons, and leaves out tests, benchmarks and sources', () => {
    expect(config.files).toEqual(
      expect.arrayContaining(['out/**', 'resources/**', '!tests/**', '!bench/**', '!electron/**']),
    )
    expect(readFileSync(config.linux.icon).subarray(1, 4).toString()).toBe('PNG')
  })
})
