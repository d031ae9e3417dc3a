/**
 * `npm run bench:hf`: HF (Hessian-free certified unlearning) on Fashion-MNIST at the paper's
 * scale (n = 4000 training images), on the selected backend (WASM without a GPU):
 *
 * - recording: training with HF recording vs the same training without it (ratio measured in
 *   this run), the break-even number of requests (recording time / one exact replayed retrain),
 *   and the statistics' size;
 * - fidelity: HF with noise off vs the replayed exact retrain (distance ratio, test, forget and
 *   retain accuracy, MIA AUC); then the noise each ε needs for the same rows, and what it does to
 *   test accuracy (with the utility limit lifted, so the number is shown rather than refused);
 * - deletion latency inside the engine for 1, 10 and 100 rows (median of many; statistics file
 *   in the page cache): the store's read-and-add alone, and the whole HF method call (lineage,
 *   bound, noise) — plus the read-and-add on a d = 101,770 store (a 784-128-10 MLP's size),
 *   filled with random rows: the latency goal is ≤ 0.2 ms for one row at d ≈ 100k.
 *
 * Data: Debian's dataset-fashion-mnist, installed by the bench when missing (as root).
 *
 *   npx tsx bench/hf.ts [--rows 4000] [--models logreg,mlp,cnn] [--epochs 5] [--mlp-epochs 3]
 *                       [--hidden 16] [--forget 40] [--json]
 */
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { TrainOptions, type ArchitectureInput } from '../electron/contract/engine'
import type { z } from 'zod'
import { folders } from '../electron/engine/folders'
import { trainModel, unlearnModel, type JobControl } from '../electron/engine/jobs'
import { StatisticsFile, writeStatistics } from '../electron/engine/methods/hf-store'
import type { UnlearnResult } from '../electron/engine/models/runs'
import { Random } from '../electron/engine/random'
import { log, unlearningSetting } from './fashion-mnist'

const LATENCY_DIM = 784 * 128 + 128 + 128 * 10 + 10

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '4000' },
    models: { type: 'string', default: 'logreg,mlp' },
    epochs: { type: 'string', default: '5' },
    /** Epochs of the MLP and the CNN, whose recording costs far more per step. */
    'mlp-epochs': { type: 'string', default: '3' },
    hidden: { type: 'string', default: '16' },
    forget: { type: 'string', default: '40' },
    json: { type: 'boolean', default: false },
  },
})
const trainRows = Number(args.rows)
const forgetCount = Number(args.forget)
const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** Median milliseconds of adding `rows` random rows of a store into a parameter vector. */
function addLatency(statistics: StatisticsFile, rows: number, repeats: number): number {
  const random = new Random(rows)
  const target = new Float32Array(statistics.header.dim)
  const times: number[] = []
  for (let i = 0; i < repeats; i++) {
    const slots = Array.from({ length: rows }, () => random.int(statistics.header.count))
    const start = performance.now()
    statistics.addRows(slots, target)
    times.push(performance.now() - start)
  }
  return median(times)
}

const { backend, dataDir, manifest, dataset, shuffled, forget } = await unlearningSetting(
  'hf',
  trainRows,
  forgetCount,
)
/** Rows for the latency runs (up to 100 at once), apart from the forget set. */
const latencyRows = shuffled.slice(forgetCount, forgetCount + 100)

interface ModelRun {
  model: string
  parameters: number
  epochs: number
  plainTrainS: number
  hfTrainS: number
  recordingS: number
  overhead: number
  retrainS: number
  breakEvenRequests: number
  statisticsMiB: number
  fidelity: {
    distanceRatio: number
    accuracy: Record<'original' | 'hf' | 'retrained', { test: number; forget: number; retain: number }>
    miaAuc: Record<'original' | 'hf' | 'retrained', number | null>
  }
  /** Per ε: the noise the forget set needs, its effect with the limit lifted, and the rows the default limit (1) allows. */
  noise: {
    epsilon: number
    sigma: number
    relativeNoise: number
    testAccuracy: number
    capacityRows: number
  }[]
  latencyMs: { rows: number; readAdd: number; methodCall: number }[]
}

