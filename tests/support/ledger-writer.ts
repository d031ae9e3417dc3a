/**
 * A ledger writer for the crash test: creates and moves requests in a loop and prints
 * "ack <id> <status>" only after each write has returned, until it is killed.
 */
import { Ledger } from '../../electron/ledger/ledger'
import { requestInput, testKeys } from './ledger'

const dataDir = process.argv[2] as string
const ledger = await Ledger.open(dataDir, {
  keyProtector: testKeys,
  flushDelayMs: 1,
  segmentEvents: 16,
  shardRequests: 8,
  now: () => new Date('2026-03-10T12:00:00'),
})
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  const [id] = (await ledger.create([requestInput({ note: `note ${i}` })], 'writer')) as [string]
  process.stdout.write(`ack ${id} received\n`)
  await ledger.transition({ id, to: 'identity-verified', method: 'm' }, 'writer')
  process.stdout.write(`ack ${id} identity-verified\n`)
  // Work events change the ledger-wide state and the request's shard at once.
  const work = await ledger.beginWork('unlearning', id, 'writer')
  if (i % 2 === 0) await ledger.finishWork(work, 'completed', null, 'writer')
}
