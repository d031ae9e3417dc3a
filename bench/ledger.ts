/**
 * `npm run bench:ledger`: the request ledger at scale. For each size it fills a fresh ledger
 * in a temp folder with N requests and about ten audit events each (batched, straight
 * through the store), then measures what a user waits for: single creates and transitions
 * through the Ledger API, each awaited alone, and a cold read-only open in a fresh process.
 * Checked against the targets: an append's median and p95 under 20 ms, a cold load under 2 s.
 *
 *   npx tsx bench/ledger.ts [--sizes 1000,10000] [--json]
 *
 * The appends and the cold loads run in child processes (this file with --child), so the
 * heap left over from the fill neither helps nor hinders them.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { addDays, daysBetween } from '../electron/ledger/deadlines'
import { Ledger } from '../electron/ledger/ledger'
import type { EventPayloads, EventType, RequestRecord } from '../electron/ledger/state'
import type { NewEvent } from '../electron/ledger/store'
import { requestInput, testKeys, type RequestInput } from '../tests/support/ledger'

const DEFAULT_SIZES = [10_000, 100_000]
const SAMPLES = 200
const COLD_RUNS = 3
const SEGMENT_EVENTS = 512 // the store's default segment size
const CREATES_PER_CALL = 50
const FLUSH_EVERY_ROUNDS = 20
const TARGET_APPEND_MS = 20
const TARGET_COLD_LOAD_MS = 2000

const here = fileURLToPath(import.meta.url)
const repoRoot = path.resolve(path.dirname(here), '..')

// ── data ────────────────────────────────────────────────────────────────────────────────

/** A small seeded PRNG (mulberry32), so every run fills the same ledger. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FIRST = [
  'Jane',
  'Ana',
  'Lucas',
  'Mei',
  'Oluwaseun',
  'Søren',
  'Chloé',
  'Mateus',
  'Priya',
  'Tomasz',
  'Aiko',
  'Fatima',
  'Liam',
  'Noor',
  'Giulia',
  'Kwame',
  'Elif',
  'Diego',
  'Hannah',
  'Yusuf',
  'Zoë',
  'Ravi',
  'Ingrid',
  'Carlos',
]
const LAST = [
  'Doe',
  'Silva',
  'Müller',
  'Nakamura',
  'Okafor',
  'Nielsen',
  'Dubois',
  'Santos',
  'Sharma',
  'Kowalski',
  'Tanaka',
  'Haddad',
  'Murphy',
  'Rahman',
  'Rossi',
  'Mensah',
  'Yılmaz',
  'García',
  'Schmidt',
  'Öztürk',
  'Van der Berg',
  'Iyer',
  'Johansson',
  "O'Neill",
]
const DOMAINS = [
  'example.com',
  'mail.example.org',
  'example.net',
  'post.example.de',
  'example.co.uk',
  'example.com.br',
]
const TEAM = ['a.lindqvist', 'b.okoro', 'c.ferreira', 'd.kim', 'e.novak', 'f.haas', 'g.moreau', 'h.reyes']
const CHANNELS = ['email', 'web-form', 'phone', 'post', 'in-person', 'dsar-tool', 'other'] as const
const METHODS = [
  'email-confirmation',
  'account-login',
  'id-document',
  'knowledge-based-questions',
  'signed-letter',
]
const NOTES = [
  'Requester asks for all marketing data to be erased as well.',
  'Called back to confirm the account number; requester prefers e-mail replies.',
  'Duplicate of an earlier web-form request? Checked: different account, keep both.',
  'Requester withdrew consent for profiling; erasure covers the recommendation model training set.',
  'Letter received with a copy of the ID card; scanned and attached, original returned by post.',
  'Asked for confirmation in Portuguese.',
]
const GROUNDS = [
  'Art. 17(1)(b): consent withdrawn',
  'Art. 17(1)(a): no longer necessary',
  'Art. 17(1)(c): objection to processing',
  'Art. 17(1)(d): unlawfully processed',
]
const EXEMPTIONS = ['GDPR Art. 17(3)(b)', 'GDPR Art. 17(3)(e)', 'CCPA § 1798.105(d)(1)']

/** Plain ASCII for an e-mail local part. */
const ascii = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase()

