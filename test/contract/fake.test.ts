import { FakeDriver, protocolAgent } from '../../runtime/agents/drivers/fake';
import type { LaunchSpec } from '../../runtime/agents/drivers/driver';
import { validateManifest } from '../../runtime/agents/manifest';
import { describeDriverContract } from './driver.contract';

describeDriverContract('fake', () => {
  const driver = new FakeDriver({
    'well-behaved': protocolAgent(),
    crash: protocolAgent((io) =>
      io.handle('agent.init', () => {
        setImmediate(() => io.exit(3));
        return { ok: true };
      }),
    ),
    stubborn: protocolAgent((io) => io.onSignal(() => undefined)),
    chatty: protocolAgent((io) =>
      io.handle('agent.init', () => {
        io.stdout('out line');
        io.stderr('err line');
        setTimeout(() => io.exit(0), 10);
        return { ok: true };
      }),
    ),
  });
  let n = 0;
  const manifest = validateManifest({ identity: { id: 'x', name: 'x' }, runtime: { entry: 'x.mjs' } }, 'test');
  return Promise.resolve({
    driver,
    hasOsPid: false,
    async launch(behaviour) {
      const instance = `fake-${++n}`;
      const spec: LaunchSpec = { instanceId: instance, agentId: behaviour, token: `t${n}`, manifest, installDir: '/nonexistent', dataDir: '/nonexistent', plugins: [], env: {}, heartbeatMs: 1000 };
      return { agent: await driver.launch(spec), token: spec.token, instance };
    },
  });
});
