/** When the fleet link trusts the clock: once systemd-timesyncd's marker (or the one named) exists. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../../runtime/fleet/clock';
import { tmpDir } from '../../../helpers/tmp';

describe('the fleet clock', () => {
  it('is unsynchronised until the marker appears, and stays synchronised after', () => {
    const marker = path.join(tmpDir(), 'synchronized');
    const clock = systemClock(marker);
    expect(clock.synced()).toBe(false);
    fs.writeFileSync(marker, '');
    expect(clock.synced()).toBe(true);
    fs.rmSync(marker);
    expect(clock.synced()).toBe(true);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(60_000);
  });
});
