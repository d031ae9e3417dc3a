/**
 * Models uploaded from a browser's file input (which gives content, not a path), through the
 * real services: an ONNX file, and a TF.js model.json with its weight shard, are imported with
 * the uploaded file's name and hash as their origin; the upload folder is removed whatever
 * happens; files that are no model, names with a folder, and both a path and an upload are
 * refused with what to do, storing nothing.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Output } from '../../electron/contract'
import { workerThreadChannel } from '../../electron/engine/host'
import { createServices, type LetheServices } from '../../electron/host/services'
import { caller } from '../support/engine'
import { tempDir } from '../support/fixtures'
import { rejection } from '../support/errors'
import { testKeys } from '../support/ledger'

let dataDir: string
let services: LetheServices
let call: ReturnType<typeof caller>
let breastCancer: string
let digits: string

const file = (relative: string) => {
  const bytes = readFileSync(path.resolve('tests/fixtures', relative))
  return {
    name: path.basename(relative),
    base64: bytes.toString('base64'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  }
}
const upload = (...files: ReturnType<typeof file>[]) => files.map(({ name, base64 }) => ({ name, base64 }))
const models = async () => (await call<Output<'models.list'>>('models.list', {})).map((m) => m.id)

beforeAll(async () => {
  dataDir = tempDir('lethe-upload-')
  services = createServices({
    dataDir,
    host: 'cli',
    spawnEngine: () => workerThreadChannel(),
    keyProtector: testKeys,
  })
  call = caller(services)
  breastCancer = (await call<{ id: string }>('datasets.importDemo', { demo: 'breast-cancer' })).id
  digits = (await call<{ id: string }>('datasets.importDemo', { demo: 'digits' })).id
})
afterAll(async () => {
  await services?.close()
})

describe('models uploaded from a file input', () => {
  it('imports an uploaded ONNX file with its name and hash as the origin, leaving no upload behind', async () => {
    const onnx = file('onnx/breast-cancer-mlp.onnx')
    const model = await call<Output<'models.import'>>('models.import', {
      datasetId: breastCancer,
      upload: upload(onnx),
    })
    expect(model.origin).toMatchObject({
      format: 'onnx',
      fileName: 'breast-cancer-mlp.onnx',
      sha256: onnx.sha256,
    })
    expect(readdirSync(path.join(dataDir, 'uploads'))).toEqual([])
  })

  it('imports a TF.js model.json uploaded with its weight shard', async () => {
    const json = file('tfjs/digits-cnn/model.json')
    const shard = file('tfjs/digits-cnn/group1-shard1of1.bin')
    const model = await call<Output<'models.import'>>('models.import', {
      datasetId: digits,
      upload: upload(shard, json),
    })
    expect(model.archKind).toBe('convnet')
    expect(model.origin).toMatchObject({ format: 'tfjs', fileName: 'model.json', sha256: json.sha256 })
    // Without its shard the model.json names a file that is not there: refused, nothing stored.
    const before = await models()
    const missing = await rejection(
      'BAD_INPUT',
      call('models.import', { datasetId: digits, upload: upload(json) }),
    )
    expect(missing.message).toContain('group1-shard1of1.bin')
    expect(await models()).toEqual(before)
    expect(readdirSync(path.join(dataDir, 'uploads'))).toEqual([])
  })

  it('refuses uploads that are no model, names with a folder, and a path beside an upload', async () => {
    const before = await models()
    const shard = file('tfjs/digits-cnn/group1-shard1of1.bin')
    const csv = { name: 'notes.txt', base64: Buffer.from('hello').toString('base64') }
    const noModel = await rejection(
      'BAD_INPUT',
      call('models.import', { datasetId: digits, upload: [upload(shard)[0], csv] }),
    )
    expect(noModel.message).toContain('upload one .onnx file, or a TF.js model.json with its weight shards')
    const folder = await rejection(
      'BAD_INPUT',
      call('models.import', { datasetId: digits, upload: [{ name: '../model.onnx', base64: shard.base64 }] }),
    )
    expect(folder.message).toContain('a bare file name')
    const both = await rejection(
      'BAD_INPUT',
      call('models.import', { datasetId: digits, path: '/tmp/model.onnx', upload: upload(shard) }),
    )
    expect(both.message).toContain('give either path or upload')
    expect(await models()).toEqual(before)
    expect(existsSync(path.join(dataDir, 'model.onnx'))).toBe(false)
  })
})
