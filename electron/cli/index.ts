#!/usr/bin/env node
/**
 * The headless CLI over the same contract and services: `lethe <command>`. Every command
 * takes --json, --data-dir and --help; errors go to stderr with their typed code and a
 * non-zero exit status.
 */
import { Command } from 'commander'
import { version } from '../../package.json'
import { formatInfo } from './format'
import { registerCertificateCommands } from './certificates'
import { registerEngineCommands } from './engine'
import { registerLedgerCommands } from './ledger'
import { common, exit, run, type CommonOptions } from './run'

export function buildProgram(): Command {
  const program = new Command('lethe')
    .description(
      'Lethe: right-to-be-forgotten requests, machine unlearning and signed certificates, offline.',
    )
    .version(version)
    .showHelpAfterError()
    // A usage mistake (unknown option, missing argument) is the caller's: status 2, as elsewhere.
    .exitOverride((error) => process.exit(error.exitCode === 1 ? 2 : error.exitCode))

  common(program.command('info'))
    .description('version, data folder and the compute backends the engine can see')
    .action((options: CommonOptions) => exit(run('system.info', {}, options, formatInfo)))

  registerLedgerCommands(program)
  registerEngineCommands(program)
  registerCertificateCommands(program)
  return program
}

await buildProgram().parseAsync(process.argv)
