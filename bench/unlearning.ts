/**
 * `npm run bench:unlearning`: what unlearning does on the two demo sets, on the WASM backend.
 * An MLP is trained on the training split; a seeded ~5% of the training rows, taken as whole
 * subjects (as an erasure request would), is then forgotten by exact retraining (replayed:
 * same seed, initialisation and batch order without those rows), by fine-tuning on the
 * retained rows (3 epochs) and by NegGrad (2 epochs of gradient ascent on the forget rows).
 * For each model: forget, test and retain accuracy, the membership-inference AUC on the forget
 * rows with its 95% bootstrap interval, the L2 distance to the replayed retrain, and the wall
 * time relative to that retrain (measured in the same run). Two independent retrains give the
 * noise floor of the distance. No targets are checked.
 *
 *   npx tsx bench/unlearning.ts [--datasets breast-cancer,digits] [--forget-seed 99] [--json]
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { importCsvDataset } from '../electron/engine/data/csv-dataset'
import type { Dataset } from '../electron/engine/data/dataset'
import { retrain, finetuneMethod, negGradMethod } from '../electron/engine/methods/baselines'
import { unlearnContext, type UnlearnOutcome } from '../electron/engine/methods/method'
import { l2Distance, type MiaResult } from '../electron/engine/metrics'
import { describeArch, initParams, specOf, type Architecture } from '../electron/engine/models/spec'
import { identify, trainedDraft } from '../electron/engine/models/store'
import { Random } from '../electron/engine/random'
import { tf } from '../electron/engine/tf'
import { defaultTrainConfig, train, uploadData } from '../electron/engine/train'
import { verificationReport, type ModelScores } from '../electron/engine/verify'

const DEMOS = {
  'breast-cancer': {
    file: 'resources/datasets/breast-cancer.csv',
    mapping: { subjectColumn: 'patient_id', labelColumn: 'diagnosis' },
    hidden: 32,
  },
  digits: {
    file: 'resources/datasets/digits.csv',
    mapping: { subjectColumn: 'subject_id', labelColumn: 'digit' },
    hidden: 64,
  },
} as const
type DemoName = keyof typeof DEMOS

const FORGET_FRACTION = 0.05
const FINETUNE_EPOCHS = 3
const NEGGRAD_EPOCHS = 2

const TRAINING = {
  ...defaultTrainConfig,
  optimizer: 'sgd' as const,
  epochs: 30,
  batchSize: 32,
  learningRate: 0.05,
  momentum: 0.9,
  l2: 1e-4,
  schedule: { kind: 'constant' as const },
  seed: 1,
  initSeed: 1,
}

const log = (line: string) => process.stderr.write(`${line}\n`)

/** Runs `fn` and measures its wall time in seconds. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = performance.now()
  const value = await fn()
  return { value, seconds: (performance.now() - start) / 1000 }
}

/**
 * About `fraction` of the training rows, as whole subjects: the training split's subjects in a
 * seeded order, each taken with all its training rows, until the share is reached.
 */
function chooseForget(dataset: Dataset, fraction: number, seed: number) {
  const rowsOf = new Map<string, number[]>()
  for (const row of dataset.train) {
    const subject = dataset.subjects[row] as string
    let list = rowsOf.get(subject)
    if (!list) rowsOf.set(subject, (list = []))
    list.push(row)
  }
  const order = new Random(seed).shuffle([...rowsOf.keys()].sort())
  const wanted = Math.round(fraction * dataset.train.length)
  const subjects: string[] = []
  const forget: number[] = []
  for (const subject of order) {
    if (forget.length >= wanted) break
    subjects.push(subject)
    forget.push(...(rowsOf.get(subject) ?? []))
  }
  const chosen = new Set(subjects)
  const testRowsOfSubjects = Array.from(dataset.test).filter((r) => chosen.has(dataset.subjects[r] as string))
  return {
    rows: Int32Array.from(forget.sort((a, b) => a - b)),
    subjects,
    testRowsOfSubjects: testRowsOfSubjects.length,
  }
}

interface ModelRow {
  name: string
  scores: ModelScores
  /** ‖θ − θ_replayed retrain‖₂. */
  distanceToReplay: number
  seconds: number
  /** Wall time over the replayed retrain's, same run. */
  timeVsRetrain: number
  details: Record<string, unknown>
}

