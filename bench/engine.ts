/**
 * `npm run bench:engine`: training throughput of the engine's own training loop (`train`, SGD
 * with momentum, batch 128) on Fashion-MNIST, for logistic regression (784→10) and an MLP
 * (784→256→10), on every usable backend. Each backend/model pair gets untimed warm-up steps
 * (50; 10 on the plain-JS cpu backend), then a fixed number of random batches sized from the
 * warm-up to take about --seconds (4 s at most on cpu; a run under 3 s is redone with more
 * steps), timed up to the parameters read back. Samples/s = steps × batch / seconds. No targets: on CPUs the numbers
 * are for comparing backends within one run (the wasm/cpu ratio is printed).
 *
 *   npx tsx bench/engine.ts [--rows 60000] [--seconds 5] [--json]
 *
 * The data: /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist package).
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import type { BackendStatus } from '../electron/contract/system'
import { probeBackends, selectBackend } from '../electron/engine/backends'
import { importIdxDataset } from '../electron/engine/data/idx'
import { initParams, specOf, type Architecture } from '../electron/engine/models/spec'
import { Random } from '../electron/engine/random'
import { tf } from '../electron/engine/tf'
import { ensureFashionMnist, IMAGES, LABELS } from './fashion-mnist'
import {
  defaultTrainConfig,
  train,
  uploadData,
  type PlannedBatch,
  type TrainConfig,
} from '../electron/engine/train'

const BATCH = 128
const WARMUP_STEPS = 50
/** The plain-JS backend needs a good part of a second per MLP step: a shorter warm-up there. */
const WARMUP_STEPS_CPU = 10
const MIN_STEPS = 10
/** A timed run shorter than this is run again with more steps. */
const MIN_SECONDS = 3
const MAX_STEPS = 20_000

const MODELS: { name: string; arch: Architecture }[] = [
  { name: 'logreg 784→10', arch: { kind: 'logreg', inputs: 784, classes: 10 } },
  { name: 'MLP 784→256→10', arch: { kind: 'mlp', inputs: 784, hidden: [256], classes: 10 } },
]

const config: TrainConfig = {
  ...defaultTrainConfig,
  optimizer: 'sgd',
  momentum: 0.9,
  learningRate: 0.05,
  batchSize: BATCH,
  epochs: 1,
  l2: 1e-4,
  schedule: { kind: 'constant' },
  seed: 1,
}

interface Row {
  backend: string
  model: string
  parameters: number
  warmupSteps: number
  warmupSeconds: number
  steps: number
  seconds: number
  samplesPerSecond: number
  msPerStep: number
  finalLoss: number
}

const log = (line: string) => process.stderr.write(`${line}\n`)
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

