import { accessSync, constants, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { LetheError } from '../contract'

export const PRODUCT_NAME = 'Lethe'

/** Where Electron puts `app.getPath('userData')`, so the CLI and the app share one folder. */
export function defaultUserDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home = os.homedir(),
): string {
  if (platform === 'win32')
    return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), PRODUCT_NAME)
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', PRODUCT_NAME)
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), PRODUCT_NAME)
}

/**
 * The data folder: an explicit flag, else LETHE_DATA_DIR, else the platform default.
 * Created when missing; a folder that cannot be written is refused up front.
 */
export function resolveDataDir(explicit?: string, fallback = defaultUserDataDir()): string {
  const dir = path.resolve(explicit || process.env.LETHE_DATA_DIR || fallback)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    accessSync(dir, constants.W_OK)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new LetheError('BAD_INPUT', `The data folder ${dir} cannot be used: ${reason}`, { dataDir: dir })
  }
  return dir
}
