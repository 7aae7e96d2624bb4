/**
 * The daemon's typed event bus. Listeners are registered under an owner (a subsystem or an
 * instance id) so that everything an owner registered is removed in one call when it stops
 * (the zigbee2mqtt eventBus pattern). A throwing listener is logged and never breaks delivery.
 */
import type { Logger } from '../log';
import { type EventEnvelope, makeEvent, type NewEvent } from './envelope';
import { matchesPattern } from './pattern';

export type Listener = (e: EventEnvelope) => void;

interface Registration {
  owner: string;
  pattern: string;
  fn: Listener;
}

export class EventBus {
  private regs: Registration[] = [];

  constructor(private readonly log: Logger) {}

  on(owner: string, pattern: string, fn: Listener): () => void {
    const reg = { owner, pattern, fn };
    this.regs.push(reg);
    return () => {
      this.regs = this.regs.filter((r) => r !== reg);
    };
  }

  removeOwner(owner: string): void {
    this.regs = this.regs.filter((r) => r.owner !== owner);
  }

  listenerCount(owner?: string): number {
    return owner ? this.regs.filter((r) => r.owner === owner).length : this.regs.length;
  }

  emit(e: NewEvent): EventEnvelope {
    const envelope = makeEvent(e);
    this.publish(envelope);
    return envelope;
  }

  publish(envelope: EventEnvelope): void {
    for (const reg of [...this.regs]) {
      if (!matchesPattern(reg.pattern, envelope.type)) continue;
      try {
        reg.fn(envelope);
      } catch (err) {
        this.log.error('bus', `listener of ${reg.owner} failed on ${envelope.type}: ${(err as Error).message}`);
      }
    }
  }
}
