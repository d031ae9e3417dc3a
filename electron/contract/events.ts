import { z } from 'zod'

/** Events pushed from the main process to every window (IPC) or stream (bridge). */
export const events = {
  /** Progress of a long job (engine probe now; training and unlearning later). */
  'job.progress': z.object({
    jobId: z.string(),
    kind: z.string(),
    /** 0..1, or null while the amount of work is unknown. */
    fraction: z.number().min(0).max(1).nullable(),
    message: z.string(),
    /** A point of the job's loss curve, when this progress report carries one. */
    point: z
      .object({
        /** What is being optimised: "Training", a method's label, "Reference retraining"… */
        phase: z.string(),
        step: z.number(),
        steps: z.number(),
        loss: z.number(),
        accuracy: z.number().nullable(),
      })
      .optional(),
  }),
  /** A job ended: its state, and its result or error. */
  'job.finished': z.object({
    jobId: z.string(),
    kind: z.string(),
    state: z.enum(['succeeded', 'failed', 'cancelled']),
    result: z.unknown().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  }),
}

export type CurvePoint = NonNullable<z.infer<(typeof events)['job.progress']>['point']>

export type EventName = keyof typeof events
export type EventPayload<E extends EventName> = z.infer<(typeof events)[E]>
/** One event: its name and the payload that name carries (a union that narrows on `name`). */
export type LetheEvent = { [E in EventName]: { name: E; payload: EventPayload<E> } }[EventName]
