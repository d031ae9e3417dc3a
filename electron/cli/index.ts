#!/usr/bin/env node
/**
 * The headless CLI over the same contract and services: `lethe <command>`. Every command
 * takes --json, --data-dir and --help; errors go to stderr with their typed code and a
 * non-zero exit status.
 */
import { Command } from 'commander'
import { version } from '../../package.json'
import { toErrorPayload, type ErrorPayload, type Input, type MethodName, type Output } from '../contract'
import { dispatch } from '../contract/dispatch'
import { workerThreadChannel } from '../engine/host'
import { resolveDataDir } from '../host/paths'
import { createServices } from '../host/services'
import { formatInfo } from './format'

interface CommonOptions {
  json?: boolean
  dataDir?: string
}

/** Exit status per error: 2 for what the caller got wrong, 1 for everything else. */
const exitCode = (error: ErrorPayload): number =>
  ['BAD_INPUT', 'UNKNOWN_METHOD', 'NOT_FOUND', 'CONFLICT'].includes(error.code) ? 2 : 1

function reportError(error: ErrorPayload, json: boolean | undefined): number {
  if (json) process.stderr.write(`${JSON.stringify({ ok: false, error })}\n`)
  else process.stderr.write(`lethe: ${error.code}: ${error.message}\n`)
  return exitCode(error)
}

/** Runs one contract method through the same dispatch as IPC and the bridge, and prints it. */
async function run<M extends MethodName>(
  method: M,
  input: Input<M>,
  options: CommonOptions,
  human: (value: Output<M>) => string,
): Promise<number> {
  let services: ReturnType<typeof createServices> | undefined
  try {
    services = createServices({
      dataDir: resolveDataDir(options.dataDir),
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
    })
    const result = await dispatch(services.handlers, method, input, { transport: 'cli' })
    if (!result.ok) return reportError(result.error, options.json)
    const value = result.value as Output<M>
    process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`)
    return 0
  } catch (error) {
    return reportError(toErrorPayload(error), options.json)
  } finally {
    await services?.close()
  }
}

function common(command: Command): Command {
  return command
    .option('--json', 'print one JSON document on stdout')
    .option('--data-dir <dir>', 'data folder (default: $LETHE_DATA_DIR, else the app data folder)')
}

export function buildProgram(): Command {
  const program = new Command('lethe')
    .description(
      'Lethe: right-to-be-forgotten requests, machine unlearning and signed certificates, offline.',
    )
    .version(version)
    .showHelpAfterError()

  common(program.command('info'))
    .description('version, data folder and the compute backends the engine can see')
    .action(async (options: CommonOptions) => {
      process.exitCode = await run('system.info', {}, options, formatInfo)
    })

  return program
}

await buildProgram().parseAsync(process.argv)