function makeInput(random: () => number, i: number, received: string): RequestInput {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  const first = pick(FIRST)
  const last = pick(LAST)
  const hasEmail = random() < 0.9
  const email = `${ascii(first)}.${ascii(last)}${i}@${pick(DOMAINS)}`
  const u = random()
  const jurisdiction =
    u < 0.45 ? 'gdpr' : u < 0.6 ? 'uk-gdpr' : u < 0.85 ? 'ccpa' : u < 0.95 ? 'lgpd' : 'other'
  const subjectIds: RequestInput['subjectIds'] = [{ type: 'customer-id', value: `C-${100000 + i}` }]
  if (hasEmail && random() < 0.5) subjectIds.push({ type: 'email', value: email })
  if (random() < 0.3) subjectIds.push({ type: 'device-id', value: `dev-${(i * 2654435761) % 4294967296}` })
  if (random() < 0.15)
    subjectIds.push({ type: 'phone', value: `+44 20 7946 ${String(i % 10000).padStart(4, '0')}` })
  return requestInput({
    requester: {
      name: `${first} ${last}`,
      ...(hasEmail ? { email } : { otherContact: `+1 555 01${String(i % 100).padStart(2, '0')} (evenings)` }),
    },
    subjectIds,
    jurisdiction,
    channel: pick(CHANNELS),
    received,
    ...(jurisdiction === 'gdpr' && random() < 0.4 ? { ground: pick(GROUNDS) } : {}),
    ...(random() < 0.8 ? { note: pick(NOTES) } : {}),
  })
}

const event = <T extends EventType>(type: T, requestId: string, payload: EventPayloads[T]): NewEvent =>
  ({ type, requestId, payload }) as NewEvent

/**
 * The rest of a request's life after its creation, as events in order: assignment,
 * acknowledgement, identity check, a refused shortcut, work, an extension or a model link,
 * and the outcome. Stops at the first step dated after today (the request is still open).
 */
function lifecycle(random: () => number, record: RequestRecord, today: string): NewEvent[] {
  const id = record.id
  const out: NewEvent[] = []
  let day = record.received
  const step = (min: number, max: number) => {
    day = addDays(day, min + Math.floor(random() * (max - min + 1)))
    return day <= today
  }
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  if (!step(0, 1)) return out
  out.push(event('request.updated', id, { changes: { assignee: pick(TEAM) } }))
  if (!step(0, 4)) return out
  out.push(event('request.acknowledged', id, { on: day }))
  if (!step(1, 8)) return out
  const method = pick(METHODS)
  out.push(
    event('request.transitioned', id, {
      from: 'received',
      to: 'identity-verified',
      on: day,
      reason: null,
      method,
      exemption: null,
    }),
  )
  out.push(
    event('request.refused', id, {
      action: 'transition',
      from: 'identity-verified',
      to: 'completed',
      reason: `${id} cannot move from identity-verified to completed; from identity-verified it can move to: in-progress, rejected, on-hold.`,
    }),
  )
  if (!step(0, 5)) return out
  if (random() < 0.08) {
    const exemption = pick(EXEMPTIONS)
    const reason = 'The data is needed to comply with a legal obligation (tax records, 10 years).'
    out.push(
      event('request.transitioned', id, {
        from: 'identity-verified',
        to: 'rejected',
        on: day,
        reason,
        method: null,
        exemption,
      }),
    )
    return out
  }
  out.push(
    event('request.transitioned', id, {
      from: 'identity-verified',
      to: 'in-progress',
      on: day,
      reason: null,
      method: null,
      exemption: null,
    }),
  )
  const { extensionNoticeBy, extendedDueDate } = record.deadlines
  let due = record.deadlines.dueDate
  if (extensionNoticeBy && extendedDueDate && random() < 0.2 && day <= extensionNoticeBy) {
    const reason =
      'Records are spread over several archived training sets; more time is needed to locate them.'
    out.push(event('request.extended', id, { reason, noticeDate: day, dueDate: extendedDueDate }))
    due = extendedDueDate
  } else {
    out.push(
      event('request.linked', id, {
        kind: 'models',
        target: `model-recsys-v${1 + Math.floor(random() * 6)}`,
      }),
    )
  }
  if (!step(1, 6)) return out
  out.push(
    event('request.linked', id, {
      kind: 'runs',
      target: `run-${id.toLowerCase()}-${Math.floor(random() * 1000)}`,
    }),
  )
  // Most finish before the due date; a few run late.
  const left = Math.max(1, daysBetween(day, due))
  if (!step(1, random() < 0.05 ? left + 10 : left)) return out
  out.push(
    event('request.transitioned', id, {
      from: 'in-progress',
      to: 'completed',
      on: day,
      reason: null,
      method: null,
      exemption: null,
    }),
  )
  out.push(event('request.linked', id, { kind: 'certificates', target: `cert-${id.toLowerCase()}` }))
  return out
}

