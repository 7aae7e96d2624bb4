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
 *
 * Recycling (issue 16): V8 frees a WebAssembly.Memory only when its thread collects garbage, and
 * an idle cell seldom does, so a guest that grew to 1.5 GB and left kept the daemon's RSS there.
 * Each cell counts the memory of the guests that left it; past `recycleBytes`, an empty cell ends
 * at once (no idle linger), and a cell whose departed memory is more than its live guests have is
 * asked to retire: between two calls it acknowledges what it processed and stops, and is then
 * restarted the watchdog's way, its guests re-hosted from their snapshots and handed what it had
 * not processed. Ending the thread returns all of it (measured: a 1 GB memory, RSS back to within
 * 6 MB of before; a forced GC in the thread would too, but Node 20 has no supported way to ask).
 */
import type { AgentExit } from '../driver';
import { Cell, MAX_BACKLOG, type PoolOptions, type Route } from './cell';
import { type FromCell, monoMs } from './protocol';

export { MAX_BACKLOG, type Route } from './cell';

const RECYCLE_BYTES = 16 * 1024 * 1024;
const PAGE = 65536;

export class CellPool {
  private readonly cells = new Set<Cell>();
  private watchdog: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** cells restarted by the watchdog or a KILL mid-call */
  restarts = 0;
  /** cells ended or restarted to return the memory of guests that left */
  recycled = 0;

  constructor(private readonly opts: PoolOptions) {}

  /** Puts a new guest in a cell: a dedicated one of its own, or the fullest shared cell with room. */
  place(route: Route, dedicated: boolean): void {
    let cell: Cell | undefined;
    if (!dedicated) {
      for (const c of this.cells) if (!c.dedicated && !c.closed && !c.recycle && c.size < this.opts.cellSize && (!cell || c.size > cell.size)) cell = c;
    }
    (cell ?? this.newCell(dedicated)).place(route, false);
  }

  /** KILL: at once; a guest mid-call takes its cell down with it (its cell-mates are re-hosted). */
  kill(route: Route): void {
    const cell = route.cell;
    if (!cell || route.gone) return;
    if (cell.running()?.route === route) {
      this.restarts++;
      this.restartCell(cell, route, { code: null, signal: 'SIGKILL' });
      return;
    }
    cell.post({ c: 'drop', i: route.id });
    this.finish(route, { code: null, signal: 'SIGKILL' });
  }

  inCall(instance: string): boolean {
    for (const c of this.cells) {
      const r = c.routes.get(instance);
      if (r) return c.running()?.route === r;
    }
    return false;
  }

  stats(): { cells: number; guests: number; restarts: number; recycled: number } {
    let guests = 0;
    for (const c of this.cells) guests += c.size;
    return { cells: this.cells.size, guests, restarts: this.restarts, recycled: this.recycled };
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
      this.restarts++;
      this.restartCell(cell, run.route, { code: null, signal: 'SIGKILL', reason: `call timeout: ${who} ran ${Math.round(run.elapsedMs)} ms, over limits.callTimeoutMs ${run.budgetMs} ms` });
    }
  }

  /** A guest left `cell` with `bytes` of memory: end or mark the cell when it holds too much garbage. */
  private onLeft(cell: Cell, bytes: number): void {
    cell.leftBytes += bytes;
    const threshold = this.opts.recycleBytes ?? RECYCLE_BYTES;
    if (cell.closed || cell.leftBytes < threshold) return;
    if (cell.size === 0) {
      this.recycled++;
      cell.terminate();
      this.cells.delete(cell);
      return;
    }
    let live = 0;
    for (const r of cell.routes.values()) live += r.usage?.rssBytes ?? r.add.memory.initialPages * PAGE;
    if (cell.leftBytes <= live || cell.recycle) return;
    cell.recycle = true;
    cell.post({ c: 'retire' });
  }

  private recycleCell(cell: Cell): void {
    this.recycled++;
    const mb = Math.round(cell.leftBytes / 1048576);
    this.restartCell(cell, undefined, { code: null, signal: null }, `it was recycled to return ${mb} MB of memory of agents that left to the OS`);
  }

  private newCell(dedicated: boolean): Cell {
    const cell = new Cell(dedicated, this.opts, (c, m) => this.onCellMessage(c, m), (c, why) => this.onCellGone(c, why));
    this.cells.add(cell);
    this.watchdog ??= setInterval(() => this.tick(), this.opts.watchdogMs).unref();
    this.heartbeat ??= setInterval(() => this.beat(), this.opts.aliveMs).unref();
    return cell;
  }

  private restartCell(cell: Cell, offender: Route | undefined, exit: AgentExit, because?: string): void {
    cell.terminate();
    this.cells.delete(cell);
    if (offender) this.finish(offender, exit);
    const backlog = cell.outbox;
    cell.outbox = [];
    const mates = [...cell.routes.values()].filter((r) => !r.gone);
    if (mates.length === 0) return;
    const next = this.newCell(cell.dedicated);
    const why = because ?? (offender ? `instance ${offender.id} ${exit.reason ? `(${exit.reason})` : 'was killed mid-call'}` : 'a guest overran its call');
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
    if (m.c === 'left') {
      this.onLeft(cell, m.bytes);
      return;
    }
    if (m.c === 'retired') {
      if (cell.recycle && !cell.closed) this.recycleCell(cell);
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
