/**
 * Polling agents for state snapshots (DESIGN §6, §12.8): one call per running instance per round,
 * with a timeout and a size cap. An instance whose previous call is still out is not asked again
 * and is marked, so one agent that never answers cannot hold up the round or pile up calls.
 * WASM instances answer from the snapshot they last pushed, without entering the cell.
 */
export const MAX_SNAPSHOT_BYTES = 64 * 1024;

export interface SnapshotResult {
  snapshot: unknown;
  at: number;
  error?: string;
}

export class SnapshotPoller {
  private readonly inFlight = new Map<string, number>();
  private readonly latest = new Map<string, SnapshotResult>();

  constructor(
    private readonly call: (instance: string, timeoutMs: number) => Promise<unknown>,
    private readonly timeoutMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts a call for each running instance not already waiting, and forgets instances that no
   * longer exist (`known`: all of them, running or not); resolves when this round's calls settle.
   */
  async poll(running: readonly string[], known: readonly string[] = running): Promise<void> {
    const keep = new Set(known);
    for (const k of this.latest.keys()) if (!keep.has(k)) this.latest.delete(k);
    await Promise.all(running.map((i) => this.one(i)));
  }

  get(instance: string): SnapshotResult | undefined {
    return this.latest.get(instance);
  }

  /** seeds what the store kept from before a restart */
  seed(instance: string, r: SnapshotResult): void {
    if (!this.latest.has(instance)) this.latest.set(instance, r);
  }

  private async one(instance: string): Promise<void> {
    const started = this.inFlight.get(instance);
    if (started !== undefined) {
      const prev = this.latest.get(instance);
      this.latest.set(instance, { snapshot: prev?.snapshot ?? null, at: prev?.at ?? 0, error: `no answer to the snapshot call since ${Math.round((this.now() - started) / 1000)} s ago` });
      return;
    }
    this.inFlight.set(instance, this.now());
    const prev = this.latest.get(instance);
    const keep = (error: string): void => void this.latest.set(instance, { snapshot: prev?.snapshot ?? null, at: prev?.at ?? 0, error });
    let timer: NodeJS.Timeout | undefined;
    const call = this.call(instance, this.timeoutMs);
    // the call may outlive the round (its own timeout ends it); the flag clears only when it does
    void call.then(
      () => this.inFlight.delete(instance),
      () => this.inFlight.delete(instance),
    );
    try {
      const value = await Promise.race([call, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs)))]);
      const text = safeJson(value);
      if (text === undefined) return keep('the snapshot is not JSON (a function, a cycle, or a BigInt)');
      if (Buffer.byteLength(text) > MAX_SNAPSHOT_BYTES) return keep(`the snapshot is ${Buffer.byteLength(text)} bytes; at most ${MAX_SNAPSHOT_BYTES} are kept`);
      this.latest.set(instance, { snapshot: JSON.parse(text) as unknown, at: this.now() });
    } catch (err) {
      keep((err as Error).message.split('\n')[0] ?? 'the snapshot call failed');
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

function safeJson(v: unknown): string | undefined {
  try {
    return JSON.stringify(v ?? null);
  } catch {
    return undefined;
  }
}
