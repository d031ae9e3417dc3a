import type { z } from 'zod'

export interface MethodSpec<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  summary: string
  input: I
  output: O
  /** Largest serialised input, where a method takes more than MAX_INPUT_BYTES (an uploaded file). */
  maxInputBytes?: number
}

export const defineMethod = <I extends z.ZodType, O extends z.ZodType>(spec: MethodSpec<I, O>) => spec
