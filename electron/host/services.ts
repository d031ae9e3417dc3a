/**
 * The composition of all plain-Node services, shared by the three hosts: the Electron main
 * process, browser mode and the CLI. Each host brings its own way to start the engine.
 */
import { version } from '../../package.json'
import type { Handlers } from '../contract/dispatch'
import type { SystemInfo } from '../contract/system'
import type { EngineChannel } from '../engine/protocol'
import { EngineHost } from '../engine/host'
import { systemService } from '../system/service'
import { EventHub } from './events'

export interface LetheServices {
  handlers: Handlers
  events: EventHub
  dataDir: string
  close(): Promise<void>
}

export interface ServiceOptions {
  dataDir: string
  host: SystemInfo['host']
  spawnEngine: () => EngineChannel
}

export function createServices({ dataDir, host, spawnEngine }: ServiceOptions): LetheServices {
  const events = new EventHub()
  const engine = new EngineHost(spawnEngine, (event) => events.publish(event))
  const handlers: Handlers = {
    ...systemService({ version, dataDir, host, engine }),
  }
  return { handlers, events, dataDir, close: () => engine.close() }
}
