/**
 * `npm run bench:convex`: the exact retrain of a logistic regression, on the digits demo and on
 * Fashion-MNIST, two ways in one run. With optimizer 'lbfgs' the model and its retrain are solved
 * to the optimum (electron/engine/convex.ts); with SGD (20 epochs, batch 64, lr 0.05, momentum
 * 0.9) the retrain replays the original run without the forgotten rows. For each: wall time
 * (ratios in the same run) and the distance to the retained optimum, relative to its norm. On
 * digits the optimum comes from the independent Newton solver with the exact Hessian
 * (tests/support/exact-logreg.ts); on Fashion-MNIST that Hessian (7,850² entries) is too large,
 * so the distance is bounded instead: F is l2-strongly convex, so ‖θ − θ*‖ ≤ ‖∇F(θ)‖ / l2, with
 * ∇F computed by that same independent code. About 5 % of the training rows are forgotten, as
 * whole subjects. No targets are checked.
 *
 *   npx tsx bench/convex.ts [--datasets digits,fashion-mnist] [--fashion-rows 10000] [--l2 0.01] [--json]
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { importCsvDataset } from '../electron/engine/data/csv-dataset'
import { loadDataset, type Dataset } from '../electron/engine/data/dataset'
import { folders } from '../electron/engine/folders'
import { retrain } from '../electron/engine/methods/baselines'
import { unlearnContext } from '../electron/engine/methods/method'
import { initParams, specOf, type Architecture } from '../electron/engine/models/spec'
import { identify, trainedDraft } from '../electron/engine/models/store'
import { Random } from '../electron/engine/random'
import { tf } from '../electron/engine/tf'
import { defaultTrainConfig, train, uploadData, type TrainConfig } from '../electron/engine/train'
import { exactLogregOptimum, logregGradientNorm } from '../tests/support/exact-logreg'
import { importFashionMnist, log } from './fashion-mnist'

const FORGET_FRACTION = 0.05
const FORGET_SEED = 99

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = performance.now()
  const value = await fn()
  return { value, seconds: (performance.now() - start) / 1000 }
}

function norm(v: ArrayLike<number>): number {
  let sum = 0
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) ** 2
  return Math.sqrt(sum)
}

function relativeDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let difference = 0
  for (let i = 0; i < b.length; i++) difference += ((a[i] as number) - (b[i] as number)) ** 2
  return Math.sqrt(difference) / norm(b)
}

/** About `fraction` of the training rows, as whole subjects in a seeded order. */
function chooseForget(dataset: Dataset): Int32Array {
  const rowsOf = new Map<string, number[]>()
  for (const row of dataset.train) {
    const subject = dataset.subjects[row] as string
    rowsOf.set(subject, [...(rowsOf.get(subject) ?? []), row])
  }
  const wanted = Math.round(FORGET_FRACTION * dataset.train.length)
  const forget: number[] = []
  for (const subject of new Random(FORGET_SEED).shuffle([...rowsOf.keys()].sort())) {
    if (forget.length >= wanted) break
    forget.push(...(rowsOf.get(subject) ?? []))
  }
  return Int32Array.from(forget.sort((a, b) => a - b))
}

interface Result {
  dataset: string
  trainRows: number
  forgotten: number
  parameters: number
  l2: number
  /** How the distance to the optimum was obtained. */
  reference: 'Newton, exact Hessian' | 'bound ‖∇F‖/l2'
  referenceSeconds: number | null
  seconds: {
    sgdTrain: number
    lbfgsTrain: number
    sgdReplayRetrain: number
    lbfgsRetrain: number
    lbfgsRetrainFromZero: number
  }
  /** SGD's replayed retrain over L-BFGS's retrain (warm start), same run. */
  sgdOverLbfgs: number
  lbfgsIterations: { train: number; retrain: number; retrainFromZero: number }
  /** ‖θ − θ*‖ / ‖θ*‖ on digits; on Fashion-MNIST its upper bound (‖∇F(θ)‖ / l2) / ‖θ‖. */
  relativeDistanceToOptimum: {
    lbfgsRetrain: number
    lbfgsRetrainFromZero: number
    sgdReplayRetrain: number
    lbfgsOriginal: number
  }
  /** ‖θ_SGD replay − θ_L-BFGS retrain‖ / ‖θ_L-BFGS retrain‖: SGD's distance to the optimum, measured. */
  sgdReplayToLbfgsRetrain: number
}