interface DatasetResult {
  dataset: string
  rows: number
  trainRows: number
  testRows: number
  subjects: number
  architecture: string
  parameters: number
  training: typeof TRAINING
  forget: {
    seed: number
    fraction: number
    rows: number
    subjects: number
    shareOfTraining: number
    testRowsOfSameSubjects: number
  }
  models: ModelRow[]
  /** ‖θ_original − θ_replay‖₂. */
  originalToReplay: number
  /** ‖θ_independent#1 − θ_independent#2‖₂: below this, a distance is noise. */
  noiseFloor: number
  agreementWithReplay: Record<string, { test: number; forget: number }>
}

async function benchDataset(name: DemoName, forgetSeed: number): Promise<DatasetResult> {
  const demo = DEMOS[name]
  const dataset = importCsvDataset(readFileSync(demo.file, 'utf8'), {
    file: demo.file,
    mapping: demo.mapping,
    createdAt: '2026-01-01T00:00:00Z',
  })
  const { featureDim } = dataset.manifest
  const arch: Architecture = {
    kind: 'mlp',
    inputs: featureDim,
    hidden: [demo.hidden],
    classes: dataset.manifest.classes.length,
  }
  const spec = specOf(arch)
  const data = uploadData(dataset.features, dataset.labels, featureDim)
  const training = { ...TRAINING, trainRows: dataset.train.length }
  try {
    // One untimed training run first: the backend's first kernels for these shapes and V8's
    // warm-up of the training loop are not any method's cost (a cold first run is ~1.5× slower).
    await train(spec, data, dataset.train, training, initParams(spec, training.initSeed))
    log(`${name}: training the original (${describeArch(arch)}, ${training.epochs} epochs)…`)
    const trained = await timed(() =>
      train(spec, data, dataset.train, training, initParams(spec, training.initSeed)),
    )
    const draft = trainedDraft({
      name: `bench ${name}`,
      arch,
      dataset: dataset.manifest,
      training,
      backend: tf.getBackend(),
    })
    const original = { manifest: identify(draft, trained.value.params), params: trained.value.params }
    const forget = chooseForget(dataset, FORGET_FRACTION, forgetSeed)
    const context = unlearnContext({ spec, dataset, data, original }, forget.rows)

    log(`${name}: retraining without ${forget.rows.length} rows (replay, then two independent draws)…`)
    const replay = await timed(() => retrain(context, 'replay'))
    const independent1 = await timed(() => retrain(context, 'independent', 1))
    const independent2 = await timed(() => retrain(context, 'independent', 2))
    log(`${name}: fine-tuning (${FINETUNE_EPOCHS} epochs) and NegGrad (${NEGGRAD_EPOCHS} epochs)…`)
    const finetune = await timed(() => finetuneMethod.unlearn(context, { epochs: FINETUNE_EPOCHS }))
    const neggrad = await timed(() => negGradMethod.unlearn(context, { epochs: NEGGRAD_EPOCHS }))

    const rows = { forget: context.forgetRows, retain: context.retainRows }
    const reference = replay.value.params
    const candidates: [string, { value: UnlearnOutcome; seconds: number }][] = [
      [
        'original',
        {
          value: { params: trained.value.params, details: { steps: trained.value.steps } },
          seconds: trained.seconds,
        },
      ],
      ['retrain (replay)', replay],
      ['retrain (independent #1)', independent1],
      [`fine-tune (${FINETUNE_EPOCHS} epochs)`, finetune],
      [`NegGrad (${NEGGRAD_EPOCHS} epochs)`, neggrad],
    ]
    const models: ModelRow[] = []
    const agreementWithReplay: DatasetResult['agreementWithReplay'] = {}
    for (const [label, run] of candidates) {
      const report = await verificationReport(spec, data, dataset, rows, {
        original: trained.value.params,
        unlearned: run.value.params,
        reference,
      })
      if (report.agreementWithReference) agreementWithReplay[label] = report.agreementWithReference
      models.push({
        name: label,
        scores: report.unlearned,
        distanceToReplay: report.distance.unlearnedToReference ?? Number.NaN,
        seconds: run.seconds,
        timeVsRetrain: run.seconds / replay.seconds,
        details: run.value.details,
      })
    }
    return {
      dataset: name,
      rows: dataset.manifest.rows,
      trainRows: dataset.train.length,
      testRows: dataset.test.length,
      subjects: dataset.manifest.subjects,
      architecture: describeArch(arch),
      parameters: spec.size,
      training,
      forget: {
        seed: forgetSeed,
        fraction: FORGET_FRACTION,
        rows: forget.rows.length,
        subjects: forget.subjects.length,
        shareOfTraining: forget.rows.length / dataset.train.length,
        testRowsOfSameSubjects: forget.testRowsOfSubjects,
      },
      models,
      originalToReplay: l2Distance(trained.value.params, reference),
      noiseFloor: l2Distance(independent1.value.params, independent2.value.params),
      agreementWithReplay,
    }
  } finally {
    data.x.dispose()
    data.y.dispose()
  }
}

