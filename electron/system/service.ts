import type { Handlers } from '../contract/dispatch'
import type { SystemInfo } from '../contract/system'
import type { EngineHost } from '../engine/host'

export interface SystemDeps {
  version: string
  dataDir: string
  host: SystemInfo['host']
  engine: EngineHost
}

export function systemService(deps: SystemDeps): Pick<Handlers, 'system.info'> {
  return {
    async 'system.info'() {
      return {
        name: 'Lethe',
        version: deps.version,
        dataDir: deps.dataDir,
        host: deps.host,
        platform: `${process.platform}-${process.arch}`,
        versions: { node: process.versions.node, electron: process.versions.electron ?? null },
        engine: await deps.engine.call('probe', { override: process.env.LETHE_BACKEND }),
      }
    },
  }
}
