/**
 * The API contract: the only door between the renderer and the main process. Every method
 * is declared here with its input and output schemas; the IPC binding, the HTTP bridge and
 * the CLI serve exactly this object. Adding a method touches this folder and its service.
 */
import type { z } from 'zod'
import type { Result } from './errors'
import type { LetheEvent } from './events'
import { certificateMethods } from './certificates'
import { engineMethods } from './engine'
import { ledgerMethods } from './ledger'
import { systemMethods } from './system'

export const methods = {
  ...systemMethods,
  ...ledgerMethods,
  ...engineMethods,
  ...certificateMethods,
}

export type Methods = typeof methods
export type MethodName = keyof Methods
export type Input<M extends MethodName> = z.input<Methods[M]['input']>
export type Output<M extends MethodName> = z.output<Methods[M]['output']>

export const methodNames = Object.keys(methods) as MethodName[]
export const isMethodName = (name: string): name is MethodName => Object.hasOwn(methods, name)

/** What the preload exposes as `window.api`: two generic functions, nothing Electron. */
export interface PreloadApi {
  call(method: string, input: unknown): Promise<Result<unknown>>
  onEvent(listener: (event: LetheEvent) => void): () => void
}

export * from './errors'
export * from './events'
export * from './system'
