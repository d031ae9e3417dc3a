/**
 * Fashion-MNIST for the benches: Debian's dataset-fashion-mnist (IDX, gzip), installed with
 * apt-get when missing and we are root, and imported into a bench's data folder at the size it
 * asks for, through the engine's own IDX importer.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { importDataset } from '../electron/engine/jobs'

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