// ── fill ────────────────────────────────────────────────────────────────────────────────

/** Events the current segment can still take before the store starts a new one. */
function room(ledger: Ledger): number {
  const last = ledger.storage.segmentFiles.at(-1)
  const first = Number(/events-(\d+)\.json$/.exec(last ?? '')?.[1] ?? 1)
  const used = ledger.state.seq - first + 1
  return used >= SEGMENT_EVENTS ? SEGMENT_EVENTS : SEGMENT_EVENTS - used
}

interface FillResult {
  seconds: number
  events: number
  appends: number
}

async function fill(dataDir: string, n: number, log: (line: string) => void): Promise<FillResult> {
  // No timed flush while filling: the batches below go to the store directly, outside the
  // ledger's queue, so the projection is flushed here, between them.
  const ledger = await Ledger.open(dataDir, { flushDelayMs: 24 * 3600 * 1000, keyProtector: testKeys })
  const random = rng(n)
  const today = ledger.today()
  const started = performance.now()
  const due = new Map<number, NewEvent[]>()
  let created = 0
  let appends = 0
  let round = 0
  let nextReport = Math.max(1, Math.floor(n / 10))

  const appendAll = async (events: NewEvent[]) => {
    while (events.length > 0) {
      const batch = events.splice(0, room(ledger))
      await ledger.storage.append(TEAM[appends % TEAM.length] as string, batch)
      appends += 1
    }
  }

  while (created < n || due.size > 0) {
    if (created < n) {
      // Received dates run over the past year in creation order, some entered a few days late.
      let space = room(ledger)
      const inputs: RequestInput[] = []
      while (inputs.length < CREATES_PER_CALL && created + inputs.length < n) {
        const i = created + inputs.length
        const back = Math.max(0, Math.floor(364 - (i * 365) / n) + Math.floor(random() * 4))
        const input = makeInput(random, i + 1, addDays(today, -Math.min(364, back)))
        const size = input.note ? 2 : 1
        if (size > space) {
          if (inputs.length > 0) break
          delete input.note // the segment has room for one event: this request comes without a note
        }
        inputs.push(input)
        space -= input.note ? 2 : 1
      }
      const ids = await ledger.create(inputs, TEAM[appends % TEAM.length] as string)
      appends += 1
      created += ids.length
      for (const id of ids) {
        // Each later step lands one to three rounds after the one before: requests interleave.
        let at = round
        for (const e of lifecycle(random, ledger.state.requests.get(id) as RequestRecord, today)) {
          at += 1 + Math.floor(random() * 3)
          let list = due.get(at)
          if (!list) due.set(at, (list = []))
          list.push(e)
        }
      }
    }
    const now = due.get(round)
    due.delete(round)
    if (now) await appendAll(now)
    round += 1
    if (round % FLUSH_EVERY_ROUNDS === 0) await ledger.storage.flush()
    if (created >= nextReport) {
      while (nextReport <= created) nextReport += Math.max(1, Math.floor(n / 10))
      const pct = Math.round((created / n) * 100)
      log(
        `fill ${n}: ${pct}% (${created} requests, ${ledger.state.seq} events) ${((performance.now() - started) / 1000).toFixed(1)} s`,
      )
    }
  }
  await ledger.close()
  const seconds = (performance.now() - started) / 1000
  return { seconds, events: ledger.state.seq, appends }
}

// ── children ──────────────────────────────────────────────────────────────────────────

interface Stats {
  median: number
  p95: number
  max: number
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number
  const round = (x: number) => Math.round(x * 100) / 100
  return { median: round(rank(0.5)), p95: round(rank(0.95)), max: round(sorted.at(-1) ?? 0) }
}

interface AppendResult {
  openMs: number
  create: Stats
  transition: Stats
  flushMs: number
}

