/**
 * One cell as the daemon sees it (DESIGN §4): its worker thread, the shared watch slot the
 * watchdog reads, the guests (routes) it holds, and the messages posted to it that it has not yet
 * acknowledged — kept so they can be replayed to its guests if the cell has to be restarted.
 */
import { Worker } from 'node:worker_threads';
import type { MirrorLayout } from '../../../../hal/mirror';
import type { UsageSample } from '../../limits';
import type { AgentExit } from '../driver';
import { type AddGuest, type CellData, type FromCell, monoMs, type ToCell, WATCH_BUDGET, WATCH_LENGTH, WATCH_SLOT, WATCH_START } from './protocol';

/** One guest as the daemon tracks it; it outlives the cell it is in when that cell is restarted. */
export interface Route {
  readonly id: string;
  /** what re-hosting it needs (slot, snapshot and resume are filled per cell) */
  readonly add: Omit<AddGuest, 'c' | 'slot' | 'snapshot' | 'resume'>;
  cell: Cell | undefined;
  slot: number;
  snapshot: string | null;
  usage: UsageSample | undefined;
  gone: boolean;
  /** past init in its cell: heartbeats are sent on its behalf */
  ready: boolean;
  /** events posted to its cell and not yet processed */
  backlog: number;
  /** events dropped because the backlog was full, since the last report */
  dropped: number;
  onMessage(m: unknown): void;
  onOutput(stream: 'stdout' | 'stderr', line: string): void;
  onAdded(): void;
  /** resolves the instance's `exited` (once) */
  onExit(e: AgentExit): void;
}

export interface PoolOptions {
  cellPath: string;
  cellSize: number;
  watchdogMs: number;
  mirror: MirrorLayout | null;
  aliveMs: number;
  usageMs: number;
  /** how long an empty cell lingers before its thread ends */
  idleCloseMs?: number;
  /** memory of guests that left a cell past which the cell is recycled (cell-pool.ts); default 16 MB */
  recycleBytes?: number;
}

const MAX_OUTBOX = 10_000;
/** events a guest may have waiting in its cell; past this new events for it are dropped and counted */
export const MAX_BACKLOG = 1000;

export class Cell {
  readonly worker: Worker;
  readonly watch: Float64Array;
  readonly routes = new Map<string, Route>();
  readonly slots: Array<Route | undefined> = [];
  /** messages posted but not yet acknowledged, for replay after a restart */
  outbox: Array<{ s: number; i: string; m: ToCell }> = [];
  private seq = 0;
  closed = false;
  idleTimer: NodeJS.Timeout | undefined;
  /** when the cell last said anything (monotonic ms) */
  lastSeen = monoMs();
  /** linear memory of guests that left this cell: garbage its thread may still keep mapped */
  leftBytes = 0;
  /** asked to retire (recycling): takes no new guests, and is restarted when it answers */
  recycle = false;

  constructor(
    readonly dedicated: boolean,
    opts: PoolOptions,
    private readonly onMessage: (cell: Cell, m: FromCell) => void,
    private readonly onGone: (cell: Cell, why: string) => void,
  ) {
    const watch = new SharedArrayBuffer(WATCH_LENGTH * 8);
    this.watch = new Float64Array(watch);
    const workerData: CellData = { watch, mirror: opts.mirror, aliveMs: opts.aliveMs, usageMs: opts.usageMs };
    this.worker = new Worker(opts.cellPath, {
      workerData,
      env: {},
      stdout: false,
      stderr: false,
      // The cell's own JS heap is small; guests' linear memory is not counted here (their maximum is).
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 2, stackSizeMb: 4 },
    });
    this.worker.unref();
    let error = '';
    this.worker.on('message', (m: FromCell) => this.onMessage(this, m));
    this.worker.on('error', (err) => (error = err.message));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.onGone(this, error || `exit code ${code}`);
      this.closed = true;
    });
  }

  get size(): number {
    return this.routes.size;
  }

  place(route: Route, resume: boolean): void {
    let slot = this.slots.findIndex((r) => r === undefined);
    if (slot < 0) slot = this.slots.push(undefined) - 1;
    this.slots[slot] = route;
    this.routes.set(route.id, route);
    route.cell = this;
    route.slot = slot;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.post({ ...route.add, c: 'add', slot, snapshot: route.snapshot, resume });
  }

  remove(route: Route): void {
    if (this.routes.get(route.id) !== route) return;
    this.routes.delete(route.id);
    this.slots[route.slot] = undefined;
    this.outbox = this.outbox.filter((e) => e.i !== route.id);
    route.backlog = 0;
  }

  /** Posts to the cell; messages that need acknowledging get a sequence number and stay in the outbox. */
  post(m: ToCell | { c: 'msg'; i: string; m: unknown } | { c: 'term'; i: string } | { c: 'retire' }): void {
    if (this.closed) return;
    if (m.c === 'msg' || m.c === 'term') {
      const s = ++this.seq;
      const full = { ...m, s } as ToCell;
      this.outbox.push({ s, i: m.i, m: full });
      const route = this.routes.get(m.i);
      if (route) route.backlog++;
      if (this.outbox.length > MAX_OUTBOX) this.forget(this.outbox.shift());
      this.worker.postMessage(full);
      return;
    }
    this.worker.postMessage(m);
  }

  acked(s: number): void {
    let n = 0;
    while (n < this.outbox.length && (this.outbox[n]?.s ?? Infinity) <= s) n++;
    if (n > 0) this.outbox.splice(0, n).forEach((e) => this.forget(e));
  }

  private forget(e: { i: string } | undefined): void {
    const r = e && this.routes.get(e.i);
    if (r && r.backlog > 0) r.backlog--;
  }

  /** The route whose call is running now and how long it has run, if any. */
  running(now = monoMs()): { route: Route | undefined; elapsedMs: number; budgetMs: number } | undefined {
    const start = this.watch[WATCH_START] ?? 0;
    if (start === 0) return undefined;
    const slot = this.watch[WATCH_SLOT] ?? -1;
    const budgetMs = this.watch[WATCH_BUDGET] ?? 0;
    if (this.watch[WATCH_START] !== start) return undefined;
    return { route: this.slots[slot], elapsedMs: now - start, budgetMs };
  }

  terminate(): void {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    void this.worker.terminate();
  }
}
