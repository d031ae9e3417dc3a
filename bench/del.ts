/**
 * `npm run bench:del`: DEL, localized unlearning (ALGORITHMS.md §4), on Fashion-MNIST, on the
 * selected backend (WASM without a GPU), for a CNN and an MLP trained with SGD and momentum; a
 * seeded set of rows is forgotten, from every class (IID) or, with --forget-classes, only from
 * some (the paper's non-IID setting: classes 2 and 5 of CIFAR-10).
 *
 * For each model, side by side in one run: DEL at α ∈ {0.05, 0.1, 0.3} against the random and
 * saliency (SalLoc) masks at the same budget, the shallowest / deepest layers and CritMem at the
 * largest α, full fine-tuning, gradient ascent (NegGrad, and NegGrad+ with α = 0.99) and the
 * replayed exact retrain: the share of parameters changed, the time (and its ratio to the
 * retrain's), forget, retain and test accuracy, the forget set's MIA AUC, and the average gap to
 * the retrain (mean |Δ| of the three accuracies and the AUC, in points; the paper reports
 * Δ = oracle − method).
 *
 * Data: Debian's dataset-fashion-mnist, installed by the bench when missing (as root).
 *
 *   npx tsx bench/del.ts [--rows 4000] [--models cnn,mlp] [--epochs 10] [--forget 400]
 *                        [--forget-classes 2,5] [--fractions 0.05,0.1,0.3]
 *                        [--baselines random,saliency,shallow,deep,critmem]
 *                        [--del-epochs N] [--del-lr R] [--json]
 */
import os from 'node:os'
import { parseArgs } from 'node:util'
import type { z } from 'zod'
import { TrainOptions, type ArchitectureInput } from '../electron/contract/engine'
import { folders } from '../electron/engine/folders'
import { trainModel, unlearnModel, type JobControl } from '../electron/engine/jobs'
import type { MaskView } from '../electron/engine/methods/del'
import type { CriticalSearch } from '../electron/engine/methods/localize'
import type { UnlearnResult } from '../electron/engine/models/runs'
import { loadModel } from '../electron/engine/models/store'
import { log, scoresOf, unlearningSetting } from './fashion-mnist'

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '4000' },
    models: { type: 'string', default: 'cnn,mlp' },
    epochs: { type: 'string', default: '10' },
    forget: { type: 'string', default: '400' },
    fractions: { type: 'string', default: '0.05,0.1,0.3' },
    'forget-classes': { type: 'string', default: '' },
    baselines: { type: 'string', default: 'random,saliency,shallow,deep,critmem' },
    'del-epochs': { type: 'string' },
    'del-lr': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
const trainRows = Number(args.rows)
const control: JobControl = { signal: new AbortController().signal, progress: () => {} }

const forgetClasses = args['forget-classes'] === '' ? [] : args['forget-classes'].split(',').map(Number)
const { backend, dataDir, manifest, dataset, forget } = await unlearningSetting(
  'del',
  trainRows,
  Number(args.forget),
  forgetClasses,
)

type Scores = UnlearnResult['report']['original']

/** SalUn's "average gap": mean |method − retrain| over forget, retain and test accuracy and the MIA AUC, in points. */
const averageGap = (s: ReturnType<typeof scoresOf>, oracle: ReturnType<typeof scoresOf>) =>
  (100 / 4) *
  (Math.abs(s.forget - oracle.forget) +
    Math.abs(s.retain - oracle.retain) +
    Math.abs(s.test - oracle.test) +
    Math.abs((s.miaAuc ?? Number.NaN) - (oracle.miaAuc ?? Number.NaN)))

interface Row {
  method: string
  changed: number
  seconds: number
  scores: ReturnType<typeof scoresOf>
}

