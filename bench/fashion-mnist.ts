/**
 * Fashion-MNIST for the benches: Debian's dataset-fashion-mnist (IDX, gzip), installed with
 * apt-get when missing and we are root, and imported into a bench's data folder at the size it
 * asks for, through the engine's own IDX importer.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { probeBackends, selectBackend } from '../electron/engine/backends'
import { loadDataset } from '../electron/engine/data/dataset'
import { folders } from '../electron/engine/folders'
import { importDataset } from '../electron/engine/jobs'
import type { UnlearnResult } from '../electron/engine/models/runs'
import { Random } from '../electron/engine/random'
import { tf } from '../electron/engine/tf'

const DATA_DIR = '/usr/share/datasets/fashion-mnist'
export const IMAGES = path.join(DATA_DIR, 'train-images-idx3-ubyte.gz')
export const LABELS = path.join(DATA_DIR, 'train-labels-idx1-ubyte.gz')
const PACKAGE = 'dataset-fashion-mnist'

/** The IDX files, installed from the distribution's package when missing and we may. */
export function ensureFashionMnist(): void {
  if (existsSync(IMAGES) && existsSync(LABELS)) return
  const root = process.getuid?.() === 0
  if (!root) {
    console.error(
      `Fashion-MNIST is not in ${DATA_DIR}. Install it with\n  sudo apt-get install -y ${PACKAGE}\nand run this again.`,
    )
    process.exit(1)
  }
  process.stderr.write(`Fashion-MNIST is not in ${DATA_DIR}; installing ${PACKAGE} with apt-get…\n`)
  const result = spawnSync('apt-get', ['install', '-y', PACKAGE], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0 || !existsSync(IMAGES) || !existsSync(LABELS)) {
    console.error(
      `apt-get install -y ${PACKAGE} did not provide ${IMAGES} and ${LABELS} (exit ${result.status ?? result.error?.message}). ` +
        'Run `apt-get update` first if the package is unknown.',
    )
    process.exit(1)
  }
}

/**
 * The first images of the training files, as many as make `trainRows` training rows with a 20 %
 * test split, imported into `dataDir` (the importer reads IDX, so the subset is written as IDX).
 */
export async function importFashionMnist(dataDir: string, trainRows: number) {
  ensureFashionMnist()
  const count = Math.round(trainRows / 0.8)
  // The training file holds 60,000 images; a fifth of the subset is held out for testing.
  if (count > 60_000)
    throw new Error(`Fashion-MNIST has 60,000 images: at most 48,000 training rows, not ${trainRows}.`)
  const cut = (file: string, itemBytes: number, headerBytes: number) => {
    const raw = gunzipSync(readFileSync(file))
    const out = Buffer.from(raw.subarray(0, headerBytes + count * itemBytes))
    out.writeUInt32BE(count, 4)
    const target = path.join(dataDir, path.basename(file, '.gz'))
    writeFileSync(target, out)
    return target
  }
  return importDataset({
    dataDir,
    path: cut(IMAGES, 784, 16),
    labelsPath: cut(LABELS, 1, 8),
    name: `Fashion-MNIST (first ${count})`,
    testFraction: 0.2,
    seed: 42,
  })
}

export const log = (line: string) => process.stderr.write(`${line}\n`)

/**
 * An unlearning bench's setting: the selected backend, a fresh data folder holding `trainRows`
 * training rows of Fashion-MNIST, those rows in a seeded order (`shuffled`) and the first
 * `forgetCount` of them as the rows to forget: drawn from every class (IID), or only from
 * `classes` (the DEL paper's non-IID forget sets).
 */
export async function unlearningSetting(
  bench: string,
  trainRows: number,
  forgetCount: number,
  classes: number[] = [],
) {
  const report = await selectBackend(await probeBackends(), null)
  const backend = report.selected as string
  await tf.setBackend(backend)
  log(`Backend: ${backend} (${os.cpus().length} cores)`)
  const dataDir = path.join(os.tmpdir(), `lethe-bench-${bench}-${process.pid}`)
  mkdirSync(dataDir, { recursive: true })
  const manifest = await importFashionMnist(dataDir, trainRows)
  const dataset = await loadDataset(folders(dataDir).datasets, manifest.id)
  const shuffled = new Random(7).shuffle(dataset.train)
  const candidates =
    classes.length === 0 ? shuffled : shuffled.filter((r) => classes.includes(dataset.labels[r] as number))
  const forget = candidates.slice(0, forgetCount)
  if (forget.length < forgetCount)
    throw new Error(
      `Only ${forget.length} training rows in classes ${classes.join(', ')}; asked to forget ${forgetCount}.`,
    )
  const from = classes.length === 0 ? 'all classes' : `classes ${classes.join(', ')}`
  log(
    `${dataset.train.length} training rows, ${dataset.test.length} test rows; forgetting ${forget.length} from ${from}`,
  )
  return { backend, dataDir, manifest, dataset, shuffled, forget }
}

/** A verified model's accuracies on the test, forget and retained rows, and the forget set's MIA AUC. */
export const scoresOf = (s: UnlearnResult['report']['original']) => ({
  test: s.test.accuracy as number,
  forget: s.forget.accuracy as number,
  retain: s.retain.accuracy as number,
  miaAuc: s.mia.auc,
})
