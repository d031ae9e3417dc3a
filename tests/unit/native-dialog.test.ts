/**
 * `system.chooseFile`: the Electron shell answers with its native dialog (here a stand-in for
 * Electron's `dialog`, which cannot run without the Electron binary: what is under test is how the
 * contract's request becomes the dialog's options and its answer our paths); the services, as a
 * browser reaches them, say there is no dialog.
 */
import { describe, expect, it } from 'vitest'
import type { BrowserWindow, Dialog } from 'electron'
import { methods } from '../../electron/contract'
import { chooseFileWith } from '../../electron/main/dialogs'
import { systemService } from '../../electron/system/service'
import type { EngineHost } from '../../electron/engine/host'
import { tempDir } from '../support/fixtures'

const context = { transport: 'ipc' as const }

function standIn(answer: { canceled: boolean; filePaths?: string[]; filePath?: string }) {
  const asked: unknown[][] = []
  const dialog = {
    showOpenDialog: async (...args: unknown[]) => {
      asked.push(args)
      return { canceled: answer.canceled, filePaths: answer.filePaths ?? [] }
    },
    showSaveDialog: async (...args: unknown[]) => {
      asked.push(args)
      return { canceled: answer.canceled, filePath: answer.filePath ?? '' }
    },
  } as unknown as Pick<Dialog, 'showOpenDialog' | 'showSaveDialog'>
  return { dialog, asked }
}

describe('the native file dialog', () => {
  const open = methods['system.chooseFile'].input.parse({
    mode: 'open',
    title: 'Import a model',
    filters: [{ name: 'Models', extensions: ['onnx', 'json'] }],
    multiple: true,
  })

  it('opens files for the focused window and returns the chosen paths', async () => {
    const window = {} as BrowserWindow
    const { dialog, asked } = standIn({
      canceled: false,
      filePaths: ['/m/model.json', '/m/group1-shard1of1.bin'],
    })
    const chosen = await chooseFileWith(dialog, () => window)(open, context)
    expect(chosen).toEqual({ paths: ['/m/model.json', '/m/group1-shard1of1.bin'] })
    expect(asked[0]?.[0]).toBe(window)
    expect(asked[0]?.[1]).toEqual({
      title: 'Import a model',
      filters: [{ name: 'Models', extensions: ['onnx', 'json'] }],
      properties: ['openFile', 'multiSelections'],
    })
  })

  it('saves with the offered name, and a cancelled dialog chooses nothing', async () => {
    const save = methods['system.chooseFile'].input.parse({
      mode: 'save',
      title: 'Export',
      filters: [],
      defaultName: 'unlearned.onnx',
    })
    const saved = standIn({ canceled: false, filePath: '/out/unlearned.onnx' })
    await expect(chooseFileWith(saved.dialog, () => null)(save, context)).resolves.toEqual({
      paths: ['/out/unlearned.onnx'],
    })
    expect(saved.asked[0]).toEqual([{ title: 'Export', filters: [], defaultPath: 'unlearned.onnx' }])
    const cancelled = standIn({ canceled: true })
    await expect(chooseFileWith(cancelled.dialog, () => null)(save, context)).resolves.toEqual({ paths: [] })
    await expect(chooseFileWith(cancelled.dialog, () => null)(open, context)).resolves.toEqual({ paths: [] })
  })

  it('is refused where there is no desktop shell, saying what to do instead', async () => {
    const service = systemService({
      version: 'test',
      dataDir: tempDir('lethe-dialog-'),
      host: 'browser',
      engine: {} as EngineHost,
    })
    await expect(service.handlers['system.chooseFile'](open, { transport: 'http' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('Upload the file'),
    })
  })
})
