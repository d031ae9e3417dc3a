import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { verifyLedger } from '../../electron/ledger/verify'
import { Ledger } from '../../electron/ledger/ledger'
import { LedgerLock } from '../../electron/ledger/lock'
import { clock, testKeys } from '../support/ledger'
import { tempDir } from '../support/fixtures'

const RACERS = 4
const LOCK_ROUNDS = 100
const LEDGER_ROUNDS = 12

/** A process running tests/support/lock-racer.ts, spoken to a line at a time. */
class Racer {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly lines: AsyncIterator<string>
  private stderr = ''

  constructor() {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/lock-racer.ts'])
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]()
  }

  get pid(): number {
    return this.child.pid as number
  }

  send(command: string): void {
    this.child.stdin.write(`${command}\n`)
  }

  /** The lines it prints up to and including the first that `last` matches. */
  async until(last: RegExp): Promise<string[]> {
    const got: string[] = []
    for (;;) {
      const { value, done } = await this.lines.next()
      if (done) throw new Error(`racer ${this.pid} exited:\n${this.stderr}`)
      got.push(value)
      if (last.test(value)) return got
    }
  }

  end(): Promise<unknown> {
    this.child.stdin.end()
    return new Promise((resolve) => this.child.once('exit', resolve))
  }
}

const OUTCOME = /^(ACQUIRED|LOCKED|ERROR)/

/** Has every racer try at once; answers each one's lines. Winners hold on until `releaseAll`. */
function race(racers: Racer[], command: string): Promise<string[][]> {
  for (const racer of racers) racer.send(command)
  return Promise.all(racers.map((racer) => racer.until(OUTCOME)))
}

async function releaseAll(racers: Racer[]): Promise<void> {
  for (const racer of racers) racer.send('release')
  await Promise.all(racers.map((racer) => racer.until(/^released$/)))
}

/** The pid of a process that has run and exited, as a crashed writer's would be. */
function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  return new Promise((resolve) => child.once('exit', () => resolve(child.pid as number)))
}

const holderOf = (pid: number, host = os.hostname()) =>
  JSON.stringify({ pid, host, since: '2026-03-10T11:00:00.000Z' })

