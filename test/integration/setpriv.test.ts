/** As root, process agents run under their own uid with no groups and no capabilities (DESIGN §12.6). */
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon';
import { asRoot, describeWith, hasCommand } from '../helpers/system';
import { FIXTURES, waitFor } from '../helpers/tmp';

describeWith('process agents under their own uid', [asRoot(), hasCommand('setpriv', 'util-linux')], () => {
  it('gives each agent its own uid, no groups, no capabilities, and a private data dir', async () => {
    const d = await startDaemon();
    const a = (await d.cli(['spawn', path.join(FIXTURES, 'agents/singleton')])).stdout.trim().split(' ').pop() ?? '';
    const b = (await d.cli(['spawn', path.join(FIXTURES, 'agents/stubborn')])).stdout.trim().split(' ').pop() ?? '';
    const rows = await waitFor('both running', async () => {
      const r = await d.json<Array<{ instance: string; state: string; osPid: number }>>(['ps']);
      return r.filter((x) => x.state === 'running').length === 2 ? r : undefined;
    });
    const agents = await d.json<Array<{ id: string; uid: number }>>(['agent', 'ls']);
    const uids = new Set<number>();
    for (const id of [a, b]) {
      const row = rows.find((r) => r.instance === id);
      const status = fs.readFileSync(`/proc/${row?.osPid}/status`, 'utf8');
      const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
      const [ruid, euid] = field('Uid').split(/\s+/).map(Number);
      const agentId = id.replace(/-[0-9a-f]{8}$/, '');
      expect(ruid).toBe(agents.find((x) => x.id === agentId)?.uid);
      expect(euid).toBe(ruid);
      expect(field('Groups')).toBe('');
      expect(field('CapEff')).toBe('0000000000000000');
      expect(field('CapBnd')).toBe('0000000000000000');
      expect(field('NoNewPrivs')).toBe('1');
      uids.add(ruid ?? -1);
      const dataDir = path.join(d.home, 'data', agentId);
      expect(fs.statSync(dataDir).uid).toBe(ruid);
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    }
    expect(uids.size).toBe(2);
    expect(fs.statSync(path.join(path.dirname(d.socket), 'control.token')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(d.socket).mode & 0o777).toBe(0o660);
    await d.cli(['kill', a]);
    await d.cli(['kill', '--signal', 'KILL', b]);
    expect(await d.stop()).toBe(0);
  });
});
