/**
 * `npm run bench:model-io`: importing and exporting deployed models. Each case runs in a fresh
 * process, so its peak memory is its own: the dataset is imported first (not timed), then the
 * model file is imported (parsed, mapped, checked against the dataset, stored) and exported back
 * as ONNX and as TF.js Layers. Prints the time of each step, the process's resident memory
 * before the model import and its peak.
 *
 * Cases: the committed PyTorch fixtures (tests/fixtures/onnx: the breast-cancer MLP, the digits
 * CNN) and an MLP of about a million parameters (784→1024→256→10, seeded random weights written
 * as ONNX by Lethe's exporter) for a generated 784-column dataset.
 *
 *   npx tsx bench/model-io.ts [--cases mlp,cnn,1m] [--json]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { demoDatasets } from '../electron/contract/demos'
import { exportOnnx } from '../electron/engine/export/onnx'
import { exportModel, importDataset, importModel } from '../electron/engine/jobs'
import { initParams, specOf, type Architecture } from '../electron/engine/models/spec'

const here = fileURLToPath(import.meta.url)
const root = path.resolve(path.dirname(here), '..')

interface CaseResult {
  name: string
  parameters: number
  fileBytes: number
  importSeconds: number
  exportOnnxSeconds: number
  exportTfjsSeconds: number
  rssBeforeMiB: number
  peakRssMiB: number
}

const MiB = 1024 ** 2

/** A dataset and an ONNX file for the case, inside `dir`. */
function materialise(
  name: string,
  dir: string,
): { dataset: Parameters<typeof importDataset>[0]; model: string } {
  const demo = (key: keyof typeof demoDatasets) => {
    const d = demoDatasets[key]
    return {
      dataDir: dir,
      path: path.join(root, 'resources/datasets', d.file),
      subjectColumn: d.subjectColumn,
      labelColumn: d.labelColumn,
      ...(d.imageShape ? { imageShape: [...d.imageShape] as [number, number, number] } : {}),
      testFraction: 0.2,
      seed: 42,
    }
  }
  if (name === 'mlp')
    return {
      dataset: demo('breast-cancer'),
      model: path.join(root, 'tests/fixtures/onnx/breast-cancer-mlp.onnx'),
    }
  if (name === 'cnn')
    return { dataset: demo('digits'), model: path.join(root, 'tests/fixtures/onnx/digits-cnn.onnx') }
  if (name !== '1m') throw new Error(`unknown case ${name}: mlp, cnn or 1m`)
  const columns = 784
  const lines = [['subject', 'label', ...Array.from({ length: columns }, (_, j) => `x${j}`)].join(',')]
  for (let i = 0; i < 500; i++)
    lines.push(
      [
        `s${i}`,
        `c${i % 10}`,
        ...Array.from({ length: columns }, (_, j) => ((i * 31 + j * 17) % 255) / 255),
      ].join(','),
    )
  const csv = path.join(dir, 'wide.csv')
  writeFileSync(csv, lines.join('\n'))
  const arch: Architecture = { kind: 'mlp', inputs: columns, hidden: [1024, 256], classes: 10 }
  const model = path.join(dir, 'mlp-1m.onnx')
  writeFileSync(
    model,
    exportOnnx({ arch, params: initParams(specOf(arch), 7), name: 'mlp-1m', output: 'logits' }),
  )
  return {
    dataset: {
      dataDir: dir,
      path: csv,
      subjectColumn: 'subject',
      labelColumn: 'label',
      testFraction: 0.2,
      seed: 42,
    },
    model,
  }
}

async function child(name: string): Promise<CaseResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-model-io-'))
  try {
    const { dataset: datasetInput, model } = materialise(name, dir)
    const dataset = await importDataset(datasetInput)
    const rssBefore = process.memoryUsage().rss
    const seconds = async (work: () => Promise<unknown>) => {
      const started = performance.now()
      await work()
      return Number(((performance.now() - started) / 1000).toFixed(3))
    }
    let manifest: Awaited<ReturnType<typeof importModel>> | undefined
    const importSeconds = await seconds(async () => {
      manifest = await importModel({ dataDir: dir, datasetId: dataset.id, path: model })
    })
    if (!manifest) throw new Error('nothing imported')
    const modelId = manifest.id
    const exportOnnxSeconds = await seconds(() =>
      exportModel({ dataDir: dir, modelId, format: 'onnx', path: path.join(dir, 'out.onnx') }),
    )
    const exportTfjsSeconds = await seconds(() =>
      exportModel({ dataDir: dir, modelId, format: 'tfjs', path: path.join(dir, 'model.json') }),
    )
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(model))
    return {
      name,
      parameters: manifest.parameters,
      fileBytes: size,
      importSeconds,
      exportOnnxSeconds,
      exportTfjsSeconds,
      rssBeforeMiB: Math.round(rssBefore / MiB),
      peakRssMiB: Math.round((process.resourceUsage().maxRSS * 1024) / MiB),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: 'mlp,cnn,1m' },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  })
  if (values.child) {
    console.log(JSON.stringify(await child(values.child)))
    return
  }
  const results: CaseResult[] = []
  for (const name of values.cases.split(',')) {
    process.stderr.write(`case ${name}\n`)
    const run = spawnSync(process.execPath, ['--import', 'tsx', here, '--child', name], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`case ${name} failed:\n${run.stderr}`)
    results.push(JSON.parse(run.stdout.trim().split('\n').pop() as string) as CaseResult)
  }
  if (values.json) {
    console.log(JSON.stringify(results, null, 2))
    return
  }
  console.log('Model import and export (each case in a fresh process; RSS before the import, and peak)')
  for (const r of results)
    console.log(
      `  ${r.name.padEnd(4)} ${String(r.parameters).padStart(9)} params  ${(r.fileBytes / 1024).toFixed(0).padStart(6)} KiB  ` +
        `import ${r.importSeconds.toFixed(3)} s  export ONNX ${r.exportOnnxSeconds.toFixed(3)} s  TF.js ${r.exportTfjsSeconds.toFixed(3)} s  ` +
        `RSS ${r.rssBeforeMiB} → peak ${r.peakRssMiB} MiB`,
    )
}

await main()
