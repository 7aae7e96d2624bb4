/**
 * The daemon's side of the cells (DESIGN §4): which cell a guest goes to, the watchdog, and what
 * happens when a cell must go. Shared cells take up to `cellSize` guests; dedicated ones one.
 *
 * Watchdog: one timer on the daemon's thread reads each cell's shared watch slot (start of the
 * running call on the process-wide monotonic clock, its guest, its budget). A call past its budget
 * terminates the cell (V8 stops a thread spinning in wasm in ≈ 1.5 ms): the offender exits with
 * SIGKILL and the reason, and its cell-mates are re-hosted in a new cell at once — init, then
 * `restore` with their last pushed snapshot — and get the messages the old cell had not yet
 * acknowledged, so none is lost. A KILL that lands while its guest is mid-call takes the same path.
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
  post(m: ToCell | { c: 'msg'; i: string; m: unknown } | { c: 'term'; i: string }): void {
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

export class CellPool {
  private readonly cells = new Set<Cell>();
  private watchdog: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** cells restarted by the watchdog or a KILL mid-call */
  restarts = 0;

  constructor(private readonly opts: PoolOptions) {}

  /** Puts a new guest in a cell: a dedicated one of its own, or the fullest shared cell with room. */
  place(route: Route, dedicated: boolean): void {
    let cell: Cell | undefined;
    if (!dedicated) {
      for (const c of this.cells) if (!c.dedicated && !c.closed && c.size < this.opts.cellSize && (!cell || c.size > cell.size)) cell = c;
    }
    (cell ?? this.newCell(dedicated)).place(route, false);
  }

  /** KILL: at once; a guest mid-call takes its cell down with it (its cell-mates are re-hosted). */
  kill(route: Route): void {
    const cell = route.cell;
    if (!cell || route.gone) return;
    if (cell.running()?.route === route) {
      this.restartCell(cell, route, { code: null, signal: 'SIGKILL' });
      return;
    }
    cell.post({ c: 'drop', i: route.id });
    this.finish(route, { code: null, signal: 'SIGKILL' });
  }

  stats(): { cells: number; guests: number; restarts: number } {
    let guests = 0;
    for (const c of this.cells) guests += c.size;
    return { cells: this.cells.size, guests, restarts: this.restarts };
  }

  /**
   * Heartbeats on behalf of guests past init, from the daemon's thread: for every cell that spoke
   * lately, or is inside a call still within its budget (a long legitimate call must not get its
   * cell-mates stopped for silence; one over budget is the watchdog's).
   */
  beat(now = monoMs()): void {
    for (const cell of this.cells) {
      const run = cell.running(now);
      const healthy = now - cell.lastSeen < this.opts.aliveMs * 2.5 || (run !== undefined && run.elapsedMs <= run.budgetMs);
      if (!healthy) continue;
      for (const r of cell.routes.values()) if (r.ready && !r.gone) r.onMessage({ jsonrpc: '2.0', method: 'heartbeat' });
    }
  }

  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.watchdog = this.heartbeat = undefined;
    for (const c of this.cells) {
      for (const r of [...c.routes.values()]) this.finish(r, { code: null, signal: 'SIGKILL', reason: 'daemon stopped' });
      c.terminate();
    }
    this.cells.clear();
  }

  /** One watchdog pass (also called by tests). */
  tick(now = monoMs()): void {
    for (const cell of this.cells) {
      const run = cell.running(now);
      if (!run || run.elapsedMs <= run.budgetMs) continue;
      const who = run.route ? `instance ${run.route.id}` : 'a guest';
      this.restartCell(cell, run.route, { code: null, signal: 'SIGKILL', reason: `call timeout: ${who} ran ${Math.round(run.elapsedMs)} ms, over limits.callTimeoutMs ${run.budgetMs} ms` });
    }
  }

  private newCell(dedicated: boolean): Cell {
    const cell = new Cell(dedicated, this.opts, (c, m) => this.onCellMessage(c, m), (c, why) => this.onCellGone(c, why));
    this.cells.add(cell);
    this.watchdog ??= setInterval(() => this.tick(), this.opts.watchdogMs).unref();
    this.heartbeat ??= setInterval(() => this.beat(), this.opts.aliveMs).unref();
    return cell;
  }

  private restartCell(cell: Cell, offender: Route | undefined, exit: AgentExit): void {
    this.restarts++;
    cell.terminate();
    this.cells.delete(cell);
    if (offender) this.finish(offender, exit);
    const backlog = cell.outbox;
    cell.outbox = [];
    const mates = [...cell.routes.values()].filter((r) => !r.gone);
    if (mates.length === 0) return;
    const next = this.newCell(cell.dedicated);
    const why = offender ? `instance ${offender.id} ${exit.reason ? `(${exit.reason})` : 'was killed mid-call'}` : 'a guest overran its call';
    for (const r of mates) {
      cell.remove(r);
      r.onOutput('stderr', `openstarryd: cell restarted because ${why}; this instance was re-hosted ${r.snapshot === null ? 'fresh (it pushed no snapshot)' : 'from its last snapshot'}`);
      next.place(r, true);
    }
    // What the old cell had not processed yet, in order, to the guests now in the new one.
    for (const e of backlog) {
      const r = next.routes.get(e.i);
      if (r && e.m.c === 'msg') next.post({ c: 'msg', i: e.i, m: e.m.m });
      else if (r && e.m.c === 'term') next.post({ c: 'term', i: e.i });
    }
  }

  private onCellGone(cell: Cell, why: string): void {
    this.cells.delete(cell);
    for (const r of [...cell.routes.values()]) this.finish(r, { code: null, signal: null, reason: `wasm cell stopped: ${why}` });
  }

  private finish(route: Route, exit: AgentExit): void {
    if (route.gone) return;
    route.gone = true;
    const cell = route.cell;
    if (cell) {
      cell.remove(route);
      if (cell.size === 0 && !cell.closed) {
        if (cell.idleTimer) clearTimeout(cell.idleTimer);
        cell.idleTimer = setTimeout(() => {
          if (cell.size > 0) return;
          cell.terminate();
          this.cells.delete(cell);
        }, this.opts.idleCloseMs ?? 10_000).unref();
      }
    }
    route.onExit(exit);
  }

  private onCellMessage(cell: Cell, m: FromCell): void {
    cell.lastSeen = monoMs();
    if (m.c === 'ack') {
      cell.acked(m.s);
      return;
    }
    if (m.c === 'usage') {
      for (const [id, cpuMs, bytes] of m.u) {
        const r = cell.routes.get(id);
        if (!r) continue;
        r.usage = { cpuPercent: (cpuMs / this.opts.usageMs) * 100, rssBytes: bytes };
        if (r.dropped > 0) {
          r.onOutput('stderr', `openstarryd: dropped ${r.dropped} event(s): the agent is not keeping up (${MAX_BACKLOG} waiting)`);
          r.dropped = 0;
        }
      }
      return;
    }
    if (m.c === 'alive') {
      for (const id of m.i) {
        const r = cell.routes.get(id);
        if (r) r.ready = true;
      }
      return;
    }
    const r = cell.routes.get(m.i);
    if (!r || r.gone) return;
    switch (m.c) {
      case 'added':
        r.onAdded();
        return;
      case 'msg':
        r.onMessage(m.m);
        return;
      case 'out':
        r.onOutput(m.stream, m.line);
        return;
      case 'snap':
        r.snapshot = m.json;
        return;
      case 'exit':
        this.finish(r, { code: m.code, signal: m.signal, ...(m.reason ? { reason: m.reason } : {}) });
    }
  }
}