/** In a fresh process: the app's open ledger, then one click after another. */
async function childAppend(dataDir: string): Promise<AppendResult> {
  let t = performance.now()
  const ledger = await Ledger.open(dataDir, { keyProtector: testKeys })
  const openMs = performance.now() - t
  const random = rng(7)
  const today = ledger.today()
  const base = ledger.state.requests.size
  const creates: number[] = []
  const ids: string[] = []
  for (let i = 0; i < SAMPLES; i++) {
    const input = makeInput(random, base + i + 1, addDays(today, -Math.floor(random() * 5)))
    t = performance.now()
    const [id] = await ledger.create([input], 'a.lindqvist')
    creates.push(performance.now() - t)
    ids.push(id as string)
  }
  const transitions: number[] = []
  for (const id of ids) {
    t = performance.now()
    await ledger.transition({ id, to: 'identity-verified', method: 'email-confirmation' }, 'b.okoro')
    transitions.push(performance.now() - t)
  }
  // The projection write that follows the clicks (after flushDelayMs): a click arriving
  // meanwhile waits for it in the ledger's queue.
  t = performance.now()
  await ledger.exclusive(async () => undefined)
  const flushMs = performance.now() - t
  await ledger.close()
  return { openMs, create: stats(creates), transition: stats(transitions), flushMs }
}

interface LoadResult {
  openMs: number
  summaryMs: number
  requests: number
  events: number
  maxRssMiB: number
}

async function childLoad(dataDir: string): Promise<LoadResult> {
  let t = performance.now()
  const ledger = await Ledger.open(dataDir, { readOnly: true })
  const openMs = performance.now() - t
  t = performance.now()
  ledger.summary()
  const summaryMs = performance.now() - t
  const maxRssMiB = process.resourceUsage().maxRSS / 1024
  return { openMs, summaryMs, requests: ledger.state.requests.size, events: ledger.state.seq, maxRssMiB }
}

/** Runs this file in a fresh Node process in a child mode; its result is its last stdout line. */
function runChild<T>(mode: string, dataDir: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', here, '--child', mode, '--dir', dataDir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? ''
      if (code !== 0) return reject(new Error(`bench child ${mode} exited with ${code}: ${out}`))
      try {
        resolve(JSON.parse(last) as T)
      } catch {
        reject(new Error(`bench child ${mode} printed no result: ${out}`))
      }
    })
  })
}

// ── disk ──────────────────────────────────────────────────────────────────────────────

async function folderBytes(folder: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0
  let files = 0
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name)
    if (entry.isDirectory()) {
      const sub = await folderBytes(full)
      bytes += sub.bytes
      files += sub.files
    } else if (entry.isFile()) {
      bytes += (await stat(full)).size
      files += 1
    }
  }
  return { bytes, files }
}

// ── main ──────────────────────────────────────────────────────────────────────────────

interface SizeResult {
  requests: number
  fill: FillResult & { eventsPerRequest: number }
  append: AppendResult
  coldLoad: {
    runs: LoadResult[]
    openMs: { min: number; median: number }
    openAndSummaryMs: { min: number; median: number }
    maxRssMiB: number
  }
  disk: {
    ledgerBytes: number
    eventsBytes: number
    stateBytes: number
    personalBytes: number
    segmentFiles: number
  }
}

interface Check {
  size: number
  name: string
  limit: number
  measured: number
  pass: boolean
}

const minMedian = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const round = (x: number) => Math.round(x * 10) / 10
  return { min: round(sorted[0] ?? 0), median: round(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0) }
}

