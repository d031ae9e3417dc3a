import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { InvalidArgumentError } from 'commander'
import { afterAll, describe, expect, it } from 'vitest'
import { imageShape, integer, integers, number, rowIds } from '../../electron/cli/parse'
import { lethe } from '../support/cli'
import { tempDir } from '../support/fixtures'

const folder = tempDir('lethe-cli-parse-')
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/** What a parser throws for a value it refuses: commander's error, with the status for a caller's mistake. */
function refusal(parse: () => unknown): InvalidArgumentError {
  try {
    parse()
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error
    throw error
  }
  throw new Error('The value was accepted.')
}

describe('strict option parsers', () => {
  it.each(['0', '42', '-7', '007', String(Number.MAX_SAFE_INTEGER)])('takes the whole number %j', (text) => {
    expect(integer(text)).toBe(Number(text))
  })

  it.each(['1e9', '2.5', '', '12abc', ' 5', '+3', '0x10', 'NaN', String(Number.MAX_SAFE_INTEGER + 1)])(
    'refuses %j as a whole number, naming the form it takes',
    (text) => {
      expect(refusal(() => integer(text))).toMatchObject({
        exitCode: 2,
        message: expect.stringContaining('Give a whole number in decimal digits, such as 42'),
      })
    },
  )

  it.each([
    ['0.2', 0.2],
    ['-3', -3],
    ['1e-5', 1e-5],
    ['.5', 0.5],
    ['2E3', 2000],
  ])('takes the decimal number %j', (text, value) => {
    expect(number(text)).toBe(value)
  })

  it.each(['NaN', 'Infinity', '-Infinity', '1e400', '0x10', '', '1,5', '1.2.3', '5 ', 'e5'])(
    'refuses %j as a number, naming the form it takes',
    (text) => {
      expect(refusal(() => number(text))).toMatchObject({
        exitCode: 2,
        message: expect.stringContaining('Give a finite decimal number, such as 0.2'),
      })
    },
  )

  it('reads lists and shapes element by element with the same rule', () => {
    expect(integers('128, 64')).toEqual([128, 64])
    expect(integers('64')).toEqual([64])
    for (const text of ['1e7', '128,', '2.5,3', '', '64;32']) {
      expect(refusal(() => integers(text)).message).toBe(
        'Give whole numbers separated by commas, such as 128,64.',
      )
    }
    expect(imageShape('28×28x1')).toEqual([28, 28, 1])
    expect(refusal(() => imageShape('8x8x1e0')).message).toContain('such as 8x8x1')
  })

  it('reads a file of row ids, and names the entry that is not one', () => {
    const file = path.join(folder, 'rows.txt')
    writeFileSync(file, '0\n1,2\n\n30\n')
    expect(rowIds(file)).toEqual([0, 1, 2, 30])
    writeFileSync(file, '0\n1.5\n2\n')
    expect(refusal(() => rowIds(file)).message).toBe(
      'It holds "1.5": give row ids as whole numbers, one per line or separated by commas.',
    )
    expect(refusal(() => rowIds(path.join(folder, 'missing.txt'))).message).toMatch(/^Cannot read it: ENOENT/)
  })
})

describe('a refused option value on the command line', () => {
  it('names the option and the value, exits with 2 and touches no data', () => {
    const dataDir = tempDir('lethe-cli-parse-')
    try {
      const result = lethe(['model', 'train', '--dataset', 'd-0', '--arch', 'logreg', '--epochs', '1e9'], {
        dataDir,
      })
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(
        "error: option '--epochs <n>' argument '1e9' is invalid. Give a whole number in decimal digits",
      )
      expect(result.stdout).toBe('')
      expect(readdirSync(dataDir)).toEqual([])
      // Other usage mistakes are the caller's too.
      expect(lethe(['request', 'list', '--bogus'], { dataDir }).code).toBe(2)
      expect(lethe(['request', 'show'], { dataDir }).code).toBe(2)
      expect(lethe(['--version']).code).toBe(0)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
