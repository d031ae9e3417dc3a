/**
 * One writer per ledger: a lock file naming the process that holds it. A lock left by a
 * process that no longer runs (a crash, a kill) is taken over.
 *
 * A lock appears with its content in one step: written to a temp file beside it, then hard-linked
 * into place, which fails if a lock is there. So a lock is never seen empty; an empty or torn one
 * was left by a crash (or an older Lethe) and counts as stale. Every lock names a random nonce, so
 * its inode and content hash tell it apart from every other lock that ever stood there.
 */
import { createHash, randomUUID } from 'node:crypto'
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { LetheError } from '../contract'
import { isRunning } from '../lib/files'

const Holder = z.object({ pid: z.number().int().positive(), host: z.string(), since: z.string() })
type Holder = z.infer<typeof Holder>

/** A lock (or takeover marker) file as read at one moment. */
interface Seen {
  holder: Holder | null
  bytes: Buffer
  /** Its inode and content hash: a replaced lock's identity never comes back. */
  identity: string
}

// Each further attempt means the lock was released or replaced while we looked at it.
const ATTEMPTS = 8

export class LedgerLock {
  private constructor(
    private readonly file: string,
    private readonly content: Buffer,
  ) {}

  static acquire(file: string): LedgerLock {
    const nonce = randomUUID()
    const holder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), nonce }
    const content = Buffer.from(JSON.stringify(holder))
    const temp = `${file}.${process.pid}.${nonce}.tmp`
    writeFileSync(temp, content, { flag: 'wx', mode: 0o600 })
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (linkExclusive(temp, file) || takeOverIfStale(file, temp)) {
          removeLeftovers(file)
          return new LedgerLock(file, content)
        }
      }
    } finally {
      rmSync(temp, { force: true })
    }
    throw new LetheError('LOCKED', `Could not take the ledger lock ${file}: it kept changing while we tried.`)
  }

  /** Removes the lock only if it is still ours: nobody can replace it while we live, as it is not stale. */
  release(): void {
    if (inspect(this.file)?.bytes.equals(this.content)) rmSync(this.file, { force: true })
  }
}

/**
 * Replaces the lock with ours (a link to `temp`) if it names a process that is gone; refuses
 * with LOCKED if it names one that runs; false if it changed meanwhile, to look again.
 *
 * Compare-and-swap: only the process that exclusively creates the takeover marker named after
 * the stale lock's identity may replace it, and it renames its marker over the lock only after
 * seeing that identity still there. Between that check and the rename nothing else can replace
 * the lock: a fresh lock is only linked where none is, the stale holder is gone, and no other
 * process owns the marker. So the rename can only replace the stale lock, never a fresh one.
 * A marker whose creator died before finishing is passed over for the next generation's.
 */
function takeOverIfStale(file: string, temp: string): boolean {
  const stale = inspect(file)
  if (!stale) return false // released meanwhile
  if (stale.holder && isLive(stale.holder)) throw locked(stale.holder)
  for (let generation = 0; ; generation++) {
    const marker = `${file}.takeover-${stale.identity}-${generation}`
    if (linkExclusive(temp, marker)) return swap(file, stale, marker)
    const taker = inspect(marker)
    if (!taker) return false // that takeover finished or gave up
    if (taker.holder && isLive(taker.holder)) throw locked(taker.holder)
  }
}

/** Renames our marker (a link to our temp file) over the lock if the lock is still `stale`. */
function swap(file: string, stale: Seen, marker: string): boolean {
  try {
    if (inspect(file)?.identity === stale.identity) {
      renameSync(marker, file)
      return true
    }
  } catch (error) {
    rmSync(marker, { force: true })
    throw error
  }
  rmSync(marker, { force: true }) // the lock changed: leave it alone
  return false
}

/**
 * Clears what crashed processes left beside the lock, once we hold it. No one takes over a live
 * lock, so every takeover marker names a replaced lock, which can never be current again: a
 * process still holding one finds the lock changed and backs off. Temp files go only if their
 * process is gone.
 */
function removeLeftovers(file: string): void {
  const dir = path.dirname(file)
  const prefix = `${path.basename(file)}.`
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue
    const rest = name.slice(prefix.length)
    const tempOf = /^(\d+)\.[\da-f-]+\.tmp$/.exec(rest)
    if (rest.startsWith('takeover-') || (tempOf && !isRunning(Number(tempOf[1]))))
      rmSync(path.join(dir, name), { force: true })
  }
}

function linkExclusive(existing: string, target: string): boolean {
  try {
    linkSync(existing, target)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/** Reads a file's bytes and inode through one descriptor, so both belong to the same file; null if there is none. */
function inspect(file: string): Seen | null {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const bytes = readFileSync(fd)
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
    return { holder: parseHolder(bytes), bytes, identity: `${fstatSync(fd, { bigint: true }).ino}-${hash}` }
  } finally {
    closeSync(fd)
  }
}

function parseHolder(bytes: Buffer): Holder | null {
  try {
    return Holder.parse(JSON.parse(bytes.toString('utf8')))
  } catch {
    return null // empty or torn by a crash: stale
  }
}

/** A holder on another host cannot be checked, so it counts as live. */
function isLive(holder: Holder): boolean {
  return holder.host !== os.hostname() || isRunning(holder.pid)
}

function locked(holder: Holder): LetheError {
  return new LetheError(
    'LOCKED',
    `The ledger is open for writing in another Lethe process (pid ${holder.pid} on ${holder.host}, since ${holder.since}). Close it, or use a read-only command.`,
    holder,
  )
}
