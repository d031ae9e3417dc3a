/**
 * `npm run bench`: float32 matmul throughput of every usable backend at a few sizes, checked
 * against the targets in bench/targets.json. Numbers are absolute only on a GPU; on CPUs,
 * compare backends within one run. Add --json for one JSON document.
 */
import { readFileSync } from 'node:fs'
import { tf } from '../electron/engine/tf'
import { measureGflops, probeBackends, selectBackend } from '../electron/engine/backends'

const SIZES = [128, 256, 512, 1024]
const targets = JSON.parse(readFileSync(new URL('./targets.json', import.meta.url), 'utf8')) as Record<
  string,
  { min: number; why: string }
>

const report = await selectBackend(await probeBackends(), null)
const rows: { backend: string; size: number; gflops: number }[] = []
for (const backend of report.backends.filter((b) => b.available)) {
  await tf.setBackend(backend.name)
  for (const size of SIZES) {
    // The plain-JS backend needs seconds at 1024²; it is the reference, not a contender.
    if (backend.name === 'cpu' && size > 512) continue
    rows.push({ backend: backend.name, size, gflops: Math.round((await measureGflops(size)) * 100) / 100 })
  }
}

const checks = Object.entries(targets).map(([key, target]) => {
  const [backend, size] = key.split('@')
  const row = rows.find((r) => r.backend === backend && r.size === Number(size))
  return { key, ...target, measured: row?.gflops ?? null, pass: row ? row.gflops >= target.min : null }
})

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ backends: report.backends, matmul: rows, checks }, null, 2))
} else {
  console.log('float32 matmul, GFLOP/s (median of 5 after a warm-up)')
  for (const row of rows)
    console.log(`  ${row.backend.padEnd(10)} ${String(row.size).padStart(5)}²  ${row.gflops}`)
  for (const check of checks) {
    const verdict = check.pass === null ? 'not measured here' : check.pass ? 'ok' : 'BELOW TARGET'
    console.log(`target ${check.key} ≥ ${check.min}: ${check.measured ?? '—'} (${verdict}; ${check.why})`)
  }
}
process.exitCode = checks.some((c) => c.pass === false) ? 1 : 0
