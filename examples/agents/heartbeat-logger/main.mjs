// @ts-check
// A minimal Node agent: a repeating timer, a log line and an event per tick, a snapshot for the
// dashboard. The SDK runner (runtime/sdk) speaks the agent protocol; this module only handles.
/** @typedef {import('../../../runtime/sdk/node/types').AgentDefinition} AgentDefinition */

let ticks = 0;
let startedAt = 0;

/** @type {AgentDefinition} */
export default {
  async init(ctx) {
    startedAt = Date.now();
    const every = Number(process.env.TICK_MS ?? '5000');
    ctx.log.info(`heartbeat-logger ${ctx.instance} ticking every ${every} ms`);
    await ctx.timers.set('tick', every, { repeat: true });
  },
  async onEvent(event, ctx) {
    if (event.type !== 'timer:tick') return;
    ticks++;
    ctx.log.info(`tick ${ticks}`);
    await ctx.emit('demo:tick', { ticks, instance: ctx.instance });
  },
  snapshot() {
    return { ticks, uptimeMs: Date.now() - startedAt };
  },
  async stop(ctx) {
    ctx.log.info(`stopping after ${ticks} ticks`);
  },
};
