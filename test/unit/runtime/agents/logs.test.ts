import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InstanceLogs } from '../../../../runtime/agents/logs';
import { memoryLogger } from '../../../../runtime/log';
import { tmpDir } from '../../../helpers/tmp';

const flush = (logs: InstanceLogs): Promise<void> => logs.closeAll();

describe('instance logs', () => {
  it('keeps a bounded ring, masks secrets, and filters agent lines by run-time level', async () => {
    const logs = new InstanceLogs({ dir: tmpDir(), ringLines: 5, maxBytes: 1_000_000, files: 2 });
    logs.open('a-1', ['hunter22', 'abc'], 'a');
    for (let i = 0; i < 8; i++) logs.append('a-1', 'agent', 'info', `line ${i} hunter22`);
    const lines = logs.tail(['a-1'], 100);
    expect(lines.map((l) => l.msg)).toEqual(['line 3 ***', 'line 4 ***', 'line 5 ***', 'line 6 ***', 'line 7 ***']);
    expect(logs.tail(['a-1'], 0)).toEqual([]);
    logs.setLevel('a', 'warn');
    logs.append('a-1', 'agent', 'info', 'dropped');
    logs.append('a-1', 'agent', 'error', 'kept');
    logs.append('a-1', 'stderr', 'info', 'stderr is always kept');
    logs.setLevel('a-1', 'debug');
    logs.append('a-1', 'agent', 'debug', 'instance level wins');
    expect(logs.tail(['a-1'], 3).map((l) => l.msg)).toEqual(['kept', 'stderr is always kept', 'instance level wins']);
    await flush(logs);
  });

  it('rotates files at maxBytes, keeping the configured number', async () => {
    const dir = tmpDir();
    const logs = new InstanceLogs({ dir, ringLines: 10, maxBytes: 4096, files: 3 });
    logs.open('r-1', []);
    for (let i = 0; i < 400; i++) logs.append('r-1', 'stdout', 'info', `${i} ${'x'.repeat(80)}`);
    await flush(logs);
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['r-1.log', 'r-1.log.1', 'r-1.log.2']);
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(4096 + 200);
    expect(fs.readFileSync(path.join(dir, 'r-1.log'), 'utf8')).toContain('399 x');
  });

  it('follows new lines of an instance or of everything', () => {
    const logs = new InstanceLogs({ dir: tmpDir(), ringLines: 10, maxBytes: 100_000, files: 1 });
    logs.open('f-1', []);
    const seen: string[] = [];
    const stop = logs.follow(['*'], (l) => seen.push(l.msg));
    logs.append('f-1', 'agent', 'info', 'one');
    stop();
    logs.append('f-1', 'agent', 'info', 'two');
    expect(seen).toEqual(['one']);
    void flush(logs);
  });
});

describe('daemon log', () => {
  it('writes journald priorities under systemd and ISO times elsewhere, one line per record', () => {
    const log = memoryLogger();
    log.info('store', 'line one\nline two');
    log.debug('x', 'shown at debug');
    log.setLevel('warn');
    log.info('x', 'hidden');
    log.error('x', 'kept');
    expect(log.lines).toEqual(['<6>store: line one ⏎ line two', '<7>x: shown at debug', '<3>x: kept']);
  });
});
