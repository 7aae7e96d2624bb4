/**
 * `GET /metrics`: Prometheus text format 0.0.4 (DESIGN §9), read from the dashboard model and the
 * subsystems' own counters: per-agent CPU, RSS, restarts and tokens; rule matches, runs and
 * errors; HAL reads and read errors per device; the fleet link's connection and outbox depth; the
 * host's figures; the daemon's own memory and open streams. Readable without the token, like the
 * dashboard without snapshots.
 */
import type { Dashboard } from '../dashboard/model';
import type { HttpServer } from './server';

export interface MetricsSources {
  dashboard(): Dashboard;
  rules(): Array<{ id: string; matched: number; fired: number; evalErrors: number; running: number; lastError?: string }>;
  hal(): Array<{ deviceId: string; reads: number; errors: number }>;
  streams(): number;
  /** the listener's connections now, and what its caps and write deadline closed (registerMetrics fills it in) */
  connections?(): ConnectionFigures;
}

export interface ConnectionFigures {
  open: number;
  anonymous: number;
  refusals: { ceiling: number };
  evictions: { perClient: number; total: number; ceiling: number };
  stalled: number;
}

type Labels = Record<string, string>;

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Labels, number | null | undefined]>): void {
    const real = samples.filter((s): s is [Labels, number] => typeof s[1] === 'number' && Number.isFinite(s[1]));
    if (real.length === 0) return;
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of real) this.lines.push(`${name}${labelText(labels)} ${value}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (l: Labels): string => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

export function metricsText(src: MetricsSources): string {
  const m = new Exposition();
  const d = src.dashboard();
  const device = d.device?.value;
  m.family('openstarry_build_info', 'gauge', 'the daemon version and board', [[{ version: device?.version ?? '', board: device?.board ?? '', device: device?.id ?? '' }, 1]]);
  m.family('openstarry_start_time_seconds', 'gauge', 'when the daemon started, Unix seconds', [[{}, device ? device.startedAt / 1000 : null]]);

  const r = d.resources?.value;
  m.family('openstarry_host_cpu_percent', 'gauge', 'host CPU use', [[{}, r?.cpuPercent]]);
  m.family('openstarry_host_memory_total_bytes', 'gauge', 'host memory', [[{}, r?.memory?.totalBytes]]);
  m.family('openstarry_host_memory_available_bytes', 'gauge', 'host memory available', [[{}, r?.memory?.availableBytes]]);
  m.family('openstarry_host_disk_free_bytes', 'gauge', 'free bytes on the home filesystem', [[{ path: r?.disk?.path ?? '' }, r?.disk?.freeBytes]]);
  m.family('openstarry_host_soc_temperature_celsius', 'gauge', 'SoC temperature', [[{}, r?.socTempC]]);

  const agents = d.agents?.value.instances ?? [];
  const lab = (a: (typeof agents)[number]): Labels => ({ instance: a.instance, agent: a.agent, driver: a.driver });
  m.family('openstarry_agent_up', 'gauge', '1 when the instance is running', agents.map((a) => [{ ...lab(a), state: a.state }, a.state === 'running' ? 1 : 0]));
  m.family('openstarry_agent_cpu_percent', 'gauge', 'CPU use of the instance (100 = one core)', agents.map((a) => [lab(a), a.cpuPercent]));
  m.family('openstarry_agent_resident_memory_bytes', 'gauge', 'resident memory of the instance', agents.map((a) => [lab(a), a.rssBytes]));
  m.family('openstarry_agent_restarts_total', 'counter', 'restarts of the instance', agents.map((a) => [lab(a), a.restarts]));
  m.family('openstarry_agent_tokens_total', 'counter', 'tokens the instance reported', agents.map((a) => [lab(a), a.tokens]));

  const rules = src.rules();
  m.family('openstarry_rule_matched_total', 'counter', 'events that matched the rule', rules.map((x) => [{ rule: x.id }, x.matched]));
  m.family('openstarry_rule_fired_total', 'counter', 'runs the rule started', rules.map((x) => [{ rule: x.id }, x.fired]));
  m.family('openstarry_rule_eval_errors_total', 'counter', 'conditions that failed to evaluate', rules.map((x) => [{ rule: x.id }, x.evalErrors]));
  m.family('openstarry_rule_running', 'gauge', 'runs of the rule in progress', rules.map((x) => [{ rule: x.id }, x.running]));

  const hal = src.hal();
  m.family('openstarry_hal_reads_total', 'counter', 'sensor polls that gave a reading', hal.map((h) => [{ device: h.deviceId }, h.reads]));
  m.family('openstarry_hal_read_errors_total', 'counter', 'sensor polls that failed', hal.map((h) => [{ device: h.deviceId }, h.errors]));
  m.family('openstarry_hal_device_ok', 'gauge', '1 when the HAL device is healthy', ((d.hal?.value.devices ?? []) as Array<{ id?: string; status?: string }>).map((x) => [{ device: String(x.id ?? '') }, x.status === 'ok' ? 1 : 0]));

  const f = d.fleet?.value;
  m.family('openstarry_fleet_connected', 'gauge', '1 when the fleet link is connected to its broker', [[{ state: f?.state ?? 'disabled' }, f ? (f.state === 'online' ? 1 : 0) : null]]);
  m.family('openstarry_fleet_outbox_messages', 'gauge', 'events waiting in the fleet outbox', [[{}, f && f.state !== 'disabled' ? f.outbox : null]]);

  const mem = process.memoryUsage();
  m.family('openstarry_process_resident_memory_bytes', 'gauge', 'the daemon\'s resident memory', [[{}, mem.rss]]);
  m.family('openstarry_process_heap_used_bytes', 'gauge', 'the daemon\'s V8 heap in use', [[{}, mem.heapUsed]]);
  m.family('openstarry_http_streams', 'gauge', 'open /api/v1/stream connections', [[{}, src.streams()]]);
  const conn = src.connections?.();
  if (conn) {
    m.family('openstarry_http_connections', 'gauge', 'open HTTP connections on the main listener', [[{}, conn.open]]);
    m.family('openstarry_http_anonymous_connections', 'gauge', 'open HTTP connections no request with the token has arrived on', [[{}, conn.anonymous]]);
    m.family('openstarry_http_evicted_connections_total', 'counter', 'connections without the token closed to make room at a cap', [
      [{ cap: 'per_client' }, conn.evictions.perClient],
      [{ cap: 'total' }, conn.evictions.total],
      [{ cap: 'ceiling' }, conn.evictions.ceiling],
    ]);
    m.family('openstarry_http_refused_connections_total', 'counter', 'connections answered 503 at http.connectionCeiling, every slot held with the token', [[{ cap: 'ceiling' }, conn.refusals.ceiling]]);
    m.family('openstarry_http_stalled_responses_total', 'counter', 'responses cut for not being read within http.writeStallMs', [[{}, conn.stalled]]);
  }
  return m.text();
}

export function registerMetrics(server: HttpServer, src: MetricsSources): void {
  server.route('GET', '/metrics', (_req, res) => {
    const { gate } = server;
    const body = metricsText({ connections: () => ({ open: gate.open, anonymous: gate.openAnonymous, refusals: gate.refusals, evictions: gate.evictions, stalled: server.stalls.cut }), ...src });
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
}
