import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices } from '../../electron/host/services'
import { passphraseProtector } from '../../electron/lib/key-protector'
import { importBreastCancer, lethe as cli } from '../support/cli'
import { caller, completedErasure } from '../support/engine'
import { tempDir } from '../support/fixtures'

const lethe = (dataDir: string, args: string[]) => cli(args, { dataDir })

const folders: string[] = []
const temp = (prefix: string) => {
  const folder = tempDir(prefix)
  folders.push(folder)
  return folder
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

describe('lethe dataset, model, unlearn and evaluate', () => {
  it('imports, trains, unlearns with a reference and evaluates, in JSON', () => {
    const dataDir = temp('lethe-cli-engine-')
    const dataset = importBreastCancer(dataDir)
    expect(dataset.rows).toBe(569)

    const trained = lethe(dataDir, [
      'model',
      'train',
      '--dataset',
      dataset.id,
      '--arch',
      'logreg',
      '--epochs',
      '5',
      '--json',
    ])
    expect(trained.code).toBe(0)
    const model = JSON.parse(trained.stdout) as { id: string; training: { epochs: number } }
    expect(model.training.epochs).toBe(5)

    const subjects = path.join(dataDir, 'subjects.txt')
    writeFileSync(subjects, 'P-0001\nP-0002\nP-0003\nP-0004\nP-0005\nP-0006\nP-0007\nP-0008\n')
    const unlearned = lethe(dataDir, [
      'unlearn',
      '--model',
      model.id,
      '--method',
      'finetune',
      '--subjects',
      subjects,
      '--reference',
      '--json',
    ])
    expect(unlearned.code).toBe(0)
    const result = JSON.parse(unlearned.stdout)
    expect(result.model.parentId).toBe(model.id)
    expect(result.forgotten + result.heldOut).toBe(8)
    expect(result.guarantee.kind).toBe('empirical')
    expect(result.report.distance.originalToReference).toBeGreaterThan(0)
    expect(result.report.reference.test.accuracy).toBeGreaterThan(0.85)

    const rows = path.join(dataDir, 'rows.txt')
    writeFileSync(rows, '0,1,2,3')
    const evaluated = lethe(dataDir, [
      'evaluate',
      '--model',
      result.model.id,
      '--reference',
      model.id,
      '--rows',
      rows,
      '--json',
    ])
    expect(evaluated.code).toBe(0)
    expect(JSON.parse(evaluated.stdout)).toMatchObject({
      model: result.model.id,
      reference: model.id,
      scores: { forget: { rows: 4 } },
    })
  })

  it('trains with HF recording and unlearns with HF: certified by default, plainly not certified with --no-noise', () => {
    const dataDir = temp('lethe-cli-hf-')
    const dataset = importBreastCancer(dataDir)
    const trained = lethe(dataDir, [
      'model',
      'train',
      '--dataset',
      dataset.id,
      '--arch',
      'logreg',
      '--prepare',
      'hf',
      '--epochs',
      '30',
      '--batch-size',
      '128',
      '--lr',
      '0.1',
      '--l2',
      '0.1',
    ])
    expect(trained.code, trained.stderr).toBe(0)
    const id = /Trained (m-[0-9a-f]{12})/.exec(trained.stdout)?.[1] as string
    expect(trained.stdout).toMatch(/HF statistics .* MiB \(456 rows × 62, float32\)/)
    const subjects = path.join(dataDir, 'subjects.txt')
    writeFileSync(subjects, 'P-0001\n')
    const certified = lethe(dataDir, [
      'unlearn',
      '--model',
      id,
      '--method',
      'hf',
      '--subjects',
      subjects,
      '--epsilon',
      '100',
    ])
    expect(certified.code, certified.stderr).toBe(0)
    expect(certified.stdout).toMatch(/\(hf, Certified · weak \(ε = 100\)\)/)
    expect(certified.stdout).toMatch(/Weak: this is a formal bound, but too loose/)
    expect(certified.stdout).toMatch(/Accuracy floor [\d.]+% .* the published draw [\d.]+%/)
    expect(certified.stdout).toMatch(/Noise: σ = [\d.e+-]+ in all/)
    expect(certified.stdout).toMatch(/ρ .* estimated/)
    const measured = lethe(dataDir, [
      'unlearn',
      '--model',
      id,
      '--method',
      'hf',
      '--subjects',
      subjects,
      '--no-noise',
    ])
    expect(measured.code, measured.stderr).toBe(0)
    expect(measured.stdout).toMatch(/\(hf, Empirical\)/)
    expect(measured.stdout).toMatch(/NOT certified/)
    // A model trained without recording is refused, with the reason.
    const plain = lethe(dataDir, [
      'model',
      'train',
      '--dataset',
      dataset.id,
      '--arch',
      'logreg',
      '--epochs',
      '2',
    ])
    const plainId = /Trained (m-[0-9a-f]{12})/.exec(plain.stdout)?.[1] as string
    const refused = lethe(dataDir, ['unlearn', '--model', plainId, '--method', 'hf', '--subjects', subjects])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/without HF recording/)
  }, 180_000)

  it('imports pixel columns as images with --image-shape, and says how to write one', () => {
    const dataDir = temp('lethe-cli-engine-')
    const digits = ['dataset', 'import', 'resources/datasets/digits.csv']
    const columns = ['--subject-column', 'subject_id', '--label-column', 'digit']
    const wrong = lethe(dataDir, [...digits, ...columns, '--image-shape', '8x8'])
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr).toContain('height x width x channels, such as 8x8x1')
    const imported = lethe(dataDir, [...digits, ...columns, '--image-shape', '8x8x1', '--json'])
    expect(imported.code).toBe(0)
    expect((JSON.parse(imported.stdout) as { shape: number[] }).shape).toEqual([8, 8, 1])
  }, 60_000)

  it('names the line and column of a bad dataset, and refuses an unknown model', () => {
    const dataDir = temp('lethe-cli-engine-')
    const file = path.join(dataDir, 'bad.csv')
    writeFileSync(file, 'id,x,label\na,1,yes\nb,2,no\nc,oops,yes\nd,4,no\ne,5,yes\n')
    const bad = lethe(dataDir, [
      'dataset',
      'import',
      file,
      '--subject-column',
      'id',
      '--label-column',
      'label',
      '--numeric',
      'x',
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/lethe: BAD_INPUT: .*line 4, column 2 \(x\)/)
    const rows = path.join(dataDir, 'rows.txt')
    writeFileSync(rows, '0\n1\n')
    const unlearn = (rowsFile: string) =>
      lethe(dataDir, ['unlearn', '--model', 'm-000000000000', '--method', 'retrain', '--rows', rowsFile])
    const missing = unlearn(rows)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/lethe: NOT_FOUND: .*m-000000000000/)
    const notRows = unlearn(file)
    expect(notRows.code).toBe(2)
    expect(notRows.stderr).toContain(
      `option '--rows <file>' argument '${file}' is invalid. It holds "id": give row ids as whole numbers`,
    )
  })

  it('copies an issued certificate to --out with --json too, and the JSON names the copy', async () => {
    const dataDir = temp('lethe-cli-certificate-')
    const passphrase = 'correct horse battery'
    const services = createServices({
      dataDir,
      host: 'cli',
      spawnEngine: () => workerThreadChannel(),
      keyProtector: async () => passphraseProtector(passphrase),
    })
    let requestId: string
    try {
      requestId = (await completedErasure(services)).request.id
      await caller(services)('organisation.create', { name: 'Ørsted Klinik' })
    } finally {
      await services.close()
    }
    const out = path.join(dataDir, 'certificate.pdf')
    const issued = cli(['certificate', 'issue', requestId, '--out', out, '--json'], {
      dataDir,
      env: { LETHE_KEY_PASSPHRASE: passphrase },
    })
    expect(issued.code, issued.stderr).toBe(0)
    const result = JSON.parse(issued.stdout) as { path: string; out: string; requestId: string }
    expect(result).toMatchObject({ requestId, out })
    expect(readFileSync(out).equals(readFileSync(result.path))).toBe(true)
  }, 120_000)
})
