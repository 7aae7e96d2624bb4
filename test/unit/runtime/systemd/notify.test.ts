/** sd_notify: what is sent, in which order, and the watchdog at half of WATCHDOG_USEC. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { notifierWith, systemdNotifier, watchdogInterval } from '../../../../runtime/systemd/notify';

afterEach(() => vi.useRealTimers());

describe('sd_notify', () => {
  it('pings the watchdog at half the interval systemd asks for, only for its own pid', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '20000000' })).toBe(10_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: String(process.pid) })).toBe(10_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: String(process.pid + 1) })).toBeUndefined();
    for (const bad of [undefined, '', '0', '-5', 'soon']) expect(watchdogInterval({ ...(bad === undefined ? {} : { WATCHDOG_USEC: bad }) })).toBeUndefined();
  });

  it('sends READY, then WATCHDOG every half interval, then STOPPING once, and nothing after close', () => {
    vi.useFakeTimers();
    const sent: string[] = [];
    const n = notifierWith((m) => sent.push(m), 1000);
    n.ready('serving');
    vi.advanceTimersByTime(999);
    expect(sent).toEqual([`READY=1\nMAINPID=${process.pid}\nSTATUS=serving`]);
    vi.advanceTimersByTime(1);
    vi.advanceTimersByTime(2000);
    expect(sent.filter((m) => m === 'WATCHDOG=1')).toHaveLength(3);
    n.status('two\nlines');
    n.stopping();
    n.stopping();
    n.close();
    vi.advanceTimersByTime(5000);
    expect(sent.slice(-2)).toEqual(['STATUS=two lines', 'STOPPING=1']);
    expect(sent.filter((m) => m === 'WATCHDOG=1')).toHaveLength(3);
  });

  it('is a no-op off systemd, and refuses a NOTIFY_SOCKET that is neither a path nor abstract', async () => {
    const warnings: string[] = [];
    const off = await systemdNotifier({}, (m) => warnings.push(m));
    expect(() => (off.ready(), off.stopping(), off.close())).not.toThrow();
    expect(off.watchdogMs).toBeUndefined();
    await systemdNotifier({ NOTIFY_SOCKET: 'relative/sock' }, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringContaining('neither a path nor an abstract socket')]);
  });
});
