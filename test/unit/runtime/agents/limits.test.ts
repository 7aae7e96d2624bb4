import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHeapExhaustion, LimitWatch } from '../../../../runtime/agents/limits';
import { ProcSampler } from '../../../../runtime/agents/proc-sampler';
import { processStartTime } from '../../../../runtime/util/proc';
import { FIXTURES, tmpDir } from '../../../helpers/tmp';

const MB = 1024 * 1024;
const watch = (over: Partial<ConstructorParameters<typeof LimitWatch>[0]> = {}): LimitWatch =>
  new LimitWatch({ memoryMb: 16, cpuPercent: 50, tokensPerHour: 0, rssOverheadMb: 48, cpuGraceMs: 10_000, ...over });

describe('limit decisions', () => {
  it('stops on RSS over memoryMb plus the runtime overhead, not before', () => {
    const w = watch();
    expect(w.onSample({ cpuPercent: 1, rssBytes: 64 * MB }, 0)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 1, rssBytes: 65 * MB }, 1)).toBe('memory limit: RSS 65 MB over 64 MB (limits.memoryMb 16 + 48 MB runtime)');
  });

  it('allows CPU bursts shorter than the grace period and stops a sustained spinner', () => {
    const w = watch();
    expect(w.onSample({ cpuPercent: 99, rssBytes: 0 }, 0)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 99, rssBytes: 0 }, 9_000)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 10, rssBytes: 0 }, 9_500)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 99, rssBytes: 0 }, 10_000)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 99, rssBytes: 0 }, 20_000)).toBe('cpu limit: 99% for 10 s, over limits.cpuPercent 50%');
  });

  it('holds a worker agent host to the sum of its instances\' limits, counting the runtime once', () => {
    const host = (instances: number): { pid: number; instances: number } => ({ pid: 77, instances });
    // one instance: 16 MB + 24 MB for its worker + 48 MB for the host's Node runtime
    expect(watch().onSample({ cpuPercent: 1, rssBytes: 88 * MB, host: host(1) }, 0)).toBeUndefined();
    expect(watch().onSample({ cpuPercent: 1, rssBytes: 89 * MB, host: host(1) }, 0)).toBe('memory limit: agent host 77 RSS 89 MB over 88 MB ((limits.memoryMb 16 + 24 MB worker) + 48 MB runtime)');
    // three instances: 3 x 40 + 48 = 168 MB; the same figure that stops one instance does not stop three
    expect(watch().onSample({ cpuPercent: 1, rssBytes: 150 * MB, host: host(3) }, 0)).toBeUndefined();
    expect(watch().onSample({ cpuPercent: 1, rssBytes: 169 * MB, host: host(3) }, 0)).toMatch(/^memory limit: agent host 77 RSS 169 MB over 168 MB \(3 x \(limits.memoryMb 16/);
    const w = watch({ cpuGraceMs: 1000 });
    expect(w.onSample({ cpuPercent: 140, rssBytes: 0, host: host(3) }, 0)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 140, rssBytes: 0, host: host(3) }, 5000)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 160, rssBytes: 0, host: host(3) }, 6000)).toBeUndefined();
    expect(w.onSample({ cpuPercent: 160, rssBytes: 0, host: host(3) }, 7000)).toBe('cpu limit: agent host 77 at 160% for 1 s, over 3 x limits.cpuPercent 50%');
  });

  it('stops at the first sample over cpuPercent when there is no grace', () => {
    expect(watch({ cpuGraceMs: 0 }).onSample({ cpuPercent: 51, rssBytes: 0 }, 0)).toBe('cpu limit: 51% for 0 s, over limits.cpuPercent 50%');
    expect(watch({ cpuGraceMs: 0 }).onSample({ cpuPercent: 51, rssBytes: 0, host: { pid: 9, instances: 1 } }, 0)).toBe('cpu limit: agent host 9 at 51% for 0 s, over limits.cpuPercent 50%');
  });

  it('counts tokens over a sliding hour; 0 means unlimited', () => {
    const w = watch({ tokensPerHour: 1000 });
    expect(w.onTokens(600, 0)).toBeUndefined();
    expect(w.onTokens(600, 3_600_001)).toBeUndefined();
    expect(w.tokensLastHour).toBe(600);
    expect(w.onTokens(500, 3_600_002)).toMatch(/^token limit: 1100 tokens/);
    expect(watch().onTokens(1e9, 0)).toBeUndefined();
  });

  it('recognises V8 heap exhaustion on stderr', () => {
    expect(isHeapExhaustion('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory')).toBe(true);
    expect(isHeapExhaustion('heap of work to do')).toBe(false);
  });
});

describe('/proc sampling', () => {
  it('reads RSS and computes CPU % from tick deltas, with a command name holding spaces and parentheses', () => {
    const root = path.join(tmpDir(), 'proc');
    fs.cpSync(path.join(FIXTURES, 'proc'), root, { recursive: true });
    const s = new ProcSampler(root);
    expect(s.sample(4242, 0)).toEqual({ cpuPercent: 0, rssBytes: 51200 * 1024 });
    // 200 ticks so far; 50 more ticks (0.5 s of CPU) over one second is 50 %.
    fs.writeFileSync(path.join(root, '4242/stat'), fs.readFileSync(path.join(root, '4242/stat'), 'utf8').replace(' 150 50 ', ' 190 60 '));
    expect(s.sample(4242, 1000)?.cpuPercent).toBeCloseTo(50);
    expect(s.sample(99999, 2000)).toBeUndefined();
    expect(processStartTime(4242, root)).toBe(123456);
  });

  it('answers a second ask for one pid within one pass from the first, so instances sharing a host get one figure', () => {
    const root = path.join(tmpDir(), 'proc');
    fs.cpSync(path.join(FIXTURES, 'proc'), root, { recursive: true });
    const stat = path.join(root, '4242/stat');
    const s = new ProcSampler(root);
    s.sample(4242, 0);
    fs.writeFileSync(stat, fs.readFileSync(stat, 'utf8').replace(' 150 50 ', ' 190 60 '));
    const first = s.sample(4242, 1000);
    // one more tick a few microseconds later would read as 1000 %: the pass must not see it
    fs.writeFileSync(stat, fs.readFileSync(stat, 'utf8').replace(' 190 60 ', ' 191 60 '));
    expect(s.sample(4242, 1000.01)).toEqual(first);
    expect(first?.cpuPercent).toBeCloseTo(50);
    // the next pass measures from the first ask: 1 tick over a second
    expect(s.sample(4242, 2000)?.cpuPercent).toBeCloseTo(1);
  });
});
