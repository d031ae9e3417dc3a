// `npm start`: launch the built app in Electron, or say plainly why not and name browser mode.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)

/**
 * Electron's package fetches its binary on first use; with ELECTRON_SKIP_BINARY_DOWNLOAD
 * (air-gapped installs) we only look for one already there.
 */
function electronBinary() {
  try {
    if (!process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) return require('electron')
    const dir = path.dirname(require.resolve('electron/package.json'))
    return path.join(dir, 'dist', readFileSync(path.join(dir, 'path.txt'), 'utf8'))
  } catch {
    return undefined
  }
}

const binary = electronBinary()
if (typeof binary !== 'string' || !existsSync(binary)) {
  console.error(
    "Electron's binary is not installed on this machine, so the desktop window cannot open; run `npm run start:browser` to use Lethe in your browser instead.",
  )
  process.exit(1)
}
const child = spawn(binary, ['.'], { stdio: 'inherit' })
child.on('exit', (code) => process.exit(code ?? 0))
