import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { backendNames, type LetheEvent } from '../../electron/contract'
import { EngineHost, workerThreadChannel } from '../../electron/engine/host'
import type { EngineChannel } from '../../electron/engine/protocol'
import { tempDir } from '../support/fixtures'

let host: EngineHost | undefined
afterEach(async () => {
  await host?.close()
  host = undefined
})

describe('the engine in a worker thread', () => {
  it('probes every backend in order and selects the first usable one', async () => {
    const events: LetheEvent[] = []
    host = new EngineHost(
      () => workerThreadChannel(),
      (event) => events.push(event),
    )
    const report = await host.call('probe', { choice: null })
    expect(report.backends.map((b) => b.name)).toEqual([...backendNames])
    const byName = Object.fromEntries(report.backends.map((b) => [b.name, b]))
    // WASM and the JS CPU backend are always installable; their probe must really run.
    for (const name of ['wasm', 'cpu'] as const) {
      expect(byName[name]?.available).toBe(true)
      expect(byName[name]?.gflops).toBeGreaterThan(0)
    }
    expect(report.selected).toBe(report.backends.find((b) => b.available)?.name)
    expect(report.selectedBy).toBe('probe')
    for (const backend of report.backends.filter((b) => !b.available)) expect(backend.detail).not.toBe('')
    const progress = events.filter((e) => e.name === 'job.progress').map((e) => e.payload.fraction)
    expect(progress.at(-1)).toBe(1)
  })

  it('honours an override that is usable', async () => {
    host = new EngineHost(() => workerThreadChannel())
    const report = await host.call('probe', { choice: { name: 'CPU', by: 'LETHE_BACKEND' } })
    expect(report.selected).toBe('cpu')
    expect(report.selectedBy).toBe('LETHE_BACKEND')
    expect(report.warning).toBeNull()
  })

  it('explains an override it cannot honour, and falls back', async () => {
    host = new EngineHost(() => workerThreadChannel())
    const report = await host.call('probe', { choice: { name: 'quantum', by: 'setting' } })
    expect(report.warning).toMatch(/not a backend/)
    expect(report.selectedBy).toBe('probe')
    expect(report.selected).not.toBeNull()
  })

  it('reports a crash to the pending call and starts a fresh process for the next one', async () => {
    const crashing = path.join(tempDir(), 'crash.mjs')
    writeFileSync(
      crashing,
      "import { parentPort } from 'node:worker_threads'\nparentPort.on('message', () => process.exit(3))\n",
    )
    let spawned = 0
    const spawn = (): EngineChannel => {
      spawned += 1
      return workerThreadChannel(crashing)
    }
    host = new EngineHost(spawn)
    await expect(host.call('probe', { choice: null })).rejects.toMatchObject({
      code: 'ENGINE_CRASHED',
      message: /exit code 3/,
    })
    await expect(host.call('probe', { choice: null })).rejects.toMatchObject({ code: 'ENGINE_CRASHED' })
    expect(spawned).toBe(2)
  })

  it('reports an engine that cannot start as ENGINE_UNAVAILABLE', () => {
    host = new EngineHost(() => {
      throw new Error('no such file')
    })
    expect(() => host?.call('probe', { choice: null })).toThrow(
      expect.objectContaining({ code: 'ENGINE_UNAVAILABLE' }),
    )
  })
})
