/**
 * `npm run bench:datasets`: one table written as CSV (about LETHE_BENCH_DATASET_MB megabytes,
 * default 1024) and as Parquet, each imported as `lethe dataset import FILE` reads it (streamed,
 * encoded row by row), in a fresh process so that its peak memory is its own. Prints the time and
 * peak RSS of each. The temporary folder goes at the end.
 *
 *   LETHE_BENCH_DATASET_MB=1024 npx tsx bench/dataset-import.ts [--json]
 */
import { spawnSync } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ParquetWriter, fileWriter, schemaFromColumnData } from 'hyparquet-writer'
import { importTableFile } from '../electron/engine/data/sources'

const here = fileURLToPath(import.meta.url)

/** Numeric feature columns: wide enough that the file is mostly numbers, as training tables are. */
const FEATURES = 20
/** Rows generated (and written to Parquet as one row group) at a time. */
const BATCH = 100_000

interface ImportResult {
  format: string
  megabytes: number
  rows: number
  featureDim: number
  seconds: number
  peakRssMiB: number
}

/** Row `i`'s feature `k`: deterministic, with the digits of a real measurement. */
const feature = (i: number, k: number) => Number((Math.sin(i * 0.7 + k * 1.3) * 100).toFixed(4))

/** Writes the same rows as CSV and Parquet until the CSV reaches `bytes`; returns the row count. */
async function writeTables(csvFile: string, parquetFile: string, bytes: number): Promise<number> {
  const csv = createWriteStream(csvFile)
  const write = (text: string) =>
    csv.write(text) ? Promise.resolve() : new Promise<void>((resolve) => csv.once('drain', () => resolve()))
  const names = Array.from({ length: FEATURES }, (_, k) => `f${k}`)
  await write(`subject,${names.join(',')},label\n`)
  let parquet: ParquetWriter | undefined
  let rows = 0
  let written = 0
  while (written < bytes) {
    const subjects: string[] = []
    const labels: string[] = []
    const columns = names.map(() => new Float64Array(BATCH))
    let text = ''
    for (let j = 0; j < BATCH; j++) {
      const i = rows + j
      const subject = `S-${i % 1_000_003}`
      const values = columns.map((column, k) => (column[j] = feature(i, k)))
      const label = `c${(i * 7) % 5}`
      subjects.push(subject)
      labels.push(label)
      text += `${subject},${values.join(',')},${label}\n`
    }
    await write(text)
    written += Buffer.byteLength(text)
    rows += BATCH
    const columnData = [
      { name: 'subject', data: subjects, type: 'STRING' as const },
      ...names.map((name, k) => ({ name, data: columns[k] as Float64Array, type: 'DOUBLE' as const })),
      { name: 'label', data: labels, type: 'STRING' as const },
    ]
    parquet ??= new ParquetWriter({
      writer: fileWriter(parquetFile),
      schema: schemaFromColumnData({ columnData }),
    })
    parquet.write({ columnData, rowGroupSize: BATCH })
  }
  parquet?.finish()
  await new Promise<void>((resolve) => csv.end(() => resolve()))
  return rows
}

/** In this process: import the file as the engine does, report. */
async function child(file: string): Promise<ImportResult> {
  const started = performance.now()
  const dataset = await importTableFile(file, {
    file,
    mapping: { subjectColumn: 'subject', labelColumn: 'label' },
  })
  const seconds = (performance.now() - started) / 1000
  return {
    format: dataset.manifest.source.format,
    megabytes: Math.round(statSync(file).size / 1e6),
    rows: dataset.manifest.rows,
    featureDim: dataset.manifest.featureDim,
    seconds: Number(seconds.toFixed(2)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { json: { type: 'boolean', default: false }, child: { type: 'string' } },
  })
  if (values.child) {
    console.log(JSON.stringify(await child(values.child)))
    return
  }
  const megabytes = Number(process.env.LETHE_BENCH_DATASET_MB ?? '1024')
  if (!(megabytes > 0)) throw new Error('LETHE_BENCH_DATASET_MB takes a size in megabytes, e.g. 1024')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-datasets-'))
  try {
    const csvFile = path.join(dir, 'table.csv')
    const parquetFile = path.join(dir, 'table.parquet')
    process.stderr.write(`writing a ${megabytes} MB CSV and the same rows as Parquet in ${dir}\n`)
    const rows = await writeTables(csvFile, parquetFile, megabytes * 1e6)
    const results: ImportResult[] = []
    for (const file of [csvFile, parquetFile]) {
      process.stderr.write(`importing ${path.basename(file)} (${rows} rows)\n`)
      // The features of a 1 GB table need more than Node's default heap on some machines.
      const run = spawnSync(
        process.execPath,
        ['--max-old-space-size=16384', '--import', 'tsx', here, '--child', file],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      )
      if (run.status !== 0) throw new Error(`the import of ${file} failed:\n${run.stderr}`)
      results.push(JSON.parse(run.stdout) as ImportResult)
    }
    if (values.json) {
      console.log(JSON.stringify(results, null, 2))
      return
    }
    console.log('format    file MB       rows  features  seconds  peak RSS MiB')
    for (const r of results) {
      console.log(
        `${r.format.padEnd(8)} ${String(r.megabytes).padStart(8)} ${String(r.rows).padStart(10)} ${String(r.featureDim).padStart(9)} ${r.seconds.toFixed(2).padStart(8)} ${String(r.peakRssMiB).padStart(13)}`,
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
