/**
 * The composition of all plain-Node services, shared by the three hosts: the Electron main
 * process, browser mode and the CLI. Each host brings its own way to start the engine.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { version } from '../../package.json'
import { ledgerPins } from '../certificates/pins'
import { certificateService } from '../certificates/service'
import { LetheError } from '../contract'
import type { Handlers } from '../contract/dispatch'
import type { SystemInfo } from '../contract/system'
import type { EngineChannel } from '../engine/protocol'
import { EngineHost } from '../engine/host'
import { EngineService } from '../engine/service'
import { LedgerService } from '../ledger/service'
import type { LedgerOptions } from '../ledger/ledger'
import { systemService } from '../system/service'
import { passphraseProtector, type KeyProtector } from '../lib/key-protector'
import { EventHub } from './events'

export interface LetheServices {
  handlers: Handlers
  events: EventHub
  dataDir: string
  ledger: LedgerService
  close(): Promise<void>
}

export interface ServiceOptions {
  dataDir: string
  host: SystemInfo['host']
  spawnEngine: () => EngineChannel
  /** The CLI opens the ledger read-only for commands that only read. */
  ledger?: LedgerOptions
  /** How the organisation's private keys are sealed: safeStorage in the app, else LETHE_KEY_PASSPHRASE. */
  keyProtector?: () => Promise<KeyProtector>
}

/** Outside the app, the organisation keys are sealed with a passphrase from the environment. */
export async function environmentPassphrase(): Promise<KeyProtector> {
  const passphrase = process.env.LETHE_KEY_PASSPHRASE
  if (!passphrase) {
    throw new LetheError(
      'BAD_INPUT',
      'Set LETHE_KEY_PASSPHRASE to the passphrase that protects the organisation keys (at least 8 characters).',
    )
  }
  return passphraseProtector(passphrase)
}

/** Fonts and demo data: beside the sources, and beside the bundle (two folders up from either). */
const resources = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../resources')

export function createServices({
  dataDir,
  host,
  spawnEngine,
  ledger: ledgerOptions,
  keyProtector = environmentPassphrase,
}: ServiceOptions): LetheServices {
  const events = new EventHub()
  const engine = new EngineHost(spawnEngine, (event) => events.publish(event))
  const ledger = new LedgerService(dataDir, { ...ledgerOptions, keyProtector }, () => ledgerPins(dataDir))
  const system = systemService({ version, dataDir, host, engine })
  const handlers: Handlers = {
    ...system.handlers,
    ...ledger.handlers(),
    ...new EngineService(
      dataDir,
      engine,
      ledger,
      events,
      system.backendChoice,
      path.join(resources, 'datasets'),
      system.certificationDefaults,
    ).handlers(),
    ...certificateService({
      dataDir,
      ledger,
      keyProtector,
      fontsDir: path.join(resources, 'fonts'),
      holdingRows: (requestId, context) => handlers['models.holdingRows']({ requestId }, context),
    }),
  }
  return {
    handlers,
    events,
    dataDir,
    ledger,
    close: async () => {
      await Promise.all([engine.close(), ledger.close()])
    },
  }
}
