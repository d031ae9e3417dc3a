/** `lethe dataset …`, `lethe model …`, `lethe unlearn`, `lethe backends`: the engine from the command line. */
import path from 'node:path'
import type { Command } from 'commander'
import type { Input } from '../contract'
import { LBFGS_DEFAULT_L2 } from '../contract/engine'
import type { Evaluation } from '../engine/jobs'
import type { UnlearnResult } from '../engine/models/runs'
import type { ModelScores } from '../engine/verify'
import type { MaskView } from '../engine/methods/del'
import type { CriticalSearch } from '../engine/methods/localize'
import type { ModelManifest } from '../engine/models/store'
import type { z } from 'zod'
import type { Certification } from '../contract/engine'
import { guaranteeLabel, strengthSentence } from '../contract/guarantee'
import type { FloorCheck } from '../engine/methods/floor'
import { formatInfo } from './format'
import { fileEntries, imageShape, integer, integers, number, rowIds } from './parse'
import { common, exit, run, runJob, type CommonOptions } from './run'

const names = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean)

const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : `${(100 * v).toFixed(1)}%`)

const row = (label: string, s: ModelScores | null) =>
  s
    ? `  ${label.padEnd(10)} forget ${pct(s.forget.accuracy).padStart(6)}  retain ${pct(s.retain.accuracy).padStart(6)}  test ${pct(s.test.accuracy).padStart(6)}  MIA AUC ${s.mia.auc === null || !s.mia.ci ? `n/a (${s.mia.note})` : `${s.mia.auc.toFixed(3)} [${s.mia.ci[0].toFixed(3)}, ${s.mia.ci[1].toFixed(3)}]`}`
    : ''

function formatUnlearn(value: unknown): string {
  const r = value as UnlearnResult
  const d = r.report.distance
  return [
    `New model ${r.model.id} (${r.method}, ${guaranteeLabel(r.guarantee)}): ${r.forgotten} rows forgotten in ${(r.timings.unlearnMs / 1000).toFixed(2)} s${r.heldOut ? ` (${r.heldOut} more were held out for testing, never trained on)` : ''}.`,
    `  ${strengthSentence(r.guarantee)}`,
    `  ${r.guarantee.meaning}`,
    row('original', r.report.original),
    row('unlearned', r.report.unlearned),
    r.report.reference
      ? row('retrained', r.report.reference)
      : '  (no reference: add --reference to retrain exactly and compare)',
    d.unlearnedToReference === null
      ? ''
      : `  L2 distance to the retrained model: original ${d.originalToReference?.toFixed(4)}, unlearned ${d.unlearnedToReference.toFixed(4)}`,
    d.noiseFloor === null
      ? ''
      : `  Noise floor (distance between two independent exact retrains): ${d.noiseFloor.toFixed(4)}`,
    certificationLines(r.method, r.details),
    floorLine(r.details),
    maskLine(r.details),
  ]
    .filter(Boolean)
    .join('\n')
}

/** A localized run's selection: how much of the model it reset and how much fine-tuning moved. */
function maskLine(details: Record<string, unknown>): string {
  const mask = details.mask as MaskView | undefined
  if (!mask) return ''
  const t = mask.totals
  const line = `  Localization ${String(details.localization)}: ${t.selected} of ${t.entries} parameters reset (${pct(t.selectedFraction)}); ${pct(t.trainableFraction)} trainable with the head, ${pct(t.changedFraction)} changed; the rest is bit-identical.`
  const search = details.critmem as CriticalSearch | undefined
  if (!search) return line
  const mean = search.meanUnits === null ? '' : ` after ${search.meanUnits.toFixed(1)} units on average`
  return `${line}\n  CritMem: ${search.flipped} of ${search.rows} rows flipped${mean} (at most ${search.cap} a row); ${search.selectedUnits} of the ${search.units} units found fit the budget.`
}

