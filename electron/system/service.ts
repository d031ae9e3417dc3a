/**
 * The system service: what this installation is and runs on, and the app's settings (a small
 * lowdb document in the data folder).
 */
import path from 'node:path'
import { LetheError } from '../contract/errors'
import type { Handlers } from '../contract/dispatch'
import { Settings, type SystemInfo } from '../contract/system'
import type { BackendChoice } from '../engine/backends'
import type { EngineHost } from '../engine/host'
import { DurableDocument, SerialQueue } from '../ledger/durable'

export interface SystemDeps {
  version: string
  dataDir: string
  host: SystemInfo['host']
  engine: EngineHost
}

export const defaultSettings: Settings = {
  backend: 'auto',
  dateLocale: 'auto',
  certification: { epsilon: 1, delta: 1e-5 },
}

export interface SystemService {
  handlers: Pick<Handlers, 'system.info' | 'system.chooseFile' | 'settings.get' | 'settings.update'>
  /** The backend the engine should use now, from LETHE_BACKEND or the setting. */
  backendChoice(): Promise<BackendChoice | null>
  /** The (ε, δ) a certified unlearning run uses unless it asks for others. */
  certificationDefaults(): Promise<Settings['certification']>
}

export function systemService(deps: SystemDeps): SystemService {
  const file = new DurableDocument<Settings>(path.join(deps.dataDir, 'settings.json'), defaultSettings)
  const loaded = file.load().then(() => Settings.parse({ ...defaultSettings, ...file.data }))
  const queue = new SerialQueue()
  let settings: Promise<Settings> = loaded

  /** LETHE_BACKEND (operators, tests) wins over the setting; 'auto' leaves it to the probe. */
  const choice = (s: Settings): BackendChoice | null => {
    const env = process.env.LETHE_BACKEND
    if (env) return { name: env, by: 'LETHE_BACKEND' }
    return s.backend === 'auto' ? null : { name: s.backend, by: 'setting' }
  }

  const info = async (): Promise<SystemInfo> => ({
    name: 'Lethe',
    version: deps.version,
    dataDir: deps.dataDir,
    host: deps.host,
    platform: `${process.platform}-${process.arch}`,
    versions: { node: process.versions.node, electron: process.versions.electron ?? null },
    engine: await deps.engine.call('probe', { choice: choice(await settings) }),
  })

  return {
    backendChoice: async () => choice(await settings),
    certificationDefaults: async () => (await settings).certification,
    handlers: {
      'system.info': info,
      // The Electron shell replaces this with its native dialog (main/dialogs.ts).
      'system.chooseFile': async () => {
        throw new LetheError(
          'CONFLICT',
          'There is no native file dialog here: the desk runs in a browser. Upload the file, or type its path.',
        )
      },
      'settings.get': () => settings,
      'settings.update': (changes) =>
        queue.run(async () => {
          const next = Settings.parse({ ...(await settings), ...changes })
          await file.commit(next)
          settings = Promise.resolve(next)
          return info()
        }),
    },
  }
}
