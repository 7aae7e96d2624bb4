/**
 * Writes for the `synchronous=FULL` connection (DESIGN §12.11), gathered and committed in one
 * transaction, so a burst of audit rows, or a remote command's counter, nonce and audit row, costs
 * one fsync instead of one each. A write is committed at the end of the current turn of the event
 * loop (`setImmediate`), or, when its caller allows it (`withinMs`: what a read-only remote command
 * records), within that many milliseconds, so a stream of commands shares an fsync (measured: a
 * FULL commit takes ≈ 0.3-0.5 ms here, longer than the whole MQTT round trip it would sit in).
 * `flush()` commits at once: callers that must be durable before they act (the counter of a
 * mutating remote command) call it; readers call it first so they see their own writes. The event
 * log's group commit (event-journal.ts) rides the same transactions, so an emit and the audit rows
 * of the same few milliseconds share one fsync (issue 17).
 */
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export class SecureBatch {
  private pending: Array<{ what: string; write: () => void; committed?: (() => void) | undefined; failed?: ((err: Error) => void) | undefined }> = [];
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** when the timer fires (performance.now()) */
  private deadline = Infinity;

  constructor(
    private readonly secure: Db,
    private readonly guard: WriteGuard,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  /**
   * Queues a write; `committed` runs once it is on disk, `failed` when its transaction was rolled
   * back (any write of the batch failing rolls back all of them). A write that asks for a shorter
   * wait than the one already scheduled brings the commit forward.
   */
  later(what: string, write: () => void, committed?: () => void, withinMs = 0, failed?: (err: Error) => void): void {
    this.pending.push({ what, write, committed, failed });
    if (this.immediate) return;
    if (withinMs <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.deadline = Infinity;
      this.immediate = setImmediate(() => this.flushQuietly());
      return;
    }
    const at = performance.now() + withinMs;
    if (this.timer && at >= this.deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.deadline = at;
    this.timer = setTimeout(() => this.flushQuietly(), withinMs);
    this.timer.unref();
  }

  /** commits everything queued, in one transaction; throws OSZ_E_STORE_IO when the disk refuses */
  flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = undefined;
    this.timer = undefined;
    this.deadline = Infinity;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const what = [...new Set(batch.map((b) => b.what))].join(', ');
    try {
      this.guard.run(what, () =>
        this.secure.transaction(() => {
          for (const b of batch) b.write();
        })(),
      );
    } catch (err) {
      for (const b of batch) b.failed?.(err as Error);
      throw err;
    }
    for (const b of batch) b.committed?.();
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (err) {
      this.onError((err as Error).message);
    }
  }
}
