/**
 * Writes for the `synchronous=FULL` connection (DESIGN §12.11), gathered and committed in one
 * transaction, so a burst of audit rows, or a remote command's counter, nonce and audit row, costs
 * one fsync instead of one each. A write is committed at the end of the current turn of the event
 * loop (`setImmediate`), or, when its caller allows it (`withinMs`: what a read-only remote command
 * records), within that many milliseconds, so a stream of commands shares an fsync (measured: a
 * FULL commit takes ≈ 0.3-0.5 ms here, longer than the whole MQTT round trip it would sit in).
 * `flush()` commits at once: callers that must be durable before they act (the counter of a
 * mutating remote command) call it; readers call it first so they see their own writes.
 */
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export class SecureBatch {
  private pending: Array<{ what: string; write: () => void; committed?: (() => void) | undefined }> = [];
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly secure: Db,
    private readonly guard: WriteGuard,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  /** queues a write; `committed` runs once it is on disk */
  later(what: string, write: () => void, committed?: () => void, withinMs = 0): void {
    this.pending.push({ what, write, committed });
    if (this.immediate) return;
    if (withinMs <= 0) {
      this.immediate = setImmediate(() => this.flushQuietly());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flushQuietly(), withinMs);
      this.timer.unref();
    }
  }

  /** commits everything queued, in one transaction; throws OSZ_E_STORE_IO when the disk refuses */
  flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = undefined;
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const what = [...new Set(batch.map((b) => b.what))].join(', ');
    this.guard.run(what, () =>
      this.secure.transaction(() => {
        for (const b of batch) b.write();
      })(),
    );
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