/** A certified run's noise, budget and constants, with where each constant came from. */
function certificationLines(method: string, details: Record<string, unknown>): string {
  const c = details.certification as z.infer<typeof Certification> | undefined
  if (!c) return ''
  const timings = details.timings as { applyMs: number } | undefined
  // HF's limit is on the noise's size (× ‖θ‖) and gives a row capacity; the certified method's is a test-accuracy floor.
  const hf = method === 'hf'
  return [
    c.noise
      ? `  Noise: σ = ${c.sigma.toPrecision(3)} in all (${c.topUp.toPrecision(3)} added now), for Δ = ${c.sensitivity.toPrecision(3)}; ${c.relativeNoise.toFixed(3)}× ‖θ‖${hf ? ` of the limit ${c.noiseLimit}` : ''}`
      : '  Noise switched off: this result is NOT certified.',
    `  Rows removed from the trained model: ${c.rowsDeleted}${hf ? ` of the ${c.capacityRows} the noise limit allows` : ''}${timings ? `; deletion took ${timings.applyMs.toFixed(2)} ms` : ''}`,
    ...c.constants.map(
      (k) =>
        `    ${k.symbol.padEnd(6)} ${String(Number(k.value.toPrecision(4))).padStart(11)}  ${k.source.padEnd(9)} ${k.name}: ${k.note}`,
    ),
  ].join('\n')
}

/** The accuracy floor a noisy release was held to, and what its draws scored. */
function floorLine(details: Record<string, unknown>): string {
  const check = details.floorCheck as FloorCheck | undefined
  if (!check) return ''
  return `  Accuracy floor ${pct(check.floor)} (trained ${pct(check.trainedAccuracy)}): ${check.probes.length} unpublished noise draws scored ${pct(check.expectedAccuracy)} on average; the published draw ${pct(check.releasedAccuracy)}`
}