async function benchDataset(name: string, dataset: Dataset, l2: number): Promise<Result> {
  const { featureDim, classes } = dataset.manifest
  const arch: Architecture = { kind: 'logreg', inputs: featureDim, classes: classes.length }
  const spec = specOf(arch)
  const data = uploadData(dataset.features, dataset.labels, featureDim)
  const recipe = (optimizer: TrainConfig['optimizer']) => ({
    ...defaultTrainConfig,
    optimizer,
    learningRate: 0.05,
    momentum: 0.9,
    epochs: 20,
    batchSize: 64,
    l2,
    tolerance: 1e-6,
    initSeed: 1,
    trainRows: dataset.train.length,
  })
  const original = async (optimizer: TrainConfig['optimizer']) => {
    const training = recipe(optimizer)
    const run = await timed(() => train(spec, data, dataset.train, training, initParams(spec, 1)))
    const draft = trainedDraft({ name, arch, dataset: dataset.manifest, training, backend: tf.getBackend() })
    return { manifest: identify(draft, run.value.params), params: run.value.params, run }
  }
  try {
    // Untimed: the backend's first kernels for these shapes are no method's cost.
    await train(spec, data, dataset.train, { ...recipe('sgd'), epochs: 1 }, initParams(spec, 1))
    log(`${name}: training the originals (SGD, then L-BFGS)…`)
    const sgd = await original('sgd')
    const lbfgs = await original('lbfgs')
    const forget = chooseForget(dataset)
    const sgdContext = unlearnContext({ spec, dataset, data, original: sgd }, forget)
    const lbfgsContext = unlearnContext({ spec, dataset, data, original: lbfgs }, forget)
    log(`${name}: retraining without ${forget.length} rows (SGD replay, L-BFGS warm, L-BFGS from zero)…`)
    const sgdReplay = await timed(() => retrain(sgdContext, 'replay'))
    const lbfgsRetrain = await timed(() => retrain(lbfgsContext, 'replay'))
    const lbfgsFromZero = await timed(() => retrain(lbfgsContext, 'independent'))
    const retained = lbfgsContext.retainRows
    const iterations = (details: Record<string, unknown>) =>
      (details.convergence as { iterations: number }).iterations
    const runs = {
      lbfgsRetrain: lbfgsRetrain.value.params,
      lbfgsRetrainFromZero: lbfgsFromZero.value.params,
      sgdReplayRetrain: sgdReplay.value.params,
      lbfgsOriginal: lbfgs.params,
    }
    let reference: Result['reference']
    let referenceSeconds: number | null = null
    let distances: Result['relativeDistanceToOptimum']
    // The dense Hessian has parameters² entries: exact Newton up to a few thousand parameters.
    if (spec.size <= 2000) {
      log(`${name}: the Newton optimum on the retained rows…`)
      const exact = await timed(async () =>
        exactLogregOptimum(dataset.features, dataset.labels, retained, featureDim, classes.length, l2),
      )
      reference = 'Newton, exact Hessian'
      referenceSeconds = exact.seconds
      const at = (params: Float32Array) => relativeDistance(params, exact.value.params)
      distances = {
        lbfgsRetrain: at(runs.lbfgsRetrain),
        lbfgsRetrainFromZero: at(runs.lbfgsRetrainFromZero),
        sgdReplayRetrain: at(runs.sgdReplayRetrain),
        lbfgsOriginal: at(runs.lbfgsOriginal),
      }
    } else {
      reference = 'bound ‖∇F‖/l2'
      const bound = (params: Float32Array) =>
        logregGradientNorm(
          dataset.features,
          dataset.labels,
          retained,
          featureDim,
          classes.length,
          l2,
          params,
        ) /
        l2 /
        norm(params)
      distances = {
        lbfgsRetrain: bound(runs.lbfgsRetrain),
        lbfgsRetrainFromZero: bound(runs.lbfgsRetrainFromZero),
        sgdReplayRetrain: bound(runs.sgdReplayRetrain),
        lbfgsOriginal: bound(runs.lbfgsOriginal),
      }
    }
    return {
      dataset: name,
      trainRows: dataset.train.length,
      forgotten: forget.length,
      parameters: spec.size,
      l2,
      reference,
      referenceSeconds,
      seconds: {
        sgdTrain: sgd.run.seconds,
        lbfgsTrain: lbfgs.run.seconds,
        sgdReplayRetrain: sgdReplay.seconds,
        lbfgsRetrain: lbfgsRetrain.seconds,
        lbfgsRetrainFromZero: lbfgsFromZero.seconds,
      },
      sgdOverLbfgs: sgdReplay.seconds / lbfgsRetrain.seconds,
      lbfgsIterations: {
        train: lbfgs.run.value.steps,
        retrain: iterations(lbfgsRetrain.value.details),
        retrainFromZero: iterations(lbfgsFromZero.value.details),
      },
      relativeDistanceToOptimum: distances,
      sgdReplayToLbfgsRetrain: relativeDistance(runs.sgdReplayRetrain, runs.lbfgsRetrain),
    }
  } finally {
    data.x.dispose()
    data.y.dispose()
  }
}

