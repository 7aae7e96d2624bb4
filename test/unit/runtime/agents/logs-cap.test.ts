import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceLogs } from '../../../../runtime/agents/logs';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const umask = process.umask();
afterEach(() => void process.umask(umask));

describe('instance logs: the output cap', () => {
  it('keeps a burst of agent lines, drops the rest, says so once, and never drops its own lines', async () => {
    const logs = new InstanceLogs({ dir: tmpDir(), ringLines: 10_000, maxBytes: 1_000_000, files: 2, output: { bytesPerSecond: 1024 * 1024, linesPerSecond: 50 } });
    logs.open('a-1', [], 'a');
    let pause = 0;
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) pause = logs.append('a-1', i % 2 ? 'stdout' : 'agent', 'info', `flood ${i}`);
    expect(pause).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(logs.append('a-1', 'daemon', 'info', `daemon ${i}`)).toBe(0);
    const kept = logs.tail(['a-1'], 10_000);
    // the burst (2 s of the rate) plus what refilled while the loop ran
    expect(kept.filter((l) => l.msg.startsWith('flood')).length).toBeLessThanOrEqual(100 + Math.ceil((50 * (performance.now() - t0)) / 1000));
    expect(kept.filter((l) => l.msg.startsWith('daemon')).length).toBe(5);
    const report = await waitFor('the drop report', () => logs.tail(['a-1'], 10_000).find((l) => l.msg.startsWith('dropped')));
    expect(report).toMatchObject({ stream: 'daemon', level: 'warn' });
    const dropped = Number(/^dropped (\d+) lines \/ \d+ bytes of output over logs\.outputLinesPerSecond /.exec(report.msg)?.[1]);
    expect(dropped + kept.filter((l) => l.msg.startsWith('flood')).length).toBe(1000);
    await logs.closeAll();
  });

  it('says at most one drop line a second, and the last count when the instance ends', async () => {
    const logs = new InstanceLogs({ dir: tmpDir(), ringLines: 10_000, maxBytes: 1_000_000, files: 2, output: { bytesPerSecond: 1024, linesPerSecond: 1 } });
    logs.open('a-1', [], 'a');
    const reports = (): string[] => logs.tail(['a-1'], 10_000).filter((l) => l.msg.startsWith('dropped')).map((l) => l.msg);
    for (let i = 0; i < 10; i++) logs.append('a-1', 'stdout', 'info', `x${i}`);
    await waitFor('the first report', () => reports().length === 1);
    for (let i = 0; i < 10; i++) logs.append('a-1', 'stdout', 'info', `y${i}`);
    logs.close('a-1');
    // the end of the instance says its drops at once; the timer it cancelled says nothing more
    expect(reports()).toHaveLength(2);
    expect(reports()[1]).toMatch(/^dropped (9|10) lines \/ (18|20) bytes/);
  });

  it('creates files 0640 under umask 000 and narrows an existing world-readable one', async () => {
    process.umask(0);
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'old-1.log'), 'from an older daemon\n', { mode: 0o644 });
    fs.chmodSync(path.join(dir, 'old-1.log'), 0o644);
    const logs = new InstanceLogs({ dir, ringLines: 10, maxBytes: 1_000_000, files: 2 });
    for (const i of ['new-1', 'old-1']) {
      logs.open(i, []);
      logs.append(i, 'stdout', 'info', 'hello');
    }
    await logs.closeAll();
    for (const f of ['new-1.log', 'old-1.log']) expect((fs.statSync(path.join(dir, f)).mode & 0o777).toString(8)).toBe('640');
  });
});
