import { events, type EventName, type EventPayload, type LetheEvent } from '../contract'

/** Fan-out of contract events to whichever transports are listening. */
export class EventHub {
  private readonly listeners = new Set<(event: LetheEvent) => void>()

  subscribe(listener: (event: LetheEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    this.publish({ name, payload } as LetheEvent)
  }

  /** Checks an event against the contract before it leaves the main process. */
  publish(event: LetheEvent): void {
    const parsed = events[event.name].safeParse(event.payload)
    if (!parsed.success) throw new Error(`Event ${event.name} breaks the contract: ${parsed.error.message}`)
    for (const listener of this.listeners) listener(event)
  }
}
