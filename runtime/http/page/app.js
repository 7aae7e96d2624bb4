// The status page (DESIGN §9): the dashboard model over SSE (/api/v1/stream, read with fetch so
// the token travels in Authorization, never in a URL), actions through REST (/api/v1/<area>/<verb>).
// Plain browser JavaScript, no build step; uPlot draws the charts.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'openstarry.token';
  const HISTORY = 120;
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let model = {};
  let installed = [];
  let selected = null;
  let streamAbort = null;
  let renderQueued = false;
  let logsTimer = null;
  const host = { t: [], cpu: [], mem: [] };
  const agentHist = new Map();
  const sensors = { t: [], series: new Map() };
  const charts = {};

  // ---- helpers ----
  const el = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  };
  const fmtBytes = (b) => (b === null || b === undefined ? '–' : b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(1)} GB` : `${(b / (1 << 20)).toFixed(b >= 100 << 20 ? 0 : 1)} MB`);
  const fmtPct = (p) => (p === null || p === undefined ? '–' : `${p.toFixed(1)} %`);
  const fmtDur = (ms) => {
    if (ms === null || ms === undefined) return '–';
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
  };
  const fmtTime = (t) => (t ? new Date(t).toLocaleTimeString() : '–');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const toast = (text) => {
    const t = $('toast');
    t.textContent = text;
    t.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
  };
  const push = (arr, v) => {
    arr.push(v);
    if (arr.length > HISTORY) arr.shift();
  };

  // ---- REST ----
  const headers = (json) => {
    const h = {};
    if (json) h['Content-Type'] = 'application/json';
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  };
  async function call(op, params) {
    const [area, verb] = op.split('.');
    const r = await fetch(`/api/v1/${area}/${verb}`, { method: 'POST', headers: headers(true), body: JSON.stringify(params || {}) });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${r.status}`);
    return body;
  }

  // ---- the token ----
  function setUnlocked() {
    document.body.classList.toggle('unlocked', token !== '');
    $('token-button').textContent = token ? 'Lock' : 'Unlock';
  }
  $('token-button').addEventListener('click', () => {
    if (token) {
      token = '';
      sessionStorage.removeItem(TOKEN_KEY);
      setUnlocked();
      restartStream();
      return;
    }
    $('token-input').value = '';
    $('token-dialog').showModal();
  });
  $('token-cancel').addEventListener('click', () => $('token-dialog').close());
  $('token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const candidate = $('token-input').value.trim();
    if (!candidate) return;
    // checked with the daemon before it is kept: a wrong token is refused with 401
    const r = await fetch('/api/v1/daemon/ping', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${candidate}` }, body: '{}' }).catch(() => null);
    if (!r || r.status !== 200) {
      toast('That token is not this daemon\'s.');
      return;
    }
    token = candidate;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-dialog').close();
    setUnlocked();
    restartStream();
    loadInstalled();
  });

  // ---- the stream ----
  function restartStream() {
    if (streamAbort) streamAbort.abort();
  }
  async function stream() {
    for (;;) {
      const abort = new AbortController();
      streamAbort = abort;
      try {
        const r = await fetch('/api/v1/stream', { headers: headers(false), signal: abort.signal });
        if (r.status === 401) {
          token = '';
          sessionStorage.removeItem(TOKEN_KEY);
          setUnlocked();
          continue;
        }
        if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
        setConn('live', 'ok');
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            block(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        // aborted (a new token) or the daemon went away: try again
      }
      if (!abort.signal.aborted) {
        setConn('reconnecting', 'warn');
        await sleep(3000);
      }
    }
  }
  function block(text) {
    let event = 'message';
    const data = [];
    for (const line of text.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    const value = JSON.parse(data.join('\n'));
    if (event === 'dashboard') {
      model = value;
      for (const s of Object.values(model)) record(s);
    } else if (event === 'section') {
      model[value.name] = value;
      record(value);
    } else if (event === 'event') addEvent(value);
    queueRender();
  }
  function setConn(text, cls) {
    const c = $('conn');
    c.textContent = text;
    c.className = `pill ${cls}`;
  }

  // ---- history for the charts ----
  function record(s) {
    const t = s.at / 1000;
    if (s.name === 'resources') {
      const r = s.value;
      push(host.t, t);
      push(host.cpu, r.cpuPercent);
      push(host.mem, r.memory ? (100 * (r.memory.totalBytes - r.memory.availableBytes)) / r.memory.totalBytes : null);
    } else if (s.name === 'agents') {
      for (const a of s.value.instances) {
        const h = agentHist.get(a.instance) || { cpu: [], rss: [] };
        push(h.cpu, a.cpuPercent ?? 0);
        push(h.rss, a.rssBytes ?? 0);
        agentHist.set(a.instance, h);
      }
      for (const id of agentHist.keys()) if (!s.value.instances.some((a) => a.instance === id)) agentHist.delete(id);
    } else if (s.name === 'hal') {
      push(sensors.t, t);
      for (const d of s.value.devices) {
        for (const [name, ch] of Object.entries(d.channels || {})) {
          const key = `${d.id}.${name} (${ch.unit})`;
          if (!sensors.series.has(key)) sensors.series.set(key, new Array(sensors.t.length - 1).fill(null));
        }
      }
      for (const [key, values] of sensors.series) {
        const [dev, rest] = key.split('.');
        const ch = rest.split(' (')[0];
        const d = s.value.devices.find((x) => x.id === dev);
        const v = d && d.channels && d.channels[ch] ? d.channels[ch].value : null;
        values.push(v);
        while (values.length > sensors.t.length) values.shift();
      }
    }
  }

  // ---- rendering ----
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }
  function render() {
    renderOverview();
    renderAgents();
    renderHal();
    renderRules();
    renderCharts();
  }
  function renderOverview() {
    const d = model.device && model.device.value;
    const r = model.resources && model.resources.value;
    const f = model.fleet && model.fleet.value;
    if (d) {
      $('device').textContent = d.id;
      $('ov-board').textContent = d.board;
      $('ov-version').textContent = d.version;
      $('ov-uptime').textContent = fmtDur(Date.now() - d.startedAt);
      document.title = `${d.id} · openstarryd`;
    }
    if (r) {
      $('ov-cpu').textContent = fmtPct(r.cpuPercent);
      $('ov-mem').textContent = r.memory ? `${fmtBytes(r.memory.availableBytes)} of ${fmtBytes(r.memory.totalBytes)}` : '–';
      $('ov-disk').textContent = r.disk ? fmtBytes(r.disk.freeBytes) : '–';
      $('ov-soc').textContent = r.socTempC === null ? '–' : `${r.socTempC.toFixed(1)} °C`;
      $('ov-store').textContent = r.store.state;
    }
    if (f) {
      const p = $('fleet');
      p.textContent = `fleet: ${f.state}${f.outbox ? ` (${f.outbox} queued)` : ''}`;
      p.className = `pill ${f.state === 'online' ? 'ok' : f.state === 'disabled' ? '' : 'warn'}`;
    }
  }
  function spark(values, max) {
    const c = el('canvas', { class: 'spark', width: 70, height: 18 });
    const g = c.getContext('2d');
    if (!g || values.length < 2) return c;
    const top = Math.max(max || 0, ...values, 1e-9);
    g.strokeStyle = '#2874a6';
    g.lineWidth = 1.2;
    g.beginPath();
    values.forEach((v, i) => {
      const x = (i / (values.length - 1)) * 69;
      const y = 17 - (v / top) * 16;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
    return c;
  }
  function renderAgents() {
    const rows = (model.agents && model.agents.value.instances) || [];
    const body = $('agents-body');
    body.replaceChildren(
      ...rows.map((a) => {
        const h = agentHist.get(a.instance) || { cpu: [], rss: [] };
        const kill = token && a.state !== 'stopped' && a.state !== 'exited' ? el('button', { type: 'button', text: 'Kill', 'data-kill': a.instance }) : null;
        const tr = el(
          'tr',
          { class: `clickable${selected === a.instance ? ' selected' : ''}`, 'data-instance': a.instance },
          el('td', { text: a.instance }),
          el('td', { class: `state-${a.state}`, text: a.state }),
          el('td', { text: a.driver }),
          el('td', { class: 'num' }, fmtPct(a.cpuPercent), spark(h.cpu, 100)),
          el('td', { class: 'num' }, fmtBytes(a.rssBytes), spark(h.rss)),
          el('td', { class: 'num', text: String(a.restarts) }),
          el('td', { class: 'num', text: String(a.tokens ?? 0) }),
          el('td', { text: a.reason || '' }),
          el('td', {}, kill),
        );
        return tr;
      }),
    );
    if (rows.length === 0) body.append(el('tr', {}, el('td', { colSpan: 9, text: 'no agents running' })));
    if (selected) renderDetail();
  }
  function renderDetail() {
    const a = ((model.agents && model.agents.value.instances) || []).find((x) => x.instance === selected);
    $('agent-detail').hidden = !a;
    if (!a) return;
    $('detail-title').textContent = `${a.instance} (${a.agent})`;
    $('detail-snapshot').textContent = token ? (a.snapshot === null ? a.snapshotError || 'no snapshot' : JSON.stringify(a.snapshot, null, 2)) : 'unlock to see snapshots';
    const m = installed.find((x) => x.id === a.agent);
    $('detail-manifest').textContent = m ? JSON.stringify({ driver: m.driver, version: m.version, limits: m.limits, capabilities: m.capabilities, restart: m.restart }, null, 2) : '–';
  }
  async function refreshLogs() {
    if (!selected || !token) {
      $('detail-logs').textContent = token ? '' : 'unlock to see logs';
      return;
    }
    try {
      const r = await call('agents.logs', { target: selected, lines: 60 });
      $('detail-logs').textContent = r.lines.map((l) => `${new Date(l.ts).toLocaleTimeString()} ${l.level.padEnd(5)} ${l.msg}`).join('\n');
    } catch (e) {
      $('detail-logs').textContent = String(e.message || e);
    }
  }
  $('agents-body').addEventListener('click', async (ev) => {
    const target = ev.target;
    const kill = target.closest && target.closest('button[data-kill]');
    if (kill) {
      ev.stopPropagation();
      kill.disabled = true;
      try {
        await call('agents.kill', { instance: kill.getAttribute('data-kill') });
        toast(`stopping ${kill.getAttribute('data-kill')}`);
      } catch (e) {
        toast(e.message);
      }
      return;
    }
    const row = target.closest && target.closest('tr[data-instance]');
    if (!row) return;
    selected = row.getAttribute('data-instance') === selected ? null : row.getAttribute('data-instance');
    clearInterval(logsTimer);
    if (selected) {
      refreshLogs();
      logsTimer = setInterval(refreshLogs, 3000);
    } else $('agent-detail').hidden = true;
    renderAgents();
  });

  function renderHal() {
    const h = model.hal && model.hal.value;
    if (!h) return;
    $('hal-body').replaceChildren(
      ...h.devices.map((d) => {
        let readings = '';
        if (d.channels) readings = Object.entries(d.channels).map(([n, c]) => `${n} ${c.value === null ? '–' : Number(c.value).toFixed(2)} ${c.unit}`).join(' · ');
        else if (d.kind === 'actuator') readings = `${d.state}${d.duty === undefined ? '' : ` (${Math.round(d.duty * 100)} %)`}`;
        else if (d.detail) readings = d.detail;
        return el('tr', { 'data-device': d.id }, el('td', { text: d.id }), el('td', { text: `${d.kind} (${d.driver})` }), el('td', { class: `status-${d.status}`, text: d.status + (d.status !== 'ok' && d.detail ? `: ${d.detail}` : '') }), el('td', { class: 'readings', text: readings }), el('td', { text: d.owner || '' }));
      }),
    );
  }
  // A rule's current trouble: an error shows until a later run (or evaluation) succeeds; a spawn of
  // an agent that is not installed shows as waiting for it (issue 17).
  function ruleStatus(x) {
    const error = x.lastError || x.lastEvalError;
    const waiting = x.waitingFor && x.waitingFor.length ? `waiting for agent ${x.waitingFor.join(', ')}` : '';
    return el('td', { class: `rule-status ${error ? 'status-error' : waiting ? 'status-unavailable' : ''}`, text: [waiting, error].filter(Boolean).join('; ') });
  }
  function renderRules() {
    const r = model.rules && model.rules.value;
    if (!r) return;
    $('rules-etag').textContent = r.etag ? `etag ${r.etag}` : 'no rule set';
    $('rules-body').replaceChildren(
      ...r.rules.map((x) =>
        el('tr', { 'data-rule': x.id }, el('td', { text: x.id }), el('td', { text: (x.on || []).join(', ') }), el('td', { text: x.action }), el('td', { class: 'num', text: String(x.matched) }), el('td', { class: 'num', text: String(x.fired) }), el('td', { class: 'num', text: String(x.running) }), el('td', { text: fmtTime(x.lastFiredAt) }), ruleStatus(x)),
      ),
    );
    if (r.rules.length === 0) $('rules-body').append(el('tr', {}, el('td', { colSpan: 8, text: 'no rules' })));
  }
  function chart(id, series, data) {
    if (typeof uPlot === 'undefined') return;
    const box = $(id);
    const width = Math.max(200, box.clientWidth - 2);
    if (!charts[id] || charts[id].series.length !== series.length + 1) {
      if (charts[id]) charts[id].destroy();
      const colors = ['#2874a6', '#b9770e', '#1e8449', '#884ea0', '#c0392b', '#117a65'];
      // one scale per unit (°C and hPa on one axis would flatten the temperature); the first two get an axis
      const scaleOf = (label) => (/\(([^)]*)\)$/.exec(label) || [null, 'y'])[1] || 'y';
      const scales = [...new Set(series.map(scaleOf))];
      const axes = [{ stroke: '#888' }, ...scales.slice(0, 2).map((scale, i) => ({ scale, stroke: '#888', side: i === 0 ? 3 : 1, label: scale === 'y' ? '' : scale }))];
      charts[id] = new uPlot({ width, height: 150, legend: { show: true }, cursor: { show: false }, series: [{}, ...series.map((label, i) => ({ label, scale: scaleOf(label), stroke: colors[i % colors.length], width: 1.5, spanGaps: true }))], axes }, data, box);
    } else {
      charts[id].setData(data);
      if (charts[id].width !== width) charts[id].setSize({ width, height: 150 });
    }
  }
  function renderCharts() {
    if (host.t.length > 1) chart('host-chart', ['CPU (%)', 'memory used (%)'], [host.t.slice(), host.cpu.slice(), host.mem.slice()]);
    if (sensors.t.length > 1 && sensors.series.size > 0) chart('sensor-chart', [...sensors.series.keys()], [sensors.t.slice(), ...[...sensors.series.values()].map((v) => v.slice())]);
  }

  // ---- events ----
  function addEvent(e) {
    if (e.type.startsWith('hal:sensor.') && !$('events-readings').checked) return;
    const list = $('events-list');
    list.prepend(el('li', { title: JSON.stringify(e.data) }, el('time', { text: new Date(e.time).toLocaleTimeString() }), `${e.type} `, el('small', { text: JSON.stringify(e.data).slice(0, 200) })));
    while (list.children.length > 200) list.lastChild.remove();
  }

  // ---- actions ----
  async function loadInstalled() {
    try {
      installed = await call('agents.installed', {});
      $('spawn-agent').replaceChildren(...installed.map((a) => el('option', { value: a.id, text: `${a.id}${a.version ? ` ${a.version}` : ''} (${a.driver})` })));
    } catch (e) {
      toast(e.message);
    }
  }
  $('spawn-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const agent = $('spawn-agent').value;
    if (!agent) return;
    try {
      const r = await call('agents.spawn', { agent });
      toast(`started ${r.instance}`);
    } catch (e) {
      toast(e.message);
    }
  });
  $('rules-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const etag = model.rules && model.rules.value.etag;
    try {
      const r = await call('rules.apply', { source: $('rules-source').value, file: 'orchestration.yaml', ifMatch: etag || 'none' });
      const warnings = (r.warnings || []).map((w) => `warning: rule ${w.rule}${w.line ? ` (line ${w.line}:${w.column})` : ''}: ${w.message}`);
      $('rules-result').textContent = [r.changed ? `applied ${r.rules} rules, etag ${r.etag}` : 'unchanged', ...warnings].join('; ');
    } catch (e) {
      $('rules-result').textContent = e.message;
    }
  });
  document.querySelector('#rules details, details.needs-token').addEventListener('toggle', async (ev) => {
    if (!ev.target.open || $('rules-source').value) return;
    try {
      const r = await call('rules.get', {});
      if (r && r.source) $('rules-source').value = r.source;
    } catch (e) {
      toast(e.message);
    }
  });
  // subsystems that are degraded or down (/healthz): a broker away, a rejected device.yaml, a full disk
  async function refreshHealth() {
    const r = await fetch('/healthz').catch(() => null);
    const body = r ? await r.json().catch(() => null) : null;
    const bad = body ? body.subsystems.filter((x) => x.state === 'degraded' || x.state === 'down') : [];
    $('problems').hidden = bad.length === 0;
    $('problems').replaceChildren(...bad.map((x) => el('li', { class: x.state, text: `${x.name}: ${x.state}${x.detail ? ` (${x.detail})` : ''}` })));
  }
  setInterval(refreshHealth, 10000);
  refreshHealth();
  window.addEventListener('resize', queueRender);
  setInterval(renderOverview, 1000);

  setUnlocked();
  loadInstalled();
  stream();
})();
