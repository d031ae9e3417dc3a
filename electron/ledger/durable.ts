/**
 * Crash-safe JSON files for lowdb. lowdb's own JSONFile (via steno) renames atomically but
 * never fsyncs, and `update()` changes memory before the write; here every write goes to a
 * temporary file that is fsynced, renamed over the target, and the folder fsynced, and a
 * document's data changes only once its write has succeeded.
 */
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { Low, type Adapter } from 'lowdb'
import { LetheError } from '../contract'
import { sha256Hex } from '../lib/digest'
import { writeFileDurably } from '../lib/files'

export class DurableJsonFile<T> implements Adapter<T> {
  /** SHA-256 of the bytes last written, so a caller can record them without serialising again. */
  lastSha256: string | null = null

  constructor(readonly file: string) {}

  async read(): Promise<T | null> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
    return parseStored<T>(this.file, text)
  }

  async write(data: T): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 })
    const bytes = Buffer.from(JSON.stringify(data))
    await writeFileDurably(this.file, bytes)
    this.lastSha256 = sha256Hex(bytes)
  }
}

/** Parses a stored file, turning damage into a CORRUPT error that names the file and place. */
export function parseStored<T>(file: string, text: string): T {
  if (text.trim() === '') {
    throw new LetheError('CORRUPT', `${file} is empty (truncated by a crash or an edit).`, { file })
  }
  try {
    return JSON.parse(text) as T
  } catch (error) {
    const where = /position (\d+)/.exec(String(error))?.[1]
    const at = where ? ` near byte ${where}` : ''
    throw new LetheError('CORRUPT', `${file} is not valid JSON${at}: it was truncated or damaged.`, {
      file,
      position: where ? Number(where) : null,
    })
  }
}

/** A lowdb document whose in-memory data changes only after the new data is on disk. */
export class DurableDocument<T> {
  private readonly low: Low<T>

  constructor(file: string, defaults: T) {
    this.low = new Low<T>(new DurableJsonFile<T>(file), defaults)
  }

  get data(): T {
    return this.low.data
  }

  get file(): string {
    return (this.low.adapter as DurableJsonFile<T>).file
  }

  /** SHA-256 of the bytes this document last committed (null before its first commit here). */
  get committedSha256(): string | null {
    return (this.low.adapter as DurableJsonFile<T>).lastSha256
  }

  async load(): Promise<this> {
    await this.low.read()
    return this
  }

  /** Writes `next` and only then makes it the document's data. */
  async commit(next: T): Promise<void> {
    await this.low.adapter.write(next)
    this.low.data = next
  }
}

/** Runs async tasks one after another: one writer, no lost update under concurrent calls. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task)
    this.tail = result.catch(() => undefined)
    return result
  }
}
