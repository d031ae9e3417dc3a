/**
 * Graded guarantees and the accuracy floor where certificates read a run: a run record written
 * before grades reads with the grade its kind and ε give, and a release whose published draw
 * fell below the floor its run was held to gets no certificate.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { refuseBelowAccuracyFloor } from '../../electron/certificates/build'
import { folders } from '../../electron/engine/folders'
import { unlearningOf, UNLEARNING_FILE, type UnlearnResult } from '../../electron/engine/models/runs'
import { tempDir } from '../support/fixtures'

/** The parts of a run record the floor check reads. */
function release(
  testAccuracy: { before: number; after: number },
  floor?: number,
  kind: 'certified' | 'empirical' = 'certified',
): UnlearnResult {
  const scores = (accuracy: number) => ({ test: { rows: 100, accuracy, loss: 0.3 } })
  return {
    model: { id: 'm-00000000c90e' },
    method: 'hf',
    guarantee: { kind },
    report: { original: scores(testAccuracy.before), unlearned: scores(testAccuracy.after) },
    details:
      floor === undefined
        ? {}
        : {
            floorCheck: { floor, probes: [0.93, 0.94, 0.92], expectedAccuracy: 0.93, releasedAccuracy: 0.9 },
          },
  } as unknown as UnlearnResult
}

describe('the accuracy floor at issuing', () => {
  it('refuses a release whose test accuracy fell below the floor its run recorded, with the numbers', () => {
    expect(() => refuseBelowAccuracyFloor(release({ before: 0.936, after: 0.226 }, 0.886))).toThrow(
      expect.objectContaining({
        code: 'CONFLICT',
        message: expect.stringMatching(
          /m-00000000c90e cannot be certified: its test accuracy is 22\.6%, below the floor of 88\.6% .*before the removal: 93\.6%.*retrain/s,
        ),
      }),
    )
  })

  it('holds a noisy release recorded before floors to the default floor, 5 points under the original', () => {
    expect(() => refuseBelowAccuracyFloor(release({ before: 0.936, after: 0.226 }))).toThrow(
      expect.objectContaining({
        code: 'CONFLICT',
        message: expect.stringMatching(/below the floor of 88\.6% \(5 points under the original\)/),
      }),
    )
    expect(() => refuseBelowAccuracyFloor(release({ before: 0.936, after: 0.9 }))).not.toThrow()
  })

  it('lets a release at or above its floor through, and a run without noise', () => {
    expect(() => refuseBelowAccuracyFloor(release({ before: 0.936, after: 0.886 }, 0.886))).not.toThrow()
    expect(() =>
      refuseBelowAccuracyFloor(release({ before: 0.936, after: 0.226 }, undefined, 'empirical')),
    ).not.toThrow()
  })
})

describe('run records written before guarantees were graded', () => {
  it('read with the grade their kind and ε give', async () => {
    const dataDir = tempDir('lethe-old-run-')
    const write = (id: string, guarantee: object) => {
      const dir = path.join(folders(dataDir).models, id)
      mkdirSync(dir, { recursive: true })
      writeFileSync(path.join(dir, UNLEARNING_FILE), JSON.stringify({ method: 'hf', guarantee, details: {} }))
    }
    write('m-000000000001', { kind: 'certified', epsilon: 100, delta: 1e-5, meaning: 'old' })
    write('m-000000000002', { kind: 'exact', meaning: 'old' })
    write('m-000000000003', { kind: 'empirical', meaning: 'old' })
    const strength = async (id: string) => (await unlearningOf(dataDir, id)).guarantee.strength
    await expect(strength('m-000000000001')).resolves.toBe('weak')
    await expect(strength('m-000000000002')).resolves.toBe('exact')
    await expect(strength('m-000000000003')).resolves.toBe('none')
  })
})
