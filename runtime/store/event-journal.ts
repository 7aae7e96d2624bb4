/**
 * The event journal (issue 17): the events of the bus the daemon keeps, in the order the bus
 * delivered them, written to the event log and, when exported, to the fleet outbox, in one
 * transaction on the synchronous=FULL connection (SecureBatch, so audit rows of the same moment
 * share it). Rule publishes and the fleet link's audit messages join the same queue, so the outbox
 * holds everything in the order it happened, and an effect (rules:fired, agent:spawned) always
 * after its cause.
 *
 * A caller that acknowledges an event (events.emit, a webhook) awaits `durable()`: the commit then
 * happens within `commitWithinMs`, shared by everything that arrived in the meantime — a group
 * commit, one fsync for the lot, so a burst does not wear the card. Everything else is committed by
 * the daemon's once-a-second `flush()`. Sensor samples (`hal:sensor.*`) are not logged: they stay
 * in RAM by design (docs/fleet-protocol.md).
 */
import type { EventEnvelope } from '../bus/envelope';
import type { EventsRepo } from './events-repo';
import type { OutboxBounds, OutboxRepo } from './outbox-repo';
import type { SecureBatch } from './secure-batch';

/** what goes to the collector, once a broker is configured */
export interface JournalExport {
  /** the outbox topic of an event, or undefined when it is not exported */
  topic(e: EventEnvelope): string | undefined;
  bounds: OutboxBounds;
}

interface Entry {
  event?: EventEnvelope;
  out?: { topic: string; payload: string };
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export interface JournalOptions {
  /** entries held in RAM while the disk refuses them; beyond, the oldest are dropped */
  maxPending: number;
  /** how long an acknowledged event may wait to share its commit */
  commitWithinMs: number;
}

export class EventJournal {
  private pending: Entry[] = [];
  private waiters: Waiter[] = [];
  /** the shortest wait a commit is already scheduled for (Infinity: none) */
  private scheduledWithin = Infinity;
  private exporter: JournalExport | undefined;
  private readonly listeners = new Set<() => void>();
  /** entries lost while the disk refused them */
  dropped = 0;
  commits = 0;

  constructor(
    private readonly events: EventsRepo,
    private readonly outbox: OutboxRepo,
    private readonly batch: SecureBatch,
    private readonly opts: JournalOptions,
  ) {}

  /** from now on, exported events also go to the outbox (the daemon sets it when fleet.broker is) */
  exportTo(x: JournalExport | undefined): void {
    this.exporter = x;
  }

  get exporting(): boolean {
    return this.exporter !== undefined;
  }

  /** an event of the bus: logged unless `logged` is false, and queued for the outbox when exported */
  record(e: EventEnvelope, logged = true): void {
    const topic = this.exporter?.topic(e);
    if (!logged && topic === undefined) return;
    this.push({ ...(logged ? { event: e } : {}), ...(topic !== undefined ? { out: { topic, payload: JSON.stringify(e) } } : {}) });
  }

  /**
   * A message for the outbox that is not an event of the bus (a rule's publish, an audit
   * message), after everything recorded so far; committed within `withinMs`.
   */
  publish(topic: string, payload: string, withinMs = this.opts.commitWithinMs): void {
    this.push({ out: { topic, payload } });
    this.schedule(withinMs);
  }

  /** Resolves once everything recorded so far is on disk; rejects with OSZ_E_STORE_IO when the disk refused it. */
  durable(): Promise<void> {
    if (this.pending.length === 0 && this.scheduledWithin === Infinity) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule(this.opts.commitWithinMs);
    return done;
  }

  /** commits what is queued now; throws OSZ_E_STORE_IO when the disk refuses */
  flush(): void {
    if (this.pending.length > 0) this.schedule(0);
    this.batch.flush();
  }

  /** `fn` runs after each commit that wrote something to the outbox; returns the function that stops it */
  onCommit(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private push(entry: Entry): void {
    if (this.pending.length >= this.opts.maxPending) {
      // commit now rather than hold more; only a disk that refuses it loses the oldest
      try {
        this.flush();
      } catch {
        /* the waiters were told; the batch is back in pending */
      }
      if (this.pending.length >= this.opts.maxPending) this.dropped += this.pending.splice(0, this.pending.length - this.opts.maxPending + 1).length;
    }
    this.pending.push(entry);
  }

  private schedule(withinMs: number): void {
    if (withinMs >= this.scheduledWithin) return;
    this.scheduledWithin = withinMs;
    let taken: Entry[] = [];
    let told: Waiter[] = [];
    this.batch.later(
      'write the event log',
      () => {
        this.scheduledWithin = Infinity;
        taken = this.pending;
        told = this.waiters;
        this.pending = [];
        this.waiters = [];
        this.write(taken);
      },
      () => {
        this.commits++;
        for (const w of told) w.resolve();
        if (taken.some((e) => e.out)) for (const fn of this.listeners) fn();
        taken = [];
        told = [];
      },
      withinMs,
      (err) => {
        // rolled back: keep the entries, in order, for the next commit; tell every waiter
        this.scheduledWithin = Infinity;
        if (taken.some((e) => e.out)) this.outbox.forgetTotals();
        this.pending = [...taken, ...this.pending];
        if (this.pending.length > this.opts.maxPending) this.dropped += this.pending.splice(0, this.pending.length - this.opts.maxPending).length;
        for (const w of [...told, ...this.waiters.splice(0)]) w.reject(err);
        taken = [];
        told = [];
      },
    );
  }

  private write(entries: readonly Entry[]): void {
    const logged: EventEnvelope[] = [];
    const out: Array<{ topic: string; payload: string }> = [];
    for (const e of entries) {
      if (e.event) logged.push(e.event);
      if (e.out) out.push(e.out);
    }
    this.events.insert(logged);
    if (out.length > 0) this.outbox.insert(out, this.exporter?.bounds ?? DEFAULT_BOUNDS);
  }
}

/** the schema's fleet.outbox defaults, for audit messages queued before exportTo */
const DEFAULT_BOUNDS: OutboxBounds = { maxMessages: 10_000, maxBytes: 16 * 1024 * 1024 };