// ── report ──────────────────────────────────────────────────────────────────────────────

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—')
const mia = (m: MiaResult) =>
  m.auc === null
    ? `— (${m.note ?? 'no attack'})`
    : `${m.auc.toFixed(3)} [${m.ci?.[0].toFixed(3)}, ${m.ci?.[1].toFixed(3)}]`

function print(results: DatasetResult[]): void {
  console.log(
    `Unlearning on the demo sets, ${tf.getBackend()} backend (${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version})`,
  )
  for (const r of results) {
    const t = r.training
    console.log(
      `\n${r.dataset}: ${r.rows} rows (${r.trainRows} train, ${r.testRows} test), ${r.subjects} subjects`,
    )
    console.log(
      `  model     ${r.architecture}, ${r.parameters} parameters; ${t.epochs} epochs, batch ${t.batchSize}, lr ${t.learningRate}, SGD momentum ${t.momentum}, l2 ${t.l2}, seed ${t.seed}`,
    )
    console.log(
      `  forget    ${r.forget.rows} training rows (${pct(r.forget.shareOfTraining)}) of ${r.forget.subjects} whole subjects, seed ${r.forget.seed}; their subjects also have ${r.forget.testRowsOfSameSubjects} test rows`,
    )
    console.log('')
    const header = [
      'model'.padEnd(26),
      'forget acc'.padStart(10),
      'MIA AUC [95% CI]'.padEnd(24),
      'test acc'.padStart(8),
      'retain acc'.padStart(10),
      '‖θ−θ_replay‖'.padStart(12),
      'wall s'.padStart(7),
      '× retrain'.padStart(9),
    ]
    console.log(`  ${header.join('  ')}`)
    for (const m of r.models) {
      console.log(
        `  ${[
          m.name.padEnd(26),
          pct(m.scores.forget.accuracy).padStart(10),
          mia(m.scores.mia).padEnd(24),
          pct(m.scores.test.accuracy).padStart(8),
          pct(m.scores.retain.accuracy).padStart(10),
          m.distanceToReplay.toFixed(3).padStart(12),
          m.seconds.toFixed(3).padStart(7),
          `${m.timeVsRetrain.toFixed(m.timeVsRetrain < 0.1 ? 3 : 2)}×`.padStart(9),
        ].join('  ')}`,
      )
    }
    console.log('')
    console.log(`  distance original → replayed retrain   ${r.originalToReplay.toFixed(3)}`)
    console.log(`  noise floor (independent #1 vs #2)     ${r.noiseFloor.toFixed(3)}`)
    const neggrad = r.models.find((m) => m.name.startsWith('NegGrad'))
    if (neggrad)
      console.log(
        `  NegGrad ran ${String(neggrad.details.steps)} steps, stopped by ${String(neggrad.details.stoppedBy)} (lr ${Number(Number(neggrad.details.learningRate).toPrecision(4))})`,
      )
  }
  console.log(
    '\nMIA: a logistic-regression attacker on per-sample loss, forget rows vs test rows (0.5 = indistinguishable). Wall times cover the method alone (after one untimed training run per dataset); "× retrain" divides by the replayed retrain of the same run. No targets are checked.',
  )
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      datasets: { type: 'string', default: 'breast-cancer,digits' },
      'forget-seed': { type: 'string', default: '99' },
    },
  })
  const names = values.datasets.split(',').map((s) => s.trim())
  for (const n of names)
    if (!(n in DEMOS)) throw new Error(`--datasets takes ${Object.keys(DEMOS).join(', ')}; got ${n}`)
  const forgetSeed = Number(values['forget-seed'])
  if (!Number.isSafeInteger(forgetSeed)) throw new Error('--forget-seed takes a whole number')
  if (!(await tf.setBackend('wasm'))) throw new Error('the WASM backend could not be initialised')
  await tf.ready()
  const results: DatasetResult[] = []
  for (const name of names) results.push(await benchDataset(name as DemoName, forgetSeed))
  if (values.json)
    console.log(
      JSON.stringify(
        {
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
          cpus: os.cpus().length,
          backend: tf.getBackend(),
          results,
        },
        null,
        2,
      ),
    )
  else print(results)
}

await main()