export function registerEngineCommands(program: Command): void {
  common(program.command('backends'))
    .description('the compute backends the engine can see, and the one in use')
    .option(
      '--use <backend>',
      'set the backend: auto, webgpu, tensorflow, wasm or cpu (kept in the settings)',
    )
    .action((o: CommonOptions & { use?: string }) =>
      exit(
        o.use
          ? run(
              'settings.update',
              { backend: o.use } as Input<'settings.update'>,
              { ...o, writes: true },
              formatInfo,
            )
          : run('system.info', {}, o, formatInfo),
      ),
    )

  const dataset = program.command('dataset').description('training data with subject ids')
  common(dataset.command('import <file>'))
    .description(
      'import a table: CSV, TSV, JSON Lines (.jsonl, .ndjson) or Parquet (.parquet), with --subject-column and --label-column; or IDX images (with --labels)',
    )
    .option('--subject-column <name>', 'column holding the data subject id')
    .option('--label-column <name>', 'column holding the class label')
    .option('--numeric <columns>', 'comma-separated numeric feature columns (default: inferred)', names)
    .option('--categorical <columns>', 'comma-separated categorical feature columns, one-hot encoded', names)
    .option('--ignore <columns>', 'comma-separated columns to leave out', names)
    .option('--features <columns>', 'comma-separated feature columns to use (default: all the others)', names)
    .option(
      '--image-shape <HxWxC>',
      'tables: the feature columns are the pixels of H×W×C images, row-major (so a CNN can be trained)',
      imageShape,
    )
    .option('--labels <file>', 'IDX labels file, for an IDX images file')
    .option('--name <name>', 'display name')
    .option('--test-fraction <f>', 'share of rows held out for testing', number, 0.2)
    .option('--seed <n>', 'seed of the train/test split', integer, 42)
    .action((file: string, o: CommonOptions & Record<string, string | string[] | number | undefined>) =>
      exit(
        run(
          'datasets.import',
          {
            path: path.resolve(file),
            labelsPath: o.labels ? path.resolve(String(o.labels)) : undefined,
            subjectColumn: o.subjectColumn as string | undefined,
            labelColumn: o.labelColumn as string | undefined,
            numeric: o.numeric as string[] | undefined,
            categorical: o.categorical as string[] | undefined,
            ignore: o.ignore as string[] | undefined,
            features: o.features as string[] | undefined,
            imageShape: o.imageShape as [number, number, number] | undefined,
            name: o.name as string | undefined,
            testFraction: o.testFraction as number,
            seed: o.seed as number,
          },
          { ...o, writes: true },
          (d) =>
            `Imported ${d.id} "${d.name}": ${d.rows} rows (${d.split.train} train, ${d.split.test} test), ${d.featureDim} features, ${d.classes.length} classes, ${d.subjects} subjects.`,
        ),
      ),
    )
  common(dataset.command('columns <file>'))
    .description('a table’s columns with their first values, to choose the subject, label and features')
    .action((file: string, o: CommonOptions) =>
      exit(
        run('datasets.columns', { path: path.resolve(file) }, o, (t) =>
          [
            `${t.format}, ${t.columns.length} columns${t.rows === undefined ? '' : `, ${t.rows} rows`}:`,
            ...t.columns.map(
              (c) => `  ${c.name.padEnd(24)} ${c.numeric ? 'numbers' : 'text   '}  ${c.sample.join(', ')}`,
            ),
          ].join('\n'),
        ),
      ),
    )
  common(dataset.command('list'))
    .description('imported datasets')
    .action((o: CommonOptions) =>
      exit(
        run(
          'datasets.list',
          {},
          o,
          (ds) =>
            ds
              .map(
                (d) =>
                  `${d.id}  ${d.name}  ${d.rows} rows, ${d.classes.length} classes, ${d.subjects} subjects`,
              )
              .join('\n') || 'No datasets yet.',
        ),
      ),
    )

  common(dataset.command('remove-subjects <id>'))
    .description(
      'make a new version of a dataset without the rows of a request’s subjects (or of listed subject ids); the old version’s files are shredded',
    )
    .option('--request <id>', 'the erasure request whose subjects to remove')
    .option('--subjects <file>', 'file of subject ids, one per line', fileEntries)
    .action((id: string, o: CommonOptions & { request?: string; subjects?: string[] }) =>
      exit(
        run(
          'datasets.removeSubjects',
          { datasetId: id, requestId: o.request, subjects: o.subjects },
          { ...o, writes: true },
          (r) =>
            `${id} is replaced by ${r.dataset.id} (${r.dataset.rows} rows): ${r.removedRows} rows removed; the files of ${id} were shredded.`,
        ),
      ),
    )

  const model = program.command('model').description('models and their versions')
  common(model.command('train'))
    .description('train a model on a dataset’s training split (progress on stderr)')
    .requiredOption('--dataset <id>', 'dataset id')
    .requiredOption('--arch <kind>', 'logreg, mlp or cnn')
    .option('--hidden <sizes>', 'MLP hidden layer widths, e.g. 64 or 128,64', integers)
    .option('--epochs <n>', 'epochs', integer)
    .option('--batch-size <n>', 'batch size', integer)
    .option('--lr <rate>', 'learning rate', number)
    .option(
      '--optimizer <name>',
      'lbfgs (logistic regression only, the default there: trains to the optimum, so exact retraining is the optimum too), sgd or adam (exact retraining replays the run: a trajectory, not the optimum)',
    )
    .option('--tolerance <t>', 'lbfgs: stop within t·max(1, ‖θ‖) of the optimum (default 1e-6)', number)
    .option('--seed <n>', 'seed of the initialisation and the batch order', integer)
    .option('--l2 <coefficient>', 'L2 regularisation of the loss', number)
    .option('--momentum <m>', 'SGD momentum (0 is plain SGD)', number)
    .option('--schedule <kind>', 'learning-rate schedule: constant, cosine, step or exponential')
    .option('--lr-decay <gamma>', 'per-step decay of the exponential schedule', number)
    .option(
      '--prepare <method>',
      'record what a method needs while training: hf (selects plain SGD, one fixed batch order and the exponential schedule unless given), or certified (selects Adam and a projection radius of 20 unless given)',
    )
    .option('--radius <C>', 'project onto the ball ‖θ‖ ≤ C after every step (certified unlearning)', number)
    .option('--statistics-dtype <dtype>', 'storage of HF statistics: float32 or float16', 'float32')
    .option('--name <name>', 'display name')
    .action((o: CommonOptions & Record<string, unknown>) => {
      const arch = o.arch === 'mlp' ? { kind: 'mlp', hidden: o.hidden } : { kind: o.arch }
      const hf = o.prepare === 'hf'
      const certified = o.prepare === 'certified'
      const optimizer =
        o.optimizer ?? (hf ? 'sgd' : certified ? 'adam' : o.arch === 'logreg' ? 'lbfgs' : undefined)
      const training = Object.fromEntries(
        Object.entries({
          epochs: o.epochs,
          batchSize: o.batchSize,
          learningRate: o.lr,
          optimizer,
          momentum: o.momentum ?? (hf ? 0 : undefined),
          samePermutationEachEpoch: hf ? true : undefined,
          schedule: o.schedule ?? (hf ? 'exponential' : undefined),
          lrDecay: o.lrDecay,
          l2: o.l2 ?? (optimizer === 'lbfgs' ? LBFGS_DEFAULT_L2 : undefined),
          seed: o.seed,
          projectRadius: o.radius ?? (certified ? 20 : undefined),
          tolerance: o.tolerance,
        }).filter(([, v]) => v !== undefined),
      )
      const input = {
        datasetId: o.dataset,
        arch,
        training,
        prepare: o.prepare,
        statisticsDtype: o.statisticsDtype,
        name: o.name,
      } as Input<'models.train'>
      return exit(
        runJob('models.train', input, o, (value) => {
          const m = value as ModelManifest
          const prepared = m.preparation
            ? `; HF statistics ${(m.preparation.bytes / 1024 ** 2).toFixed(1)} MiB (${m.preparation.rows} rows × ${m.preparation.dim}, ${m.preparation.dtype}), recording ${(m.preparation.recordMs / 1000).toFixed(1)} s of ${(m.preparation.trainMs / 1000).toFixed(1)} s`
            : ''
          const solved = m.training.convergence
            ? `; L-BFGS converged in ${m.training.convergence.iterations} iterations, ‖∇F‖ = ${m.training.convergence.gradientNorm.toExponential(2)}`
            : ''
          return `Trained ${m.id} (${m.name})${prepared}${solved}.`
        }),
      )
    })
  common(model.command('import <file>'))
    .description(
      'import a model trained elsewhere for a dataset: an ONNX file (Conv stages with their activation and 2×2 pooling, GlobalAveragePool, Gemm or MatMul + Add layers with Relu, Sigmoid or Tanh; BatchNormalization folded; Softmax or LogSoftmax at the end; Dropout dropped), or a TF.js Layers model.json (as tensorflowjs_converter writes a Keras model; its weight shards beside it) of Conv2D, pooling, Flatten, Dropout, Activation and Dense layers',
    )
    .requiredOption('--dataset <id>', 'the dataset whose encoded features the model takes')
    .option('--name <name>', 'display name (default: the file name; for a model.json, its folder’s name)')
    .option(
      '--optimizer <name>',
      'the recipe exact retraining uses (Lethe’s; the file does not hold the original’s): lbfgs (logistic regression, the default there), adam (the default for a network) or sgd',
    )
    .option('--epochs <n>', 'retraining epochs', integer)
    .option('--lr <rate>', 'retraining learning rate (default 0.001 for a network)', number)
    .option('--l2 <coefficient>', 'retraining L2 regularisation', number)
    .action(
      (
        file: string,
        o: CommonOptions & {
          dataset: string
          name?: string
          optimizer?: string
          epochs?: number
          lr?: number
          l2?: number
        },
      ) =>
        exit(
          run(
            'models.import',
            {
              datasetId: o.dataset,
              path: path.resolve(file),
              name: o.name,
              training: Object.fromEntries(
                Object.entries({
                  optimizer: o.optimizer,
                  epochs: o.epochs,
                  learningRate: o.lr,
                  l2: o.l2,
                }).filter(([, v]) => v !== undefined),
              ),
            } as Input<'models.import'>,
            { ...o, writes: true },
            (m) =>
              `Imported ${m.id} (${m.name}): ${m.description}, ${m.parameters} parameters, from ${m.origin?.fileName} (SHA-256 ${m.origin?.sha256}); exact retraining will use Lethe's recipe (${m.training.optimizer === 'lbfgs' ? `L-BFGS to the optimum, l2 ${m.training.l2}` : `${m.training.optimizer}, ${m.training.epochs} epochs`}).`,
          ),
        ),
    )
  common(model.command('export <id>'))
    .description(
      'export a version as ONNX (every kind of model: Conv stages, pooling, Gemm layers with their activations, ending in the output the model was imported with, else Softmax); or as a TF.js Layers model (every kind of model): model.json and its weight shard group1-shard1of1.bin beside it',
    )
    .requiredOption(
      '--out <path>',
      'the file to write (for tfjs: the model.json, or a folder to write it into)',
    )
    .option('--format <format>', 'onnx or tfjs (default: tfjs when --out ends in .json, else onnx)')
    .action((id: string, o: CommonOptions & { out: string; format?: string }) =>
      exit(
        run(
          'models.export',
          {
            modelId: id,
            format: o.format ?? (/\.json$/i.test(o.out) ? 'tfjs' : 'onnx'),
            path: path.resolve(o.out),
          } as Input<'models.export'>,
          { ...o, writes: true },
          (r) =>
            r.format === 'tfjs'
              ? `Exported ${r.modelId} as a TF.js Layers model: ${r.files.map((f) => `${f.name} (${f.bytes} bytes, SHA-256 ${f.sha256})`).join(', ')}.`
              : `Exported ${r.modelId} as ONNX to ${r.path} (${r.bytes} bytes, SHA-256 ${r.sha256}).`,
        ),
      ),
    )
  common(model.command('list'))
    .description('model versions with their lineage')
    .action((o: CommonOptions) =>
      exit(
        run(
          'models.list',
          {},
          o,
          (ms) =>
            ms
              .map(
                (m) =>
                  `${m.id}  ${m.name}  ${m.description}  ${m.method}${m.parentId ? ` from ${m.parentId}` : ''}${m.requestId ? ` for ${m.requestId}` : ''}${m.deleted ? `  DELETED ${m.deleted.at}: ${m.deleted.reason}` : ''}`,
              )
              .join('\n') || 'No models yet.',
        ),
      ),
    )

  common(model.command('delete <id>'))
    .description(
      'delete a model version for good: its parameters and per-row files are shredded, the manifest kept as a tombstone (irreversible)',
    )
    .requiredOption('--reason <text>', 'why it is deleted (kept on record)')
    .option('--request <id>', 'the erasure request it is deleted for')
    .action((id: string, o: CommonOptions & { reason: string; request?: string }) =>
      exit(
        run(
          'models.delete',
          { modelId: id, reason: o.reason, requestId: o.request },
          { ...o, writes: true },
          (r) =>
            `Deleted ${r.id} on ${r.deleted.at}: ${r.shredded.length ? `shredded ${r.shredded.join(', ')}` : 'no files left to shred'}; its manifest remains as a tombstone (SHA-256 ${r.paramsSha256}).`,
        ),
      ),
    )
  common(model.command('retain <id>'))
    .description('record that a version still trained on a request’s rows is kept on purpose, and why')
    .requiredOption('--request <id>', 'the erasure request')
    .requiredOption('--reason <text>', 'why it is kept (a legal hold, say)')
    .action((id: string, o: CommonOptions & { reason: string; request: string }) =>
      exit(
        run(
          'models.retain',
          { modelId: id, requestId: o.request, reason: o.reason },
          { ...o, writes: true },
          (r) => `Recorded that ${r.modelId} is kept for ${r.requestId}: ${r.reason}`,
        ),
      ),
    )
  common(model.command('holding'))
    .description('the versions still trained on a request’s rows, deleted or kept')
    .requiredOption('--request <id>', 'the erasure request')
    .action((o: CommonOptions & { request: string }) =>
      exit(
        run(
          'models.holdingRows',
          { requestId: o.request },
          o,
          (vs) =>
            vs
              .map(
                (v) =>
                  `${v.id}  ${v.name}  ${v.method}  ${v.remaining} rows  ${v.deleted ? `deleted ${v.deleted.at}: ${v.deleted.reason}` : v.keptReason ? `kept: ${v.keptReason}` : 'still holds them'}`,
              )
              .join('\n') || 'No version holds the request’s rows.',
        ),
      ),
    )

  common(program.command('evaluate'))
    .description('score a model on some rows (forget set), its retained rows and the test split')
    .requiredOption('--model <id>', 'model version')
    .option('--reference <id>', 'a reference model (e.g. an exact retrain) to compare with')
    .requiredOption('--rows <file>', 'file of row ids, one per line', rowIds)
    .action((o: CommonOptions & { model: string; reference?: string; rows: number[] }) =>
      exit(
        run('models.evaluate', { modelId: o.model, referenceId: o.reference, rows: o.rows }, o, (v) => {
          const e = v as unknown as Evaluation
          return [
            row(e.model, e.scores),
            e.referenceScores ? row(e.reference ?? 'reference', e.referenceScores) : '',
            e.distanceToReference === null
              ? ''
              : `  L2 distance to the reference: ${e.distanceToReference.toFixed(4)}; agreement on test ${pct(e.agreementWithReference?.test)}`,
          ]
            .filter(Boolean)
            .join('\n')
        }),
      ),
    )

  common(program.command('unlearn'))
    .description('remove rows from a model: by request, by subject ids, or by row ids')
    .requiredOption('--model <id>', 'model version to unlearn from')
    .requiredOption('--method <name>', 'retrain, finetune, neggrad, hf, certified or del')
    .option('--request <id>', 'the erasure request whose subjects to remove')
    .option('--subjects <file>', 'file of subject ids, one per line', fileEntries)
    .option('--rows <file>', 'file of row ids, one per line', rowIds)
    .option('--reference', 'also retrain exactly, and compare')
    .option('--reference-mode <mode>', 'replay (same seed and batch order) or independent')
    .option('--noise-floor', 'also retrain independently twice, to show how far two exact retrains lie apart')
    .option('--epsilon <e>', 'certified methods: privacy loss ε (default: the setting)', number)
    .option('--delta <d>', 'certified methods: failure probability δ (default: the setting)', number)
    .option(
      '--no-noise',
      'certified methods: skip the noise, for measurement (the result is then NOT certified)',
    )
    .option(
      '--noise-limit <r>',
      'HF: refuse once the noise would exceed this fraction of ‖θ‖ (default 1)',
      number,
    )
    .option(
      '--accuracy-floor <a>',
      'hf, certified: lowest test accuracy (0 to 1) to publish a noisy model at (default: the trained model’s − 0.05)',
      number,
    )
    .option(
      '--solver <name>',
      'certified: exact (float64 Hessian and Cholesky, default up to 8,000 parameters for logreg, 3,000 for networks) or lissa',
    )
    .option('--lissa-depth <s>', 'certified: LiSSA recursion depth (default 1000)', integer)
    .option(
      '--lissa-scale <H>',
      'certified: LiSSA scale, above the Hessian’s top eigenvalue (default: twice it)',
      number,
    )
    .option(
      '--lambda <λ>',
      'certified: local-convexity term added to the Hessian (default 0 for logreg with l2 > 0, else 0.01)',
      number,
    )
    .option('--fraction <α>', 'DEL: share of all parameters to reset and retrain (default 0.3)', number)
    .option(
      '--localization <rule>',
      'DEL: del (|θ·∇loss| per neuron or channel, default), or a baseline: random, saliency (SalUn: |∇loss| per parameter), shallow or deep (whole layers from the input or the head), critmem (units each row needs, Maini et al.)',
    )
    .option('--epochs <n>', 'finetune, neggrad, DEL: epochs of (fine-)tuning', integer)
    .option('--lr <rate>', 'finetune, neggrad, DEL: learning rate', number)
    .action((o: CommonOptions & Record<string, unknown>) => {
      const options = Object.fromEntries(
        Object.entries({
          epsilon: o.epsilon,
          delta: o.delta,
          noise: o.noise === false ? false : undefined,
          noiseLimit: o.noiseLimit,
          accuracyFloor: o.accuracyFloor,
          lissaDepth: o.lissaDepth,
          lissaScale: o.lissaScale,
          lambda: o.lambda,
          solver: o.solver,
          fraction: o.fraction,
          localization: o.localization,
          epochs: o.epochs,
          learningRate: o.lr,
        }).filter(([, v]) => v !== undefined),
      )
      const input = {
        modelId: o.model,
        method: o.method,
        requestId: o.request,
        subjects: o.subjects,
        rows: o.rows,
        reference: Boolean(o.reference),
        referenceMode: o.referenceMode,
        noiseFloor: Boolean(o.noiseFloor),
        options,
      } as Input<'unlearn.start'>
      return exit(runJob('unlearn.start', input, o, formatUnlearn))
    })
}