describe('ledger lock', () => {
  const dirs: string[] = []
  let racers: Racer[] = []
  let crashed = 0

  beforeAll(async () => {
    crashed = await deadPid()
  })

  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  afterAll(async () => {
    await Promise.all(racers.map((racer) => racer.end()))
  })

  async function startRacers(): Promise<Racer[]> {
    if (racers.length === 0) {
      racers = Array.from({ length: RACERS }, () => new Racer())
      await Promise.all(racers.map((racer) => racer.until(/^ready$/)))
    }
    return racers
  }

  function newDir(prefix: string): string {
    const dir = tempDir(prefix)
    dirs.push(dir)
    return dir
  }

  it(`lets exactly one of ${RACERS} processes take a stale or empty lock, in each of ${LOCK_ROUNDS} rounds`, async () => {
    const dir = newDir('lethe-lock-')
    const file = path.join(dir, 'ledger.lock')
    const contenders = await startRacers()
    for (let round = 0; round < LOCK_ROUNDS; round++) {
      const left = round % 2 === 0 ? holderOf(crashed) : '' // a crashed writer's lock, or one torn by a crash
      writeFileSync(file, left)
      const outcomes = (await race(contenders, `lock ${file}`)).map((lines) => lines.at(-1))
      const holder = JSON.parse(readFileSync(file, 'utf8')) as { pid: number }
      await releaseAll(contenders)
      expect(outcomes.sort(), `round ${round} over ${left ? 'a stale' : 'an empty'} lock`).toEqual([
        'ACQUIRED',
        'LOCKED',
        'LOCKED',
        'LOCKED',
      ])
      expect(contenders.map((racer) => racer.pid)).toContain(holder.pid)
      // The holder removed its lock; no takeover marker or temp file is left behind.
      expect(readdirSync(dir), `round ${round}`).toEqual([])
    }
  }, 60_000)

  it(`keeps one writer and a verifying chain when ${RACERS} processes open a ledger over a stale lock`, async () => {
    const dataDir = newDir('lethe-lock-ledger-')
    const contenders = await startRacers()
    const acknowledged: string[] = []
    for (let round = 0; round < LEDGER_ROUNDS; round++) {
      writeFileSync(Ledger.paths(dataDir).lock, holderOf(crashed))
      const answers = await race(contenders, `ledger ${dataDir}`)
      await releaseAll(contenders)
      const outcomes = answers.map((lines) => lines.at(-1)).sort()
      expect(outcomes, `round ${round}`).toEqual(['ACQUIRED', 'LOCKED', 'LOCKED', 'LOCKED'])
      for (const line of answers.flat()) if (line.startsWith('ack ')) acknowledged.push(line.slice(4))

      const ledger = await Ledger.open(dataDir, { now: clock(), keyProtector: testKeys })
      try {
        const report = await verifyLedger(ledger)
        expect(report.firstBad).toBeNull()
        expect(report.stateMismatches).toEqual([])
        expect(new Set(acknowledged).size, 'every acknowledged id is a different request').toBe(
          acknowledged.length,
        )
        for (const id of acknowledged)
          expect(ledger.state.requests.has(id), `${id} was acknowledged`).toBe(true)
      } finally {
        await ledger.close()
      }
    }
    expect(acknowledged.length).toBeGreaterThan(0)
  }, 60_000)

  it('refuses a live holder by name, and release() leaves a lock another process now holds', async () => {
    const dir = newDir('lethe-lock-release-')
    const file = path.join(dir, 'ledger.lock')
    const [other] = (await startRacers()) as [Racer]
    const ours = LedgerLock.acquire(file)
    rmSync(file) // say, removed by hand or by an older Lethe, and then taken by another process
    other.send(`lock ${file}`)
    expect(await other.until(OUTCOME)).toEqual(['ACQUIRED'])
    try {
      ours.release()
      expect(existsSync(file)).toBe(true)
      expect(() => LedgerLock.acquire(file)).toThrow(
        expect.objectContaining({ code: 'LOCKED', message: expect.stringContaining(`pid ${other.pid}`) }),
      )
    } finally {
      other.send('release')
      await other.until(/^released$/)
    }
    expect(existsSync(file)).toBe(false)
  })

  it('refuses a lock held on another host, whatever its pid', () => {
    const file = path.join(newDir('lethe-lock-host-'), 'ledger.lock')
    writeFileSync(file, holderOf(crashed, 'another-host'))
    expect(() => LedgerLock.acquire(file)).toThrow(
      expect.objectContaining({ code: 'LOCKED', details: expect.objectContaining({ host: 'another-host' }) }),
    )
    expect(readFileSync(file, 'utf8')).toBe(holderOf(crashed, 'another-host'))
  })

  describe('a takeover left unfinished', () => {
    /** The marker a process leaves while replacing the stale lock `file`: named after its inode and content. */
    function takeoverMarker(file: string): string {
      const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)
      return `${file}.takeover-${statSync(file, { bigint: true }).ino}-${hash}-0`
    }

    it('by a process that crashed does not block the next writer, and is cleared', () => {
      const dir = newDir('lethe-lock-marker-')
      const file = path.join(dir, 'ledger.lock')
      writeFileSync(file, holderOf(crashed))
      writeFileSync(takeoverMarker(file), holderOf(crashed))
      const lock = LedgerLock.acquire(file)
      expect(readdirSync(dir)).toEqual(['ledger.lock'])
      lock.release()
      expect(readdirSync(dir)).toEqual([])
    })

    it('by a process that still runs is refused, naming that process', async () => {
      const dir = newDir('lethe-lock-marker-')
      const file = path.join(dir, 'ledger.lock')
      const [taker] = (await startRacers()) as [Racer]
      writeFileSync(file, holderOf(crashed))
      writeFileSync(takeoverMarker(file), holderOf(taker.pid))
      expect(() => LedgerLock.acquire(file)).toThrow(
        expect.objectContaining({ code: 'LOCKED', message: expect.stringContaining(`pid ${taker.pid}`) }),
      )
      expect(readFileSync(file, 'utf8')).toBe(holderOf(crashed))
    })
  })
})