/** `count` batches of BATCH rows drawn at random from `rows`, step numbers from 0. */
function randomBatches(rows: Int32Array, count: number, seed: number): PlannedBatch[] {
  const random = new Random(seed)
  return Array.from({ length: count }, (_, step) => ({
    step,
    rows: Int32Array.from({ length: BATCH }, () => rows[random.int(rows.length)] as number),
  }))
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      rows: { type: 'string' },
      seconds: { type: 'string', default: '5' },
    },
  })
  const targetSeconds = Number(values.seconds)
  if (!(targetSeconds > 0)) throw new Error('--seconds takes a positive number')
  ensureFashionMnist()

  let t = performance.now()
  const dataset = importIdxDataset(
    { bytes: readFileSync(IMAGES), file: IMAGES },
    { bytes: readFileSync(LABELS), file: LABELS },
    { createdAt: '2026-01-01T00:00:00Z' },
  )
  const decodeMs = performance.now() - t
  const total = dataset.manifest.rows
  const rowsWanted = values.rows ? Number(values.rows) : total
  if (!Number.isSafeInteger(rowsWanted) || rowsWanted < BATCH)
    throw new Error(`--rows takes a whole number ≥ ${BATCH}`)
  const n = Math.min(rowsWanted, total)
  const dim = dataset.manifest.featureDim
  const features = dataset.features.subarray(0, n * dim)
  const labels = dataset.labels.subarray(0, n)
  const rows = Int32Array.from({ length: n }, (_, i) => i)
  log(`Fashion-MNIST: ${total} images decoded in ${(decodeMs / 1000).toFixed(1)} s; using ${n} rows`)

  log('probing backends…')
  const report = await selectBackend(await probeBackends(), null)
  const usable = report.backends.filter((b) => b.available)
  const results: Row[] = []
  const uploads: { backend: string; ms: number }[] = []
  for (const backend of usable) {
    await tf.setBackend(backend.name)
    t = performance.now()
    const data = uploadData(features, labels, dim)
    // Make the upload happen now (WebGPU uploads lazily) rather than inside the first step.
    await tf.sum(data.x).data()
    uploads.push({ backend: backend.name, ms: round(performance.now() - t, 0) })
    try {
      for (const model of MODELS) {
        const spec = specOf(model.arch)
        const init = initParams(spec, 1)
        const warmupSteps = backend.name === 'cpu' ? WARMUP_STEPS_CPU : WARMUP_STEPS
        const warmupPlan = randomBatches(rows, warmupSteps, 1)
        t = performance.now()
        await train(spec, data, rows, config, init, { plan: () => warmupPlan })
        const warmupSeconds = (performance.now() - t) / 1000
        // The warm-up's mean step (first-step set-up included) overestimates a step, so the first
        // timed run may come out short: under MIN_SECONDS it is run again, scaled to the budget.
        // The plain-JS backend gets a smaller budget.
        const budget = backend.name === 'cpu' ? Math.min(targetSeconds, 4) : targetSeconds
        const stepsFor = (secondsPerStep: number) =>
          Math.max(MIN_STEPS, Math.min(MAX_STEPS, Math.round(budget / secondsPerStep)))
        let steps = stepsFor(warmupSeconds / warmupSteps)
        let seconds = 0
        let result: Awaited<ReturnType<typeof train>> | null = null
        for (let attempt = 0; attempt < 2; attempt++) {
          const plan = randomBatches(rows, steps, 2)
          t = performance.now()
          result = await train(spec, data, rows, config, init, { plan: () => plan })
          seconds = (performance.now() - t) / 1000
          if (seconds >= Math.min(MIN_SECONDS, budget) || steps >= MAX_STEPS) break
          steps = stepsFor(seconds / steps)
        }
        const row: Row = {
          backend: backend.name,
          model: model.name,
          parameters: spec.size,
          warmupSteps,
          warmupSeconds: round(warmupSeconds, 3),
          steps,
          seconds: round(seconds, 3),
          samplesPerSecond: Math.round((steps * BATCH) / seconds),
          msPerStep: round((seconds * 1000) / steps, 3),
          finalLoss: round(result?.epochLoss.at(-1) ?? Number.NaN, 4),
        }
        results.push(row)
        log(
          `${row.backend} ${row.model}: ${row.steps} steps in ${row.seconds} s, ${row.samplesPerSecond} samples/s`,
        )
      }
    } finally {
      data.x.dispose()
      data.y.dispose()
    }
  }

  const ratios = MODELS.map((model) => {
    const of = (backend: string) => results.find((r) => r.backend === backend && r.model === model.name)
    const wasm = of('wasm')
    const cpu = of('cpu')
    return {
      model: model.name,
      wasmOverCpu: wasm && cpu ? round(wasm.samplesPerSecond / cpu.samplesPerSecond, 1) : null,
    }
  })

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? null,
          dataset: { name: 'fashion-mnist', rowsAvailable: total, rowsUsed: n, featureDim: dim },
          batchSize: BATCH,
          optimizer: {
            kind: 'sgd',
            momentum: config.momentum,
            learningRate: config.learningRate,
            l2: config.l2,
          },
          backends: report.backends,
          uploadMs: uploads,
          results,
          ratios,
        },
        null,
        2,
      ),
    )
    return
  }
  print(report.backends, n, total, uploads, results, ratios)
}

function print(
  backends: BackendStatus[],
  n: number,
  total: number,
  uploads: { backend: string; ms: number }[],
  results: Row[],
  ratios: { model: string; wasmOverCpu: number | null }[],
): void {
  console.log(
    `Training throughput on Fashion-MNIST (${n === total ? `all ${total}` : `${n} of ${total}`} training images, 784 features), batch ${BATCH}, SGD momentum ${config.momentum}, lr ${config.learningRate}, l2 ${config.l2}`,
  )
  console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`)
  console.log('\nbackends')
  for (const b of backends)
    console.log(`  ${b.name.padEnd(10)} ${b.available ? 'usable' : 'not usable'}: ${b.detail}`)
  console.log(
    `\nupload of the data: ${uploads.map((u) => `${u.backend} ${u.ms} ms`).join(', ') || 'no usable backend'}`,
  )
  console.log('')
  const header = [
    'backend'.padEnd(10),
    'model'.padEnd(16),
    'warm-up'.padStart(8),
    'steps'.padStart(7),
    'seconds'.padStart(8),
    'ms/step'.padStart(9),
    'samples/s'.padStart(10),
  ]
  console.log(`  ${header.join('  ')}`)
  for (const r of results) {
    console.log(
      `  ${[
        r.backend.padEnd(10),
        r.model.padEnd(16),
        String(r.warmupSteps).padStart(8),
        String(r.steps).padStart(7),
        r.seconds.toFixed(2).padStart(8),
        r.msPerStep.toFixed(2).padStart(9),
        r.samplesPerSecond.toLocaleString('en').padStart(10),
      ].join('  ')}`,
    )
  }
  console.log('')
  for (const r of ratios)
    console.log(
      `wasm / cpu, ${r.model}: ${r.wasmOverCpu === null ? '— (needs both backends)' : `${r.wasmOverCpu}×`} (same run)`,
    )
  console.log(
    'Warm-up steps are not timed; each timed run covers its steps up to the parameters read back. No targets are checked.',
  )
}

await main()