const runs = []
for (const kind of args.models.split(',')) {
  const arch: z.infer<typeof ArchitectureInput> =
    kind === 'cnn' ? { kind: 'cnn', filters: [8, 16], kernel: 3, dense: 64 } : { kind: 'mlp', hidden: [128] }
  const training = TrainOptions.parse({
    learningRate: 0.05,
    momentum: 0.9,
    epochs: Number(args.epochs),
    batchSize: 64,
    schedule: 'cosine',
    l2: 0,
  })
  log(`\n${kind}: training (SGD, momentum 0.9, cosine, ${training.epochs} epochs)…`)
  const started = performance.now()
  const model = await trainModel({ dataDir, datasetId: manifest.id, arch, training, name: kind }, control)
  const trainS = (performance.now() - started) / 1000
  const original = (await loadModel(folders(dataDir).models, model.id)).params
  const changedShare = async (result: UnlearnResult) => {
    const params = (await loadModel(folders(dataDir).models, result.model.id)).params
    let changed = 0
    for (let i = 0; i < params.length; i++) if (!Object.is(params[i], original[i])) changed += 1
    return changed / params.length
  }
  const unlearn = (method: string, options: Record<string, unknown>, reference = false) =>
    unlearnModel(
      {
        dataDir,
        modelId: model.id,
        method,
        rows: forget,
        strictRows: true,
        requestId: null,
        reference,
        options,
      },
      control,
    )
  const rows: Row[] = []
  const add = async (label: string, result: UnlearnResult) => {
    const row = {
      method: label,
      changed: await changedShare(result),
      seconds: result.timings.unlearnMs / 1000,
      scores: scoresOf(result.report.unlearned),
    }
    rows.push(row)
    log(`  ${label}: ${row.seconds.toFixed(1)} s, test ${row.scores.test.toFixed(3)}`)
    return result
  }

  log('  fine-tuning, with the replayed exact retrain beside it…')
  const finetuned = await add('finetune', await unlearn('finetune', {}, true))
  const reference = finetuned.report.reference as Scores
  const retrainS = (finetuned.reference?.ms ?? Number.NaN) / 1000
  rows.unshift({ method: 'retrain (replay)', changed: 1, seconds: retrainS, scores: scoresOf(reference) })
  await add('neggrad', await unlearn('neggrad', {}))
  await add('neggrad+ (0.99)', await unlearn('neggrad', { alpha: 0.99 }))
  const optional = (flag: 'del-epochs' | 'del-lr') =>
    args[flag] === undefined ? undefined : Number(args[flag])
  const finetuning = { epochs: optional('del-epochs'), learningRate: optional('del-lr') }
  const fractions = args.fractions.split(',').map(Number)
  const baselines = args.baselines.split(',').filter(Boolean)
  // The per-budget baselines at every α; the layer baselines and CritMem at the paper's operating point (the largest α).
  const perBudget = ['random', 'saliency']
  for (const fraction of fractions) {
    const at = baselines.filter((b) => perBudget.includes(b) || fraction === Math.max(...fractions))
    for (const localization of ['del', ...at]) {
      const result = await add(
        `${localization} α=${fraction}`,
        await unlearn('del', { fraction, localization, ...finetuning }),
      )
      const mask = result.details.mask as MaskView
      const perView = mask.layers
        .map((l) => `${l.name} ${((100 * l.selected) / l.entries).toFixed(0)}%`)
        .join(', ')
      log(
        `    reset ${(100 * mask.totals.selectedFraction).toFixed(1)}% (${perView}), trainable ${(100 * mask.totals.trainableFraction).toFixed(1)}%, ${result.details.epochs} epochs at lr ${result.details.learningRate}`,
      )
      const search = result.details.critmem as CriticalSearch | undefined
      const timings = result.details.timings as { localizeMs: number }
      if (search)
        log(
          `    CritMem: ${search.flipped} of ${search.rows} rows flipped after ${search.meanUnits?.toFixed(1)} units on average (cap ${search.cap}); ${search.selectedUnits} of ${search.units} units reset; search ${(timings.localizeMs / 1000).toFixed(1)} s`,
        )
    }
  }
  runs.push({
    model: kind === 'cnn' ? 'CNN conv 8/16 (3×3), dense 64' : 'MLP 784-128-10',
    parameters: model.parameters,
    epochs: training.epochs,
    trainS,
    retrainS,
    original: scoresOf(finetuned.report.original),
    rows,
  })
}

const result = {
  backend,
  cores: os.cpus().length,
  trainRows: dataset.train.length,
  forget: forget.length,
  forgetClasses,
  runs,
}
if (args.json) console.log(JSON.stringify(result, null, 2))
else {
  const f = (v: number | null, digits = 3) => (v !== null && Number.isFinite(v) ? v.toFixed(digits) : '—')
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`.padStart(6)
  const from = forgetClasses.length === 0 ? 'from every class' : `from classes ${forgetClasses.join(', ')}`
  console.log(
    `DEL on Fashion-MNIST, ${result.trainRows} training rows, ${result.forget} forgotten ${from}, backend ${result.backend} (${result.cores} cores)`,
  )
  for (const r of runs) {
    console.log(
      `\n${r.model} (d = ${r.parameters}, SGD, ${r.epochs} epochs; training took ${f(r.trainS, 1)} s)`,
    )
    console.log(
      `  ${'method'.padEnd(20)} ${'changed'.padStart(7)} ${'time'.padStart(8)} ${'÷retrain'.padStart(8)}  ${'forget'.padStart(6)}  ${'retain'.padStart(6)}  ${'test'.padStart(6)}  MIA AUC  avg gap`,
    )
    const oracle = (r.rows[0] as Row).scores
    const line = (method: string, changed: number | null, seconds: number | null, s: Row['scores']) =>
      console.log(
        `  ${method.padEnd(20)} ${changed === null ? '—'.padStart(7) : pct(changed).padStart(7)} ${seconds === null ? '—'.padStart(8) : `${f(seconds, 1)} s`.padStart(8)} ${seconds === null ? '—'.padStart(8) : f(seconds / r.retrainS, 2).padStart(8)}  ${pct(s.forget)}  ${pct(s.retain)}  ${pct(s.test)}  ${f(s.miaAuc).padStart(7)}  ${f(averageGap(s, oracle), 2).padStart(7)}`,
      )
    line('original', null, null, r.original)
    for (const row of r.rows) line(row.method, row.changed, row.seconds, row.scores)
  }
}
