import { randomFillSync } from 'node:crypto'
import { closeSync, fsyncSync, openSync } from 'node:fs'
import { open, readdir, rename, rm } from 'node:fs/promises'
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

/**
 * Writes bytes crash-safely: temporary file, fsync, rename over the target, fsync the folder.
 * Everything Lethe writes holds personal data, keys or what they protect: owner-only (0600).
 */
export async function writeFileDurably(file: string, bytes: Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`
  const handle = await open(temp, 'w', 0o600)
  try {
    await handle.chmod(0o600) // a temp file a killed writer left with other rights is reused
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

/** Whether a process with this id runs on this machine (EPERM: it does, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** `name.PID.tmp`: a durable write in progress by process PID. */
const TEMP_FILE = /\.(\d+)\.tmp$/

/**
 * Removes, in `folder` and below, the temporary files that killed writers left behind: only
 * those whose process is gone, never a live writer's.
 */
export async function removeStaleTempFiles(folder: string): Promise<void> {
  let entries
  try {
    entries = await readdir(folder, { withFileTypes: true })
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return
    throw error
  }
  for (const entry of entries) {
    const target = path.join(folder, entry.name)
    if (entry.isDirectory()) await removeStaleTempFiles(target)
    const pid = TEMP_FILE.exec(entry.name)?.[1]
    if (entry.isFile() && pid !== undefined && !isRunning(Number(pid))) await rm(target, { force: true })
  }
}

/** Bytes overwritten per write while shredding: large files are shredded without holding them in memory. */
const SHRED_CHUNK = 1 << 20

/**
 * Overwrites a file in place with random bytes, syncs it, then removes it: deleting personal data
 * must not leave its bytes in the freed blocks for the next reader of the disk (on a copy-on-write
 * or wear-levelled disk the old blocks may survive anyway; only encryption at rest covers those).
 * A missing file is already gone.
 */
export async function shredFile(file: string): Promise<boolean> {
  let handle
  try {
    handle = await open(file, 'r+')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
  try {
    const { size } = await handle.stat()
    const noise = new Uint8Array(Math.min(SHRED_CHUNK, size))
    for (let offset = 0; offset < size; offset += noise.length) {
      const length = Math.min(noise.length, size - offset)
      await handle.write(randomFillSync(noise, 0, length), 0, length, offset)
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rm(file)
  syncFolder(path.dirname(file))
  return true
}