async function benchSize(n: number, log: (line: string) => void): Promise<SizeResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `lethe-bench-ledger-${n}-`))
  try {
    const filled = await fill(dataDir, n, log)
    log(
      `fill ${n}: done, ${filled.events} events in ${filled.appends} appends, ${filled.seconds.toFixed(1)} s`,
    )
    log(`appends ${n}: ${SAMPLES} creates and ${SAMPLES} transitions in a fresh process`)
    const append = await runChild<AppendResult>('append', dataDir)
    const runs: LoadResult[] = []
    for (let i = 0; i < COLD_RUNS; i++) {
      log(`cold load ${n}: run ${i + 1} of ${COLD_RUNS}`)
      runs.push(await runChild<LoadResult>('load', dataDir))
    }
    const root = Ledger.paths(dataDir).root
    const part = async (name: string) => (await folderBytes(path.join(root, name))).bytes
    const segmentFiles = (await readdir(path.join(root, 'events'))).filter((f) =>
      /^events-\d+\.json$/.test(f),
    ).length
    return {
      requests: n,
      fill: {
        ...filled,
        seconds: Math.round(filled.seconds * 10) / 10,
        eventsPerRequest: Math.round((filled.events / n) * 10) / 10,
      },
      append,
      coldLoad: {
        runs,
        openMs: minMedian(runs.map((r) => r.openMs)),
        openAndSummaryMs: minMedian(runs.map((r) => r.openMs + r.summaryMs)),
        maxRssMiB: Math.round(Math.max(...runs.map((r) => r.maxRssMiB))),
      },
      disk: {
        ledgerBytes: (await folderBytes(root)).bytes,
        eventsBytes: await part('events'),
        stateBytes: await part('state'),
        personalBytes: await part('personal'),
        segmentFiles,
      },
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

function checksOf(r: SizeResult): Check[] {
  const check = (name: string, limit: number, measured: number): Check => ({
    size: r.requests,
    name,
    limit,
    measured,
    pass: measured < limit,
  })
  return [
    check('create median', TARGET_APPEND_MS, r.append.create.median),
    check('create p95', TARGET_APPEND_MS, r.append.create.p95),
    check('transition median', TARGET_APPEND_MS, r.append.transition.median),
    check('transition p95', TARGET_APPEND_MS, r.append.transition.p95),
    check('cold load (open + summary, median)', TARGET_COLD_LOAD_MS, r.coldLoad.openAndSummaryMs.median),
  ]
}

const MiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const ms = (s: Stats) => `median ${s.median} ms, p95 ${s.p95} ms, max ${s.max} ms`

function print(results: SizeResult[], checks: Check[]): void {
  console.log(`Ledger at scale (${SAMPLES} single appends each, ${COLD_RUNS} cold loads in fresh processes)`)
  for (const r of results) {
    console.log(`\n${r.requests.toLocaleString('en')} requests`)
    console.log(
      `  fill          ${r.fill.events} events (${r.fill.eventsPerRequest}/request) in ${r.fill.appends} appends, ${r.fill.seconds} s`,
    )
    console.log(
      `  disk          ${MiB(r.disk.ledgerBytes)} (${r.disk.ledgerBytes} bytes): events ${MiB(r.disk.eventsBytes)} in ${r.disk.segmentFiles} segments, projection ${MiB(r.disk.stateBytes)}, personal ${MiB(r.disk.personalBytes)}`,
    )
    console.log(`  create        ${ms(r.append.create)}`)
    console.log(`  transition    ${ms(r.append.transition)}`)
    console.log(
      `  flush         ${r.append.flushMs.toFixed(1)} ms (projection write after the clicks); writable open ${r.append.openMs.toFixed(0)} ms`,
    )
    const c = r.coldLoad
    console.log(
      `  cold load     open ${c.openMs.min} ms min, ${c.openMs.median} ms median; open + summary ${c.openAndSummaryMs.min} ms min, ${c.openAndSummaryMs.median} ms median; peak RSS ${c.maxRssMiB} MiB`,
    )
  }
  console.log('')
  for (const c of checks) {
    const unit = 'ms'
    console.log(
      `target ${c.size.toLocaleString('en')} ${c.name} < ${c.limit} ${unit}: ${c.measured} ${unit} (${c.pass ? 'ok' : 'ABOVE TARGET'})`,
    )
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
      dir: { type: 'string' },
    },
  })
  if (values.child) {
    if (!values.dir) throw new Error('--child needs --dir')
    const result = values.child === 'append' ? await childAppend(values.dir) : await childLoad(values.dir)
    console.log(JSON.stringify(result))
    return
  }
  const sizes = values.sizes ? values.sizes.split(',').map((s) => Number(s.replace(/_/g, ''))) : DEFAULT_SIZES
  if (sizes.some((s) => !Number.isSafeInteger(s) || s < 1))
    throw new Error(`--sizes takes whole numbers, e.g. 1000,10000`)
  const log = (line: string) => process.stderr.write(`${line}\n`)
  const results: SizeResult[] = []
  for (const n of sizes) results.push(await benchSize(n, log))
  const checks = results.flatMap(checksOf)
  if (values.json)
    console.log(
      JSON.stringify(
        {
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
          cpus: os.cpus().length,
          results,
          checks,
        },
        null,
        2,
      ),
    )
  else print(results, checks)
  process.exitCode = checks.some((c) => !c.pass) ? 1 : 0
}

await main()
