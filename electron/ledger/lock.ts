/**
 * One writer per ledger: a lock file created exclusively, naming the process that holds it.
 * A lock left by a process that no longer runs (a crash, a kill) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import os from 'node:os'
import { LetheError } from '../contract'

interface Holder {
  pid: number
  host: string
  since: string
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class LedgerLock {
  private constructor(private readonly file: string) {}

  static acquire(file: string): LedgerLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600)
        const holder: Holder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() }
        writeSync(fd, JSON.stringify(holder))
        closeSync(fd)
        return new LedgerLock(file)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const holder = readHolder(file)
      if (holder && (holder.host !== os.hostname() || alive(holder.pid))) {
        throw new LetheError(
          'LOCKED',
          `The ledger is open for writing in another Lethe process (pid ${holder.pid} on ${holder.host}, since ${holder.since}). Close it, or use a read-only command.`,
          holder,
        )
      }
      unlinkSync(file) // stale: its process is gone
    }
    throw new LetheError('LOCKED', `Could not take the ledger lock ${file}.`)
  }

  release(): void {
    try {
      unlinkSync(this.file)
    } catch {
      // already gone
    }
  }
}

function readHolder(file: string): Holder | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Holder
  } catch {
    return null // unreadable (torn by a crash while being written): treat as stale
  }
}
