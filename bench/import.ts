/**
 * `npm run bench:import`: a CSV of N requests imported into a fresh ledger, as `lethe request
 * import FILE` runs it (read, decode, check every row, one durable batch), each size in a fresh
 * process so that its peak memory is its own. Prints the time, rows per second and peak RSS.
 *
 *   npx tsx bench/import.ts [--rows 10000,50000] [--json]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { LedgerService } from '../electron/ledger/service'
import { clock, testKeys } from '../tests/support/ledger'

const here = fileURLToPath(import.meta.url)

interface ImportResult {
  rows: number
  seconds: number
  rowsPerSecond: number
  peakRssMiB: number
}

/** In this process: write the file, import it through the service, report. */
async function child(rows: number): Promise<ImportResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-import-'))
  try {
    const lines = ['name,email,subject_ids,jurisdiction,received,note']
    for (let i = 0; i < rows; i++) {
      lines.push(
        `Person ${i},p${i}@example.com,customer-id:C-${i},gdpr,2026-03-0${1 + (i % 9)},called on day ${i}`,
      )
    }
    const file = path.join(dataDir, 'requests.csv')
    writeFileSync(file, lines.join('\n'))
    const service = new LedgerService(dataDir, { now: clock(), keyProtector: testKeys })
    await service.ledger()
    const started = performance.now()
    const { imported } = await service.handlers()['requests.import']({ path: file }, { transport: 'cli' })
    const seconds = (performance.now() - started) / 1000
    await service.close()
    if (imported.length !== rows) throw new Error(`imported ${imported.length} of ${rows} rows`)
    return {
      rows,
      seconds: Number(seconds.toFixed(2)),
      rowsPerSecond: Math.round(rows / seconds),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '10000,50000' },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  })
  if (values.child) {
    console.log(JSON.stringify(await child(Number(values.child))))
    return
  }
  const sizes = values.rows.split(',').map(Number)
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1))
    throw new Error('--rows takes whole numbers, e.g. 10000,50000')
  const results: ImportResult[] = []
  for (const rows of sizes) {
    process.stderr.write(`importing ${rows} rows\n`)
    const run = spawnSync(process.execPath, ['--import', 'tsx', here, '--child', String(rows)], {
      encoding: 'utf8',
    })
    if (run.status !== 0) throw new Error(`the import of ${rows} rows failed:\n${run.stderr}`)
    results.push(JSON.parse(run.stdout) as ImportResult)
  }
  if (values.json) {
    console.log(JSON.stringify(results, null, 2))
    return
  }
  console.log('CSV import into a fresh ledger (one durable batch per file)')
  for (const r of results) {
    console.log(
      `  ${String(r.rows).padStart(7)} rows  ${r.seconds.toFixed(2).padStart(7)} s  ${String(r.rowsPerSecond).padStart(6)} rows/s  peak RSS ${r.peakRssMiB} MiB`,
    )
  }
}

await main()