const runs: ModelRun[] = []
for (const kind of args.models.split(',')) {
  const arch: z.infer<typeof ArchitectureInput> =
    kind === 'mlp'
      ? { kind: 'mlp', hidden: [Number(args.hidden)] }
      : kind === 'cnn'
        ? { kind: 'cnn', filters: [8], kernel: 3, dense: 32 }
        : { kind: 'logreg' }
  const epochs = Number(kind === 'logreg' ? args.epochs : args['mlp-epochs'])
  const training = TrainOptions.parse({
    optimizer: 'sgd',
    momentum: 0,
    samePermutationEachEpoch: true,
    schedule: 'exponential',
    lrDecay: 0.995,
    learningRate: 0.05,
    epochs,
    batchSize: 64,
    l2: 1e-3,
  })
  log(`\n${kind}: training without, then with HF recording (${epochs} epochs)…`)
  let start = performance.now()
  await trainModel({ dataDir, datasetId: manifest.id, arch, training, name: `${kind} plain` }, control)
  const plainTrainS = (performance.now() - start) / 1000
  start = performance.now()
  const model = await trainModel(
    { dataDir, datasetId: manifest.id, arch, training, prepare: 'hf', name: `${kind} hf` },
    control,
  )
  const hfTrainS = (performance.now() - start) / 1000
  const preparation = model.preparation as NonNullable<typeof model.preparation>
  log(`  plain ${plainTrainS.toFixed(1)} s, with recording ${hfTrainS.toFixed(1)} s`)

  const unlearn = (options: Record<string, unknown>, reference: boolean) =>
    unlearnModel(
      {
        dataDir,
        modelId: model.id,
        method: 'hf',
        rows: forget,
        strictRows: true,
        requestId: null,
        reference,
        options,
      },
      control,
    )
  const exact: UnlearnResult = await unlearn({ noise: false }, true)
  const scores = (s: UnlearnResult['report']['original']) => ({
    test: s.test.accuracy as number,
    forget: s.forget.accuracy as number,
    retain: s.retain.accuracy as number,
  })
  const retrained = exact.report.reference as NonNullable<UnlearnResult['report']['reference']>
  const noise = []
  for (const epsilon of [1, 10, 100]) {
    const noisy = await unlearn({ epsilon, delta: 1e-5, noiseLimit: 1e12 }, false)
    const c = noisy.details.certification as { sigma: number; relativeNoise: number }
    // At the default limit the run is refused once the capacity is spent; the refusal says how many rows it allows.
    const capacityRows = await unlearn({ epsilon, delta: 1e-5 }, false).then(
      (r) => (r.details.certification as { capacityRows: number }).capacityRows,
      (error: { details?: { capacityRows: number } }) => error.details?.capacityRows ?? Number.NaN,
    )
    noise.push({
      epsilon,
      sigma: c.sigma,
      relativeNoise: c.relativeNoise,
      testAccuracy: noisy.report.unlearned.test.accuracy as number,
      capacityRows,
    })
  }
  // Latency: the store's read-and-add, then the whole method call (no reference, noise off).
  const statistics = StatisticsFile.open(path.join(folders(dataDir).models, model.id, preparation.file), {
    paramsSha256: model.paramsSha256,
    runId: preparation.runId,
    dim: preparation.dim,
    count: preparation.rows,
  })
  const latencyMs = []
  for (const rows of [1, 10, 100]) {
    addLatency(statistics, rows, 5) // page cache and JIT warm-up
    const readAdd = addLatency(statistics, rows, rows === 100 ? 50 : 300)
    const calls: number[] = []
    for (let i = 0; i < 15; i++) {
      const r = await unlearnModel(
        {
          dataDir,
          modelId: model.id,
          method: 'hf',
          rows: latencyRows.slice(0, rows),
          strictRows: true,
          requestId: null,
          reference: false,
          options: { noise: false },
        },
        control,
      )
      calls.push((r.details.timings as { applyMs: number }).applyMs)
    }
    latencyMs.push({ rows, readAdd, methodCall: median(calls) })
  }
  statistics.close()
  const retrainS = (exact.reference?.ms ?? Number.NaN) / 1000
  runs.push({
    model:
      kind === 'mlp'
        ? `MLP 784-${args.hidden}-10`
        : kind === 'cnn'
          ? 'CNN (conv 3×3×8, pool, dense 32)'
          : 'logistic regression',
    parameters: model.parameters,
    epochs,
    plainTrainS,
    hfTrainS,
    recordingS: preparation.recordMs / 1000,
    overhead: hfTrainS / plainTrainS,
    retrainS,
    breakEvenRequests: preparation.recordMs / 1000 / retrainS,
    statisticsMiB: preparation.bytes / 1024 ** 2,
    fidelity: {
      distanceRatio:
        (exact.report.distance.unlearnedToReference as number) /
        (exact.report.distance.originalToReference as number),
      accuracy: {
        original: scores(exact.report.original),
        hf: scores(exact.report.unlearned),
        retrained: scores(retrained),
      },
      miaAuc: {
        original: exact.report.original.mia.auc,
        hf: exact.report.unlearned.mia.auc,
        retrained: retrained.mia.auc,
      },
    },
    noise,
    latencyMs,
  })
}

