// @ts-check
// A greenhouse thermostat: reads the temperature every 10 s through the HAL, keeps a rolling
// average, switches the fan with hysteresis (on above maxC, off 2 °C below), and raises
// greenhouse:too_hot. A refused or failing HAL call is logged and shown in the snapshot, never fatal.
/** @typedef {import('../../../runtime/sdk/node/types').AgentDefinition} AgentDefinition */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const window = [];
let lastError = null;
let status = 'unknown';
/** @type {(c: number | undefined, max: number) => string} */
let classify = () => 'unknown';
let maxC = 30;
let fan = 'off';

/** @type {AgentDefinition} */
export default {
  async init(ctx) {
    const plugin = ctx.plugins.find((p) => p.name === 'thresholds');
    if (plugin) {
      ({ classify } = await import(pathToFileURL(path.join(plugin.path, 'index.mjs')).href));
      maxC = /** @type {{maxC?: number}} */ (plugin.config ?? {}).maxC ?? 30;
    }
    await ctx.timers.set('sample', 10_000, { repeat: true });
    ctx.log.info(`monitoring, too hot above ${maxC} °C`);
  },
  async onEvent(event, ctx) {
    if (event.type !== 'timer:sample') return;
    try {
      const celsius = await ctx.hal.read('temperature');
      window.push(celsius);
      if (window.length > 30) window.shift();
      lastError = null;
      const next = classify(celsius, maxC);
      if (next !== status && next === 'too_hot') await ctx.emit('greenhouse:too_hot', { celsius });
      status = next;
      const want = celsius > maxC ? 'on' : celsius < maxC - 2 ? 'off' : fan;
      if (want !== fan) {
        await ctx.hal.actuate('fan', want);
        fan = want;
        ctx.log.info(`fan ${fan} at ${celsius} °C`);
      }
    } catch (err) {
      const code = /** @type {{code?: string}} */ (err).code ?? 'error';
      if (lastError !== code) ctx.log.warn(`temperature unavailable: ${code}`);
      lastError = code;
    }
  },
  snapshot() {
    const avg = window.length ? window.reduce((a, b) => a + b, 0) / window.length : null;
    return { status, fan, averageC: avg, samples: window.length, lastError };
  },
};
