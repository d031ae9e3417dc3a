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
  }),
}

export type EventName = keyof typeof events
export type EventPayload<E extends EventName> = z.infer<(typeof events)[E]>
export interface LetheEvent<E extends EventName = EventName> {
  name: E
  payload: EventPayload<E>
}