const s = (seconds: number) => `${seconds.toFixed(2)} s`
const e = (value: number) => value.toExponential(2)

function print(r: Result): void {
  const d = r.relativeDistanceToOptimum
  const bound = r.reference === 'bound ‖∇F‖/l2' ? ' ≤' : ''
  console.log(
    [
      `${r.dataset}: logistic regression, ${r.parameters} parameters, ${r.trainRows} training rows, ${r.forgotten} forgotten, l2 = ${r.l2}`,
      `  optimum by ${r.reference}${r.referenceSeconds === null ? '' : ` (${s(r.referenceSeconds)})`}`,
      `  training:  SGD ${s(r.seconds.sgdTrain)}   L-BFGS ${s(r.seconds.lbfgsTrain)} (${r.lbfgsIterations.train} iterations)`,
      `  retrain:   SGD replay ${s(r.seconds.sgdReplayRetrain)}   L-BFGS ${s(r.seconds.lbfgsRetrain)} (${r.lbfgsIterations.retrain} iterations, from the original)   L-BFGS from zero ${s(r.seconds.lbfgsRetrainFromZero)} (${r.lbfgsIterations.retrainFromZero} iterations)`,
      `  SGD replay / L-BFGS retrain wall time: ${r.sgdOverLbfgs.toFixed(2)}×`,
      `  ‖θ − θ*‖/‖θ*‖:  L-BFGS retrain${bound} ${e(d.lbfgsRetrain)}   from zero${bound} ${e(d.lbfgsRetrainFromZero)}   SGD replay${bound} ${e(d.sgdReplayRetrain)}   original (saw the rows)${bound} ${e(d.lbfgsOriginal)}`,
      `  ‖SGD replay − L-BFGS retrain‖/‖L-BFGS retrain‖: ${e(r.sgdReplayToLbfgsRetrain)}`,
    ].join('\n'),
  )
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      datasets: { type: 'string', default: 'digits,fashion-mnist' },
      'fashion-rows': { type: 'string', default: '10000' },
      l2: { type: 'string', default: '0.01' },
      json: { type: 'boolean', default: false },
    },
  })
  const l2 = Number(values.l2)
  if (!(l2 > 0)) throw new Error(`--l2 must be above 0 (L-BFGS needs it), not ${values.l2}`)
  if (!(await tf.setBackend('wasm'))) throw new Error('the WASM backend could not be initialised')
  await tf.ready()
  log(`Backend: ${tf.getBackend()} (${os.cpus().length} cores)`)
  const results: Result[] = []
  for (const name of values.datasets.split(',')) {
    if (name === 'digits') {
      const file = 'resources/datasets/digits.csv'
      const dataset = importCsvDataset(readFileSync(file, 'utf8'), {
        file,
        mapping: { subjectColumn: 'subject_id', labelColumn: 'digit' },
        createdAt: '2026-01-01T00:00:00Z',
      })
      results.push(await benchDataset(name, dataset, l2))
    } else if (name === 'fashion-mnist') {
      const dataDir = path.join(os.tmpdir(), `lethe-bench-convex-${process.pid}`)
      mkdirSync(dataDir, { recursive: true })
      try {
        const manifest = await importFashionMnist(dataDir, Number(values['fashion-rows']))
        const dataset = await loadDataset(folders(dataDir).datasets, manifest.id)
        results.push(await benchDataset(name, dataset, l2))
      } finally {
        rmSync(dataDir, { recursive: true, force: true })
      }
    } else throw new Error(`Unknown dataset ${name}: digits or fashion-mnist.`)
    const last = results.at(-1) as Result
    if (!values.json) print(last)
  }
  if (values.json) console.log(JSON.stringify(results, null, 2))
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
