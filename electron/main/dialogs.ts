/**
 * The native file dialog behind `system.chooseFile`, in the Electron shell only (the services stay
 * free of Electron; in a browser the same method answers that there is no dialog).
 */
import type { BrowserWindow, Dialog } from 'electron'
import type { Handlers } from '../contract/dispatch'

type NativeDialog = Pick<Dialog, 'showOpenDialog' | 'showSaveDialog'>

export function chooseFileWith(
  dialog: NativeDialog,
  parent: () => BrowserWindow | null,
): Handlers['system.chooseFile'] {
  return async ({ mode, title, filters, multiple, defaultName }) => {
    const window = parent()
    if (mode === 'save') {
      const options = { title, filters, ...(defaultName ? { defaultPath: defaultName } : {}) }
      const saved = window
        ? await dialog.showSaveDialog(window, options)
        : await dialog.showSaveDialog(options)
      return { paths: saved.canceled || !saved.filePath ? [] : [saved.filePath] }
    }
    const properties: ('openFile' | 'multiSelections')[] = multiple
      ? ['openFile', 'multiSelections']
      : ['openFile']
    const options = { title, filters, properties }
    const opened = window
      ? await dialog.showOpenDialog(window, options)
      : await dialog.showOpenDialog(options)
    return { paths: opened.canceled ? [] : opened.filePaths }
  }
}
