import { closeSync, fsyncSync, openSync } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'

/** A rename is durable only once its folder is synced (a no-op where folders cannot be opened). */
export function syncFolder(folder: string): void {
  let fd: number | undefined
  try {
    fd = openSync(folder, 'r')
    fsyncSync(fd)
  } catch {
    // Windows cannot fsync a folder; NTFS journals the rename itself.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Writes bytes crash-safely: temporary file, fsync, rename over the target, fsync the folder. */
export async function writeFileDurably(file: string, bytes: Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`
  const handle = await open(temp, 'w')
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  syncFolder(path.dirname(file))
}