// The d ≈ 100k latency goal, on a store of random rows (the timing does not depend on the values).
log(`\nA ${trainRows} × ${LATENCY_DIM} store of random rows for the d ≈ 100k latency…`)
const big = path.join(dataDir, 'latency.bin')
const filler = new Random(3)
const rowsData = new Float32Array(trainRows * LATENCY_DIM)
for (let i = 0; i < rowsData.length; i++) rowsData[i] = filler.next() - 0.5
const bigBytes = (
  await writeStatistics(
    big,
    {
      modelId: 'm-000000000000',
      paramsSha256: '0'.repeat(64),
      runId: 'latency',
      dim: LATENCY_DIM,
      count: trainRows,
      dtype: 'float32',
      trainRowsSha256: '0'.repeat(64),
      createdAt: new Date().toISOString(),
    },
    rowsData,
  )
).bytes
const store = StatisticsFile.open(big, {
  paramsSha256: '0'.repeat(64),
  runId: 'latency',
  dim: LATENCY_DIM,
  count: trainRows,
})
const bigLatency = [1, 10, 100].map((rows) => {
  addLatency(store, rows, 5)
  return { rows, readAdd: addLatency(store, rows, rows === 100 ? 30 : 300) }
})
store.close()

const result = {
  backend,
  cores: os.cpus().length,
  trainRows: dataset.train.length,
  forget: forget.length,
  runs,
  latency100k: { dim: LATENCY_DIM, fileMiB: bigBytes / 1024 ** 2, latencyMs: bigLatency },
}
if (args.json) console.log(JSON.stringify(result, null, 2))
else {
  const f = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '—')
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`
  console.log(
    `HF on Fashion-MNIST, ${result.trainRows} training rows, ${result.forget} forgotten, backend ${result.backend} (${result.cores} cores)`,
  )
  for (const r of runs) {
    console.log(
      `\n${r.model} (d = ${r.parameters}, ${r.epochs} epoch${r.epochs === 1 ? '' : 's'}, batch 64, lr 0.05·0.995^t, λ = 1e-3)`,
    )
    console.log(
      `  training ${f(r.plainTrainS, 1)} s plain, ${f(r.hfTrainS, 1)} s with recording (×${f(r.overhead, 1)}); one replayed retrain ${f(r.retrainS, 1)} s → break-even after ${f(r.breakEvenRequests, 1)} requests; statistics ${f(r.statisticsMiB, 1)} MiB`,
    )
    const a = r.fidelity.accuracy
    console.log(`  distance to the replayed retrain, HF / original: ${f(r.fidelity.distanceRatio, 4)}`)
    for (const key of ['original', 'hf', 'retrained'] as const)
      console.log(
        `  ${key.padEnd(10)} test ${pct(a[key].test)}  forget ${pct(a[key].forget)}  retain ${pct(a[key].retain)}  MIA AUC ${f(r.fidelity.miaAuc[key] ?? Number.NaN)}`,
      )
    for (const n of r.noise)
      console.log(
        `  ε = ${String(n.epsilon).padEnd(4)} δ = 1e-5: σ = ${n.sigma.toPrecision(3)} (${f(n.relativeNoise, 2)}× ‖θ‖), test accuracy ${pct(n.testAccuracy)}; rows allowed at the default limit: ${n.capacityRows}`,
      )
    for (const l of r.latencyMs)
      console.log(
        `  delete ${String(l.rows).padStart(3)} rows: read+add ${f(l.readAdd)} ms (median), whole method ${f(l.methodCall)} ms`,
      )
  }
  console.log(`\nd = ${LATENCY_DIM} store (${f(result.latency100k.fileMiB, 0)} MiB), read+add median:`)
  for (const l of bigLatency) console.log(`  ${String(l.rows).padStart(3)} rows: ${f(l.readAdd)} ms`)
}
