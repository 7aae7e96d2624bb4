/**
 * Whether this device's clock can judge a command's `ts` (docs/fleet-protocol.md, "Clock"). A
 * Raspberry Pi has no real-time clock: until NTP sets it, Date.now() is 1970 or the time
 * fake-hwclock saved at the last shutdown, days or years behind. A clock that is later than some
 * floor (the build time, the newest stored timestamp) is therefore no proof: fake-hwclock's time
 * passes every floor and is still behind, and a behind clock would refuse honest commands as
 * "ahead". Only the NTP client knows, and the kernel's STA_UNSYNC flag (adjtimex) is out of
 * Node's reach, so the signal is systemd-timesyncd's marker: it creates
 * /run/systemd/timesync/synchronized on its first synchronisation (systemd ≥ 239; the default on
 * Debian 12 and Raspberry Pi OS), and /run is a tmpfs, so a marker never outlives the boot that
 * made it. Another NTP daemon can create the same file once synchronised (chrony:
 * `chronyc waitsync` in a oneshot unit), or name its own through fleet.clockSyncedFile.
 */
import fs from 'node:fs';

export interface FleetClock {
  now(): number;
  /** true once the system clock has been set from a time source */
  synced(): boolean;
}

export const TIMESYNC_MARKER = '/run/systemd/timesync/synchronized';

/** the system clock, synchronised once `marker` exists; once seen, it stays so (the clock does not forget NTP within a boot) */
export function systemClock(marker: string = TIMESYNC_MARKER): FleetClock {
  let synced = false;
  return {
    now: () => Date.now(),
    // a stat per signed command, and none once the marker has been seen
    synced: () => (synced ||= fs.existsSync(marker)),
  };
}
