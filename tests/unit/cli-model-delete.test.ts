import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importBreastCancer, lethe as cli } from '../support/cli'
import { tempDir } from '../support/fixtures'

const dataDir = tempDir('lethe-cli-delete-')
const lethe = (args: string[]) => cli(args, { dataDir })
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('lethe model delete and lethe dataset remove-subjects', () => {
  it('deletes a version for good with a required reason, and makes a dataset version without subjects', () => {
    const dataset = importBreastCancer(dataDir)
    const trained = lethe([
      'model',
      'train',
      '--dataset',
      dataset.id,
      '--arch',
      'logreg',
      '--epochs',
      '2',
      '--json',
    ])
    expect(trained.code).toBe(0)
    const model = JSON.parse(trained.stdout) as { id: string; paramsSha256: string }
    const modelDir = path.join(dataDir, 'models', model.id)

    const withoutReason = lethe(['model', 'delete', model.id])
    expect(withoutReason.code).not.toBe(0)
    expect(withoutReason.stderr).toContain('--reason')
    expect(existsSync(path.join(modelDir, 'params.f32'))).toBe(true)

    const deleted = lethe(['model', 'delete', model.id, '--reason', 'superseded', '--json'])
    expect(deleted.code).toBe(0)
    const result = JSON.parse(deleted.stdout)
    expect(result).toMatchObject({ id: model.id, paramsSha256: model.paramsSha256 })
    expect(result.deleted.reason).toBe('superseded')
    expect(readdirSync(modelDir)).toEqual(['manifest.json'])

    const listed = lethe(['model', 'list'])
    expect(listed.stdout).toContain(`DELETED`)
    expect(listed.stdout).toContain('superseded')
    const twice = lethe(['model', 'delete', model.id, '--reason', 'again'])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain('CONFLICT')
    expect(twice.stderr).toContain('already deleted')

    const subjects = path.join(dataDir, 'subjects.txt')
    writeFileSync(subjects, 'P-0001\nP-0002\n')
    const removed = lethe(['dataset', 'remove-subjects', dataset.id, '--subjects', subjects, '--json'])
    expect(removed.code).toBe(0)
    const replaced = JSON.parse(removed.stdout)
    expect(replaced.removedRows).toBe(2)
    expect(replaced.dataset.rows).toBe(dataset.rows - 2)
    expect(replaced.dataset.replaces).toBe(dataset.id)
    expect(readdirSync(path.join(dataDir, 'datasets', dataset.id))).toEqual(['manifest.json'])
  }, 120_000)
})
