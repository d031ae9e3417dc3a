/**
 * The ledger behind the API contract. The ledger opens on first use; if its files are
 * damaged, every call answers CORRUPT with the backups that can replace it, except
 * `ledger.status` and `ledger.restore`, which are how the user gets out of that state.
 */
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import os from 'node:os'
import { LetheError } from '../contract'
import type { CallContext, Handlers } from '../contract/dispatch'
import type { ledgerMethods } from '../contract/ledger'
import { decodeUtf8 } from '../lib/text'
import { allEvents, eventsToCsv, exportLedger, importLedger, requestsToCsv } from './audit'
import { parseRequestsCsv } from './csv-import'
import { Ledger, listBackups, restoreBackup, type LedgerOptions } from './ledger'
import { SCHEMA_VERSION } from './state'
import { verifyLedger, verifyLedgerFiles, type LedgerPin } from './verify'

export type LedgerMethods = keyof typeof ledgerMethods

const username = (() => {
  try {
    return os.userInfo().username
  } catch {
    return 'unknown'
  }
})()

/** Who acted, for the audit trail: the desktop user and the door they came through. */
export const actorOf = (context: CallContext): string => `${username} (${context.transport})`

const RETENTION_EVERY_MS = 6 * 3600 * 1000

export class LedgerService {
  private opened: Promise<Ledger> | undefined
  private damage: LetheError | undefined
  private retentionTimer: NodeJS.Timeout | undefined

  /**
   * `pins`: what is held outside the ledger that its chain must agree with (the organisation's
   * identity, issued certificates); `ledger.verify` checks them all.
   */
  constructor(
    readonly dataDir: string,
    private readonly options: LedgerOptions = {},
    private readonly pins: () => Promise<LedgerPin[]> = async () => [],
  ) {}

  /** Whether this data folder has a ledger at all (it may still be too damaged to open). */
  exists(): boolean {
    return existsSync(Ledger.paths(this.dataDir).root)
  }

  /** The open ledger; opened (and, when writable, retention applied) on first use. */
  ledger(): Promise<Ledger> {
    this.opened ??= Ledger.open(this.dataDir, this.options).then(
      async (ledger) => {
        if (!this.options.readOnly) {
          await ledger.applyRetention()
          // A desktop app stays open for days: erase on time, back up daily and look for damage
          // in the sealed history, not only at start.
          this.retentionTimer = setInterval(
            () =>
              void ledger
                .applyRetention()
                .then(() => ledger.backupIfDue())
                .then(() => ledger.storage.checkSealedSegments())
                .catch(() => undefined),
            RETENTION_EVERY_MS,
          )
          this.retentionTimer.unref()
        }
        return ledger
      },
      async (error: unknown) => {
        this.opened = undefined
        if (error instanceof LetheError && error.code === 'CORRUPT') {
          const backups = await listBackups(this.dataDir)
          const advice = backups.length
            ? ` The newest backup is ${backups[0]?.id} (${backups[0]?.events} events); restore it with "lethe ledger restore ${backups[0]?.id}".`
            : ' There is no backup to restore.'
          this.damage = new LetheError('CORRUPT', `${error.message} Nothing was changed.${advice}`, {
            ...(error.details as object),
            backups,
          })
          throw this.damage
        }
        throw error
      },
    )
    return this.opened
  }

  async close(): Promise<void> {
    clearInterval(this.retentionTimer)
    const opened = this.opened
    this.opened = undefined
    if (opened) await (await opened.catch(() => undefined))?.close()
  }

