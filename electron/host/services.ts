/**
 * The composition of all plain-Node services, shared by the three hosts: the Electron main
 * process, browser mode and the CLI. Each host brings its own way to start the engine.
 */
import { version } from '../../package.json'
import type { Handlers } from '../contract/dispatch'
import type { SystemInfo } from '../contract/system'
import type { EngineChannel } from '../engine/protocol'
import { EngineHost } from '../engine/host'
import { EngineService } from '../engine/service'
import { LedgerService } from '../ledger/service'
import type { LedgerOptions } from '../ledger/ledger'
import { systemService } from '../system/service'
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
}

export function createServices({
  dataDir,
  host,
  spawnEngine,
  ledger: ledgerOptions,
}: ServiceOptions): LetheServices {
  const events = new EventHub()
  const engine = new EngineHost(spawnEngine, (event) => events.publish(event))
  const ledger = new LedgerService(dataDir, ledgerOptions)
  const system = systemService({ version, dataDir, host, engine })
  const handlers: Handlers = {
    ...system.handlers,
    ...ledger.handlers(),
    ...new EngineService(dataDir, engine, ledger, events, system.backendChoice).handlers(),
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
