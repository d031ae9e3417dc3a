/** Running one contract method from the command line: services up, dispatch, print, services down. */
import type { Command } from 'commander'
import { toErrorPayload, type ErrorPayload, type Input, type MethodName, type Output } from '../contract'
import { dispatch } from '../contract/dispatch'
import { workerThreadChannel } from '../engine/host'
import { resolveDataDir } from '../host/paths'
import { createServices } from '../host/services'

export interface CommonOptions {
  json?: boolean
  dataDir?: string
}

/** Exit status per error: 2 for what the caller got wrong, 1 for everything else. */
const exitCode = (error: ErrorPayload): number =>
  ['BAD_INPUT', 'UNKNOWN_METHOD', 'NOT_FOUND', 'CONFLICT'].includes(error.code) ? 2 : 1

export function reportError(error: ErrorPayload, json: boolean | undefined): number {
  if (json) {
    process.stderr.write(`${JSON.stringify({ ok: false, error })}\n`)
  } else {
    process.stderr.write(`lethe: ${error.code}: ${error.message}\n`)
    const rows = (
      error.details as { errors?: { line: number; column: string; reason: string }[] } | undefined
    )?.errors
    for (const row of rows?.slice(0, 50) ?? [])
      process.stderr.write(`  line ${row.line}, ${row.column}: ${row.reason}\n`)
  }
  return exitCode(error)
}

/** What a command does with a method's value besides printing it. */
export interface Outcome<M extends MethodName, R> {
  /** Saves the value (to --out) before anything is printed, in both modes; its answer is what is printed. */
  save?: (value: Output<M>) => R
  /** The exit status of a value that is not an error. */
  status?: (result: R) => number
}

/**
 * Runs a method through the same dispatch as IPC and the bridge. Commands that only read
 * open the ledger read-only, so they work while the app holds the writer's lock.
 */
export async function run<M extends MethodName, R = Output<M>>(
  method: M,
  input: Input<M>,
  options: CommonOptions & { writes?: boolean },
  human: (result: R) => string,
  { save = (value) => value as R, status = () => 0 }: Outcome<M, R> = {},
): Promise<number> {
  return withServices(options, Boolean(options.writes), async ({ handlers }) => {
    const answer = await dispatch(handlers, method, input, { transport: 'cli' })
    if (!answer.ok) return reportError(answer.error, options.json)
    const result = save(answer.value as Output<M>)
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${human(result)}\n`)
    return status(result)
  })
}

/** Services up for one command, down after it; any throw becomes the typed error and a status. */
async function withServices(
  options: CommonOptions,
  writes: boolean,
  task: (services: ReturnType<typeof createServices>) => Promise<number>,
): Promise<number> {
  let services: ReturnType<typeof createServices> | undefined
  try {
    services = createServices({
      dataDir: resolveDataDir(options.dataDir),
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      ledger: { readOnly: !writes },
    })
    return await task(services)
  } catch (error) {
    return reportError(toErrorPayload(error), options.json)
  } finally {
    await services?.close()
  }
}

/**
 * Starts a job (training, unlearning), shows its progress on stderr, waits for it to end
 * and prints its result. Ctrl+C cancels it.
 */
export async function runJob<M extends 'models.train' | 'unlearn.start'>(
  method: M,
  input: Input<M>,
  options: CommonOptions,
  human: (result: unknown) => string,
): Promise<number> {
  return withServices(options, true, async ({ handlers, events }) => {
    const started = await dispatch(handlers, method, input, { transport: 'cli' })
    if (!started.ok) return reportError(started.error, options.json)
    const { jobId } = started.value as { jobId: string }
    const live = process.stderr.isTTY
    events.subscribe((event) => {
      if (live && event.name === 'job.progress' && event.payload.jobId === jobId) {
        const percent = event.payload.fraction === null ? '' : `${Math.round(event.payload.fraction * 100)}% `
        process.stderr.write(`\r${percent}${event.payload.message}\x1b[K`)
      }
    })
    const cancel = () => void dispatch(handlers, 'jobs.cancel', { jobId }, { transport: 'cli' })
    process.once('SIGINT', cancel)
    try {
      for (;;) {
        const status = await dispatch(handlers, 'jobs.get', { jobId }, { transport: 'cli' })
        if (!status.ok) return reportError(status.error, options.json)
        const job = status.value as Output<'jobs.get'>
        if (job.state === 'running') {
          await new Promise((resolve) => setTimeout(resolve, 100))
          continue
        }
        if (live) process.stderr.write('\r\x1b[K')
        if (job.state !== 'succeeded') {
          const error = job.error ?? { code: 'CANCELLED', message: 'The job was cancelled.' }
          return reportError(
            { code: error.code as ErrorPayload['code'], message: error.message },
            options.json,
          )
        }
        process.stdout.write(
          options.json ? `${JSON.stringify(job.result, null, 2)}\n` : `${human(job.result)}\n`,
        )
        return 0
      }
    } finally {
      process.off('SIGINT', cancel)
    }
  })
}

export function common(command: Command): Command {
  return command
    .option('--json', 'print one JSON document on stdout')
    .option('--data-dir <dir>', 'data folder (default: $LETHE_DATA_DIR, else the app data folder)')
}

/** Sets the exit status from a command's result. */
export const exit = async (status: Promise<number>): Promise<void> => {
  process.exitCode = await status
}