  handlers(): Pick<Handlers, LedgerMethods> {
    const open = () => this.ledger()
    /** A change to one request, answered with the request as it now is. */
    const thenView =
      <I extends { id: string }>(change: (ledger: Ledger, input: I, actor: string) => Promise<void>) =>
      async (input: I, context: CallContext) => {
        const ledger = await open()
        await change(ledger, input, actorOf(context))
        return ledger.view(input.id)
      }
    return {
      async 'requests.create'(input, context) {
        const ledger = await open()
        const [id] = await ledger.create([input], actorOf(context))
        return ledger.view(id as string)
      },
      async 'requests.list'(query) {
        return (await open()).list(query)
      },
      async 'requests.get'({ id, reveal }, context) {
        const ledger = await open()
        const request = await ledger.view(id, reveal, actorOf(context))
        const record = ledger.state.requests.get(id)
        return { request, events: await ledger.events(record?.history ?? []) }
      },
      'requests.transition': thenView((ledger, input, actor) => ledger.transition(input, actor)),
      'requests.extend': thenView((ledger, input, actor) => ledger.extend(input, actor)),
      'requests.acknowledge': thenView((ledger, input, actor) => ledger.acknowledge(input, actor)),
      'requests.update': thenView((ledger, input, actor) => ledger.update(input, actor)),
      'requests.addNote': thenView((ledger, input, actor) => ledger.addNote(input, actor)),
      'requests.attach': thenView((ledger, { id, path, name, contentBase64, mediaType }, actor) =>
        ledger.attach(
          path !== undefined
            ? { id, path, mediaType }
            : {
                id,
                name: name as string,
                content: Buffer.from(contentBase64 as string, 'base64'),
                mediaType,
              },
          actor,
        ),
      ),
      async 'requests.attachment'({ id, attachmentId }) {
        const { content, mediaType } = await (await open()).attachment(id, attachmentId)
        return { contentBase64: content.toString('base64'), mediaType }
      },
      'requests.link': thenView((ledger, input, actor) => ledger.link(input, actor)),
      async 'requests.import'(input, context) {
        const ledger = await open()
        let text = input.csv
        if (text === undefined) {
          let bytes: Buffer
          try {
            bytes = await readFile(input.path as string)
          } catch (error) {
            throw new LetheError('BAD_INPUT', `Cannot read ${input.path}: ${(error as Error).message}`)
          }
          text = decodeUtf8(bytes, input.path as string)
        }
        const inputs = parseRequestsCsv(text, ledger.today())
        return { imported: await ledger.create(inputs, actorOf(context)) }
      },
      async 'requests.export'({ format }) {
        const ledger = await open()
        const { items } = await ledger.list({
          sort: 'id',
          order: 'asc',
          offset: 0,
          limit: Number.MAX_SAFE_INTEGER,
        })
        const content = format === 'csv' ? requestsToCsv(items) : JSON.stringify(items, null, 2)
        return { format, content, count: items.length }
      },
      async 'requests.summary'() {
        return (await open()).summary()
      },
      'ledger.verify': async ({ expectKey, expectHead }) => {
        const given = 'given to the verifier'
        const pins: LedgerPin[] = [
          ...(await this.pins()),
          ...(expectKey ? [{ source: `The key ${given}`, keyFingerprint: expectKey }] : []),
          ...(expectHead ? [{ source: `The entry ${given}`, head: expectHead }] : []),
        ]
        try {
          return await verifyLedger(await open(), pins)
        } catch (error) {
          // Too damaged to open: verify the files as they are, to say where the damage starts.
          if (error instanceof LetheError && error.code === 'CORRUPT')
            return verifyLedgerFiles(Ledger.paths(this.dataDir).root, pins)
          throw error
        }
      },
      async 'ledger.head'() {
        return (await open()).head()
      },
      async 'ledger.events'({ requestId, beforeSeq, limit }) {
        const ledger = await open()
        const all = requestId
          ? (ledger.state.requests.get(requestId)?.history ?? [])
          : Array.from({ length: ledger.state.seq }, (_, i) => i + 1)
        const before = all.filter((seq) => beforeSeq === undefined || seq < beforeSeq)
        const page = before.slice(-limit).reverse()
        return { total: all.length, items: await ledger.events(page) }
      },
      async 'ledger.exportEvents'({ format }) {
        const ledger = await open()
        const events = await ledger.withTexts(await allEvents(ledger))
        return {
          format,
          content: format === 'csv' ? eventsToCsv(events) : JSON.stringify(events, null, 2),
          count: events.length,
        }
      },
      async 'ledger.export'({ path }) {
        const result = await exportLedger(await open(), path)
        return { ...result, bytes: (await stat(path)).size }
      },
      'ledger.import': async ({ path }) => {
        await this.close()
        const protector = this.options.keyProtector
        if (!protector) throw new LetheError('INTERNAL', 'Importing a ledger needs a key protector.')
        const result = await importLedger(this.dataDir, path, await protector())
        return result
      },
      'ledger.status': async () => {
        const backups = await listBackups(this.dataDir)
        let ledger: Ledger | undefined
        try {
          ledger = await open()
        } catch (error) {
          if (!(error instanceof LetheError) || error.code !== 'CORRUPT') throw error
        }
        // Damage that kept the ledger from opening, or that the running ledger found since.
        const damage = ledger ? ledger.storage.damage : this.damage
        const details = damage?.details as { file?: string } | undefined
        return {
          ledgerId: ledger?.state.ledgerId ?? null,
          schemaVersion: SCHEMA_VERSION,
          events: ledger?.state.seq ?? 0,
          requests: ledger?.state.requests.size ?? 0,
          damage: damage ? { code: damage.code, message: damage.message, file: details?.file ?? null } : null,
          unfinishedWork: ledger ? [...ledger.state.work.values()] : [],
          backups,
        }
      },
      'ledger.restore': async ({ backupId }) => {
        await this.close()
        const result = await restoreBackup(this.dataDir, backupId)
        this.damage = undefined
        return result
      },
      async 'ledger.applyRetention'(_input, context) {
        return { redacted: await (await open()).applyRetention(actorOf(context)) }
      },
      async 'ledger.settings'(changes, context) {
        return (await open()).settings(changes, actorOf(context))
      },
      async 'registry.list'({ kind }) {
        // Entries registered before deletions were recorded carry no deletion fields.
        const entries = [...(await open()).state.registry.values()].map((e) => ({
          ...e,
          deletedAt: e.deletedAt ?? null,
          deletionRequestId: e.deletionRequestId ?? null,
        }))
        return kind ? entries.filter((e) => e.kind === kind) : entries
      },
    }
  }
}
