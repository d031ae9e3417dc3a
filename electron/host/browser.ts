/**
 * Browser mode: the real services behind the loopback bridge, with the built renderer served
 * on the same origin. For machines without Electron's binary and for end-to-end tests.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBridge } from '../bridge/server'
import { workerThreadChannel } from '../engine/host'
import { resolveDataDir } from './paths'
import { createServices } from './services'

const staticRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../renderer')
if (!existsSync(path.join(staticRoot, 'index.html'))) {
  console.error(`The renderer is not built (${staticRoot} has no index.html). Run "npm run build" first.`)
  process.exit(1)
}

const dataDir = resolveDataDir()
const services = createServices({ dataDir, host: 'browser', spawnEngine: () => workerThreadChannel() })
// Open the ledger now: take the writer's lock, recover, apply retention. Damage is reported
// through ledger.status and every ledger call, not by refusing to start.
void services.ledger.ledger().catch(() => undefined)
const port = process.env.LETHE_PORT ? Number(process.env.LETHE_PORT) : 0
const bridge = await startBridge({ handlers: services.handlers, events: services.events, staticRoot, port })

console.log(`Lethe is running in browser mode. Open this address (it carries this launch's token):`)
console.log(`  ${bridge.url}`)
console.log(`Data folder: ${dataDir}. Press Ctrl+C to stop.`)
if (!process.env.LETHE_KEY_PASSPHRASE) {
  console.warn(
    'LETHE_KEY_PASSPHRASE is not set: the desk can read an existing ledger, but nothing can be written or signed (the keys are sealed with it). Stop, set it, and start again.',
  )
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    void Promise.all([bridge.close(), services.close()]).then(() => process.exit(0))
  })
}
