/** Every unlearning method the engine offers, baselines first, then the research methods. */
import { LetheError } from '../../contract'
import { baselineMethods } from './baselines'
import { certifiedMethod } from './certified'
import { delMethod } from './del'
import { hfMethod } from './hf'
import type { UnlearningMethod } from './method'

/** Each method takes its own options, parsed by the contract's schema for it (parseUnlearnOptions). */
type AnyMethod = UnlearningMethod<Record<string, unknown>>

export const unlearningMethodList = [...baselineMethods, hfMethod, certifiedMethod, delMethod] as AnyMethod[]

export function methodNamed(name: string): AnyMethod {
  const method = unlearningMethodList.find((m) => m.name === name)
  if (!method) throw new LetheError('BAD_INPUT', `Unknown unlearning method "${name}".`)
  return method
}
