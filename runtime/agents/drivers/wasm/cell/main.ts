/**
 * A cell (DESIGN §4): a sandbox worker thread in the daemon's process that hosts one WASM agent
 * (`isolation: "dedicated"`) or many (`"shared"`). Bundled as dist/wasm-cell.mjs. It handles
 * messages from the driver in order, one guest call at a time; before each call it writes the
 * call's start and budget into the shared watch slot, which the daemon's watchdog reads, so a
 * guest that never returns gets the cell terminated from outside. It acknowledges what it has
 * processed, so the driver can replay the rest to the guests it re-hosts after such a restart.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MirrorReader } from '../../../../../hal/mirror';
import { type CellData, type FromCell, monoMs, type ToCell, WATCH_BUDGET, WATCH_LENGTH, WATCH_SLOT, WATCH_START } from '../protocol';
import { type CellContext, Guest } from './guest';

const port = parentPort ?? (() => { throw new Error('wasm-cell runs as a worker thread'); })();
const data = workerData as CellData;
const watch = new Float64Array(data.watch, 0, WATCH_LENGTH);
const guests = new Map<string, Guest>();
let lastSeq = 0;
let ackScheduled = false;
let callStart = 0;
/** after `retire` the cell runs no guest code: it is about to be ended and its guests re-hosted */
let retired = false;

const ctx: CellContext = {
  post: (m: FromCell) => port.postMessage(m),
  mirror: data.mirror ? new MirrorReader(data.mirror) : null,
  enter(slot, budgetMs) {
    callStart = monoMs();
    watch[WATCH_SLOT] = slot;
    watch[WATCH_BUDGET] = budgetMs;
    watch[WATCH_START] = callStart;
  },
  leave() {
    watch[WATCH_START] = 0;
    return monoMs() - callStart;
  },
  now: () => monoMs(),
  removed(id, bytes) {
    guests.delete(id);
    port.postMessage({ c: 'left', i: id, bytes } satisfies FromCell);
  },
};

function ack(seq: number): void {
  lastSeq = Math.max(lastSeq, seq);
  if (ackScheduled) return;
  ackScheduled = true;
  setImmediate(() => {
    ackScheduled = false;
    port.postMessage({ c: 'ack', s: lastSeq } satisfies FromCell);
  });
}

port.on('message', (m: ToCell) => {
  if (retired) return;
  switch (m.c) {
    case 'add': {
      const g = new Guest(m, ctx);
      guests.set(m.i, g);
      g.start();
      return;
    }
    case 'msg':
      guests.get(m.i)?.receive(m.m);
      ack(m.s);
      return;
    case 'term':
      guests.get(m.i)?.term();
      ack(m.s);
      return;
    case 'drop':
      guests.get(m.i)?.exit(null, 'SIGKILL');
      return;
    case 'retire':
      // Between calls by construction (one message at a time): what the guests said is already
      // posted, so the driver loses nothing, and replays only what comes after this.
      retired = true;
      port.postMessage({ c: 'ack', s: lastSeq } satisfies FromCell);
      port.postMessage({ c: 'retired' } satisfies FromCell);
  }
});

setInterval(() => {
  const alive: string[] = [];
  for (const g of guests.values()) if (g.inited) alive.push(g.id);
  port.postMessage({ c: 'alive', i: alive } satisfies FromCell);
}, data.aliveMs);

setInterval(() => {
  const u: Array<[string, number, number]> = [];
  for (const g of guests.values()) {
    u.push([g.id, g.cpuMs, g.memoryBytes]);
    g.cpuMs = 0;
    g.reportDrops();
  }
  port.postMessage({ c: 'usage', u } satisfies FromCell);
}, data.usageMs);
