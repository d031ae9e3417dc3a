/**
 * A process that races others for the ledger lock, for the lock test. It prints "ready", then
 * obeys one command a line on stdin:
 *   lock <file>          take the lock itself
 *   ledger <data folder> open the ledger for writing and create requests, printing
 *                        "ack <id>" once each write is acknowledged
 *   release              let go of whatever it holds, then print "released"
 * A take ends with one line: ACQUIRED (holding it until release), LOCKED or ERROR <message>.
 */
import { createInterface } from 'node:readline'
import { LetheError } from '../../electron/contract'
import { Ledger } from '../../electron/ledger/ledger'
import { LedgerLock } from '../../electron/ledger/lock'
import { clock, requestInput, testKeys } from './ledger'

const WRITES = 5

const say = (line: string) => process.stdout.write(`${line}\n`)

async function openAndWrite(dataDir: string): Promise<() => Promise<void>> {
  const ledger = await Ledger.open(dataDir, { now: clock(), keyProtector: testKeys })
  for (let i = 0; i < WRITES; i++) {
    const [id] = await ledger.create([requestInput({ note: `racer ${process.pid} write ${i}` })], 'racer')
    say(`ack ${id}`)
  }
  return () => ledger.close()
}

let release: (() => unknown) | null = null
say('ready')
for await (const line of createInterface({ input: process.stdin })) {
  const [command, target = ''] = line.split(' ')
  if (command === 'release') {
    await release?.()
    release = null
    say('released')
    continue
  }
  try {
    if (command === 'lock') {
      const lock = LedgerLock.acquire(target)
      release = () => lock.release()
    } else {
      release = await openAndWrite(target)
    }
    say('ACQUIRED')
  } catch (error) {
    say(error instanceof LetheError && error.code === 'LOCKED' ? 'LOCKED' : `ERROR ${String(error)}`)
  }
}
