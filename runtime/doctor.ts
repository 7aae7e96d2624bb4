/**
 * `openstarryctl doctor` (daemon.doctor): checks what keeps a Pi fleet healthy for months and
 * says how to fix each problem — clock, disk and SD card, store, socket and token, and the agent
 * sandbox. Hardware checks join with the real-board HAL (issue 7).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateManifest } from './agents/manifest';
import { permissionFlag } from './agents/drivers/process';
import { NO_UID_FIX, type SandboxPlan, untraversable } from './sandbox';
import type { Store } from './store/store';
import { SysRoot } from '../hal/platform/root';
import { throttling } from '../hal/platform/host';
import { gpioChips } from '../hal/platform/gpio-chips';
import { i2cDevice, pwmChip, serialDevice } from '../hal/platform/buses';
import type { BoardProfile } from '../hal/profile/schema';

export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface DoctorContext {
  home: string;
  socket: string;
  tokenFile: string;
  store: Store;
  isRoot: boolean;
  sandbox: SandboxPlan;
  runnerPath: string | undefined;
  dockerEnabled: boolean;
  /** wasm.trapHandler as configured, and whether V8's trap handler is on in this process */
  wasm?: { configured: 'auto' | 'on' | 'off'; trapHandler: boolean };
  /** for tests: a system root for the HAL's platform reads (power, throttling, buses) */
  platformRoot?: string;
  /** the board profile the daemon runs (real-board checks for anything but sim) */
  board?: BoardProfile;
  /** for tests: a /sys and /proc to read instead of the host's */
  sysRoot?: string;
  procRoot?: string;
  now?: number;
  /** runs a command and returns its stdout, or undefined when it is missing or fails */
  exec?: (cmd: string, args: string[]) => string | undefined;
}

/** Clocks before this are certainly wrong: a Pi without RTC boots at its image's build time. */
const EARLIEST_PLAUSIBLE = Date.parse('2026-01-01T00:00:00Z');

const ok = (name: string, detail: string): DoctorCheck => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string, fix: string): DoctorCheck => ({ name, status: 'warn', detail, fix });
const fail = (name: string, detail: string, fix: string): DoctorCheck => ({ name, status: 'fail', detail, fix });

export function runDoctor(ctx: DoctorContext): DoctorCheck[] {
  return [checkClock(ctx), checkDisk(ctx), checkMount(ctx), checkSdWear(ctx), checkStore(ctx), checkSocket(ctx), ...checkSandbox(ctx), ...(ctx.wasm ? [checkWasm(ctx, ctx.wasm)] : []), ...checkPower(ctx), ...checkBoard(ctx)];
}

function defaultExec(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

function checkClock(ctx: DoctorContext): DoctorCheck {
  const now = ctx.now ?? Date.now();
  if (now < EARLIEST_PLAUSIBLE) return fail('clock', `the clock says ${new Date(now).toISOString()}, before this release`, 'enable NTP (systemd-timesyncd or chrony); Pis have no RTC, so time is wrong until it syncs');
  const exec = ctx.exec ?? defaultExec;
  const synced = exec('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'])?.trim();
  if (synced === 'yes') return ok('clock', 'synchronised (timedatectl)');
  if (fs.existsSync('/run/systemd/timesync/synchronized')) return ok('clock', 'synchronised (systemd-timesyncd)');
  const chrony = exec('chronyc', ['-n', 'tracking']);
  if (chrony && /Leap status\s*:\s*Normal/.test(chrony)) return ok('clock', 'synchronised (chrony)');
  return warn('clock', 'cannot confirm that the clock is synchronised', 'run systemd-timesyncd or chrony so schedules, expiry checks and logs carry the right time');
}

function checkDisk(ctx: DoctorContext): DoctorCheck {
  let st: fs.StatsFs;
  try {
    st = fs.statfsSync(ctx.home);
  } catch (err) {
    return fail('disk', `cannot read free space of ${ctx.home}: ${(err as Error).message}`, 'check that the home folder exists and is mounted');
  }
  const free = st.bavail * st.bsize;
  const total = st.blocks * st.bsize;
  const pct = total > 0 ? (free / total) * 100 : 0;
  const detail = `${Math.round(free / 1048576)} MB free of ${Math.round(total / 1048576)} MB (${pct.toFixed(1)}%) under ${ctx.home}`;
  const fix = 'free space: remove old agent versions (`openstarryctl agent rm`), lower logs.maxBytes / logs.files, or use a larger card';
  if (free < 64 * 1048576 || pct < 2) return fail('disk', detail, fix);
  if (pct < 10) return warn('disk', detail, fix);
  return ok('disk', detail);
}

/** The mount holding the home, from /proc/mounts (longest matching mount point). */
function mountOf(dir: string, procRoot: string): { point: string; options: string[] } | undefined {
  let best: { point: string; options: string[] } | undefined;
  let text: string;
  try {
    text = fs.readFileSync(path.join(procRoot, 'mounts'), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, point, , options] = line.split(' ');
    if (!point || !options) continue;
    const p = point.replace(/\\040/g, ' ');
    if ((dir === p || dir.startsWith(p.endsWith('/') ? p : `${p}/`)) && (!best || p.length > best.point.length)) best = { point: p, options: options.split(',') };
  }
  return best;
}

function checkMount(ctx: DoctorContext): DoctorCheck {
  const m = mountOf(path.resolve(ctx.home), ctx.procRoot ?? '/proc');
  if (m?.options.includes('ro')) {
    return fail('filesystem', `${ctx.home} is on ${m.point}, mounted read-only`, 'a read-only remount usually means the SD card reported errors: back up, run fsck, and replace the card if it happens again');
  }
  const probe = path.join(ctx.home, `.doctor-${process.pid}`);
  try {
    fs.writeFileSync(probe, 'x');
    fs.rmSync(probe);
  } catch (err) {
    return fail('filesystem', `cannot write under ${ctx.home}: ${(err as Error).message}`, 'check the mount and free space; the daemon keeps agents running but refuses changes');
  }
  return ok('filesystem', `${ctx.home} is writable${m ? ` (${m.point})` : ''}`);
}

/** eMMC devices report wear (JEDEC life_time / pre_eol_info); SD cards do not. */
function checkSdWear(ctx: DoctorContext): DoctorCheck {
  const base = path.join(ctx.sysRoot ?? '/sys', 'block');
  let devices: string[] = [];
  try {
    devices = fs.readdirSync(base).filter((d) => d.startsWith('mmcblk') && !d.includes('boot') && !d.includes('rpmb'));
  } catch {
    /* no /sys/block: not a board */
  }
  if (devices.length === 0) return ok('sd-card', 'no MMC device (not a Pi, or booted from USB/NVMe)');
  for (const dev of devices) {
    const dir = path.join(base, dev, 'device');
    const read = (f: string): string | undefined => {
      try {
        return fs.readFileSync(path.join(dir, f), 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    const eol = read('pre_eol_info');
    const life = read('life_time');
    if (eol === '0x03') return fail('sd-card', `${dev}: the device reports urgent end of life (pre_eol_info 0x03)`, 'replace the storage now; writes may start failing');
    const worn = life?.split(/\s+/).map((x) => Number.parseInt(x, 16)).filter((n) => Number.isFinite(n)) ?? [];
    if (eol === '0x02' || worn.some((n) => n >= 0x09)) return warn('sd-card', `${dev}: the device reports heavy wear (life_time ${life ?? '?'}, pre_eol_info ${eol ?? '?'})`, 'plan to replace the storage');
    if (eol || life) return ok('sd-card', `${dev}: wear ${life ?? '?'}, pre-EOL ${eol ?? '?'}`);
  }
  return ok('sd-card', `${devices.join(', ')}: SD cards report no wear data; the store batches writes to spare them`);
}

function checkStore(ctx: DoctorContext): DoctorCheck {
  const problem = ctx.store.guard.problem;
  if (problem) return fail('store', `writes are failing (disk ${problem.kind}): ${problem.message}`, 'free space or fix the mount; agents keep running meanwhile');
  try {
    const r = ctx.store.db.pragma('quick_check', { simple: true });
    if (r !== 'ok') return fail('store', `quick_check: ${String(r)}`, 'stop the daemon and start it again: a damaged database is moved aside and rebuilt at boot');
  } catch (err) {
    return fail('store', `quick_check failed: ${(err as Error).message}`, 'restart the daemon; check the SD card');
  }
  return ok('store', `quick_check ok${ctx.store.recoveredFrom ? `; recovered at boot from ${ctx.store.recoveredFrom}` : ''}`);
}

function checkSocket(ctx: DoctorContext): DoctorCheck {
  const fix = 'restart the daemon; if it persists, check that nothing else changes the run folder';
  try {
    const s = fs.statSync(ctx.socket);
    if (!s.isSocket()) return fail('control-socket', `${ctx.socket} is not a socket`, fix);
    const t = fs.statSync(ctx.tokenFile);
    if ((t.mode & 0o007) !== 0) return fail('control-socket', `${ctx.tokenFile} is readable by others (mode ${(t.mode & 0o777).toString(8)})`, 'chmod 0640 the token file; agents must never read it');
    fs.readFileSync(ctx.tokenFile);
  } catch (err) {
    return fail('control-socket', (err as Error).message, fix);
  }
  return ok('control-socket', `${ctx.socket}, token ${ctx.tokenFile} (0640)`);
}

/**
 * A real board (DESIGN §5): the profile's GPIO chip and its base, each bus it names enabled (with
 * the config.txt line when not), `rpicam-vid` for cameras, and — when not root — the groups the
 * hardware needs.
 */
function checkBoard(ctx: DoctorContext): DoctorCheck[] {
  const b = ctx.board;
  if (!b || b.name === 'sim' || b.extends === 'sim') return [];
  const root = new SysRoot(ctx.platformRoot ?? '/');
  const out: DoctorCheck[] = [];
  const label = b.gpio.chips[0]?.label;
  if (label) {
    const chip = gpioChips(root).find((c) => c.label === label);
    out.push(
      chip
        ? ok('gpio', `${label} at sysfs base ${chip.base} (GPIO17 is ${chip.base + 17})`)
        : fail('gpio', `no GPIO chip labelled ${label} (found: ${gpioChips(root).map((c) => c.label).join(', ') || 'none'})`, 'check --board against /proc/device-tree/model, and that the kernel exposes /sys/class/gpio'),
    );
  }
  const needed = new Set<string>();
  for (const [name, bus] of Object.entries(b.buses)) {
    const fix = bus.configTxt ? `add "${bus.configTxt}" to /boot/firmware/config.txt and reboot` : 'enable the bus in config.txt';
    const used = b.devices.some((d) => 'bus' in d && d.bus === name);
    try {
      const dev = bus.kind === 'i2c' ? i2cDevice(root, bus.device, bus.configTxt) : bus.kind === 'pwm' ? pwmChip(root, bus.device, bus.configTxt) : serialDevice(root, bus.device, bus.configTxt);
      out.push(ok(`bus ${name}`, `${bus.kind} on ${dev}`));
    } catch (err) {
      // The base profiles declare every header bus; one that no device uses need not be enabled.
      out.push(used ? fail(`bus ${name}`, (err as Error).message, fix) : ok(`bus ${name}`, `not enabled; no device of this board uses it`));
    }
    if (used) needed.add(bus.kind === 'i2c' ? 'i2c' : bus.kind === 'pwm' ? 'gpio' : 'dialout');
  }
  if (b.devices.some((d) => d.kind === 'actuator' || (d.kind === 'sensor' && d.driver === 'gpio-in'))) needed.add('gpio');
  if (b.devices.some((d) => d.kind === 'camera')) {
    needed.add('video');
    const found = (ctx.exec ?? defaultExec)('sh', ['-c', 'command -v rpicam-vid']);
    out.push(found ? ok('camera', `rpicam-vid at ${found.trim()}`) : fail('camera', 'rpicam-vid is not installed', 'apt-get install rpicam-apps'));
  }
  if (!ctx.isRoot && needed.size > 0) {
    const groups = groupNames(ctx.platformRoot ?? '/');
    const missing = [...needed].filter((g) => !groups.has(g));
    out.push(missing.length ? warn('groups', `the daemon's user is not in ${missing.join(', ')}`, `usermod -aG ${missing.join(',')} <user>, then log in again`) : ok('groups', `in ${[...needed].join(', ')}`));
  }
  return out;
}

/** The names of this process's groups, from /etc/group under root. */
function groupNames(root: string): Set<string> {
  const mine = new Set(process.getgroups?.() ?? []);
  const names = new Set<string>();
  let text = '';
  try {
    text = fs.readFileSync(path.join(root, 'etc/group'), 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && mine.has(Number(gid))) names.add(name);
  }
  return names;
}

/** The firmware's throttling flags (Raspberry Pi): under-voltage is the usual cause of SD-card corruption. */
function checkPower(ctx: DoctorContext): DoctorCheck[] {
  const t = throttling(new SysRoot(ctx.platformRoot ?? '/'));
  if (!t) return [];
  const now = [t.underVoltage && 'under-voltage', t.throttled && 'throttled', t.frequencyCapped && 'frequency capped', t.softTempLimit && 'soft temperature limit'].filter(Boolean);
  const past = [t.underVoltageOccurred && 'under-voltage', t.throttledOccurred && 'throttling', t.frequencyCappedOccurred && 'frequency capping', t.softTempLimitOccurred && 'the soft temperature limit'].filter(Boolean);
  if (now.length > 0) return [fail('power', `the firmware reports ${now.join(', ')} now (get_throttled 0x${t.raw.toString(16)})`, 'use the official power supply and a short, thick cable; cool the SoC')];
  if (past.length > 0) return [warn('power', `since boot the board had ${past.join(', ')} (get_throttled 0x${t.raw.toString(16)})`, 'check the power supply and cooling: under-voltage corrupts SD cards')];
  return [ok('power', 'no under-voltage or throttling since boot')];
}

/** The soft RLIMIT_AS in bytes from /proc/self/limits, or undefined when unlimited or unreadable. */
export function addressSpaceLimit(procRoot = '/proc'): number | undefined {
  try {
    const line = fs.readFileSync(path.join(procRoot, 'self/limits'), 'utf8').split('\n').find((l) => l.startsWith('Max address space'));
    const soft = line?.slice('Max address space'.length).trim().split(/\s+/)[0];
    return soft && soft !== 'unlimited' ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** V8's trap handler reserves ~10 GB of address space per wasm memory (DESIGN §4). */
function checkWasm(ctx: DoctorContext, w: { configured: 'auto' | 'on' | 'off'; trapHandler: boolean }): DoctorCheck {
  const limit = addressSpaceLimit(ctx.procRoot);
  const fix = 'start the daemon through bin/openstarryd (it passes --disable-wasm-trap-handler when wasm.trapHandler is off, or auto on arm64 or under ulimit -v)';
  if (w.trapHandler && limit !== undefined) {
    const fit = Math.floor(limit / (10 * 1024 ** 3));
    return fail('wasm', `V8's wasm trap handler is on under an address-space limit of ${Math.round(limit / 1024 ** 3)} GB: only about ${fit} WASM agents fit`, fix);
  }
  if (w.trapHandler && w.configured === 'off') return warn('wasm', 'wasm.trapHandler is off in config, but this process runs with the trap handler on', fix);
  const mode = w.trapHandler ? 'on (guard regions, ~10 GB of address space per agent)' : 'off (explicit bounds checks)';
  return ok('wasm', `trap handler ${mode}; address space ${limit === undefined ? 'unlimited' : `${Math.round(limit / 1024 ** 3)} GB`}`);
}

function checkSandbox(ctx: DoctorContext): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  const flag = permissionFlag();
  out.push(
    process.allowedNodeEnvironmentFlags.has(flag)
      ? ok('permission-model', `${flag} available (Node ${process.version})`)
      : fail('permission-model', `Node ${process.version} has no permission model`, 'install Node >= 20.19'),
  );
  const sb = ctx.sandbox;
  const who = sb.daemon.uid === 0 ? 'the daemon runs as root' : `the daemon runs as uid ${sb.daemon.uid}${sb.daemon.caps.length ? ` with ${sb.daemon.caps.join(' ')}` : ' without capabilities'}`;
  if (sb.mode === 'own-uid') out.push(ok('agent-uid', `${who}; process and worker agents run under their own uid through ${sb.setprivPath ?? 'setpriv'}, with no groups and no capabilities (checked by a probe at start)`));
  else if (sb.mode === 'shared-uid') out.push(fail('agent-uid', `${who}; sandbox.shareUid is on: process and worker agents run under the daemon's own uid and can reach what it can (${sb.reason})`, `development only: ${NO_UID_FIX}`));
  else out.push(warn('agent-uid', `${who}; process and worker agents are refused: they cannot get their own uid (${sb.reason}); wasm and docker agents run`, NO_UID_FIX));
  if (ctx.dockerEnabled && !ctx.sandbox.separateUid) out.push(fail('docker-socket', 'the docker driver is enabled and process agents share a uid that may reach the Docker socket', 'run as root with setpriv, or disable process agents'));
  if (ctx.sandbox.separateUid) {
    // untraversable() checks the folders above a path: the home's contents and the runner file.
    const blocked = [...new Set([path.join(ctx.home, 'store'), ...(ctx.runnerPath ? [ctx.runnerPath] : [])].flatMap((p) => untraversable(p)))];
    out.push(blocked.length ? fail('agent-paths', `agents cannot traverse ${blocked.join(', ')}`, `chmod o+x ${blocked.join(' ')}`) : ok('agent-paths', 'agents can reach the store and the runner'));
  }
  const bad: string[] = [];
  for (const a of ctx.store.agents.list()) {
    try {
      validateManifest(JSON.parse(a.manifest), a.id);
    } catch (err) {
      bad.push(`${a.id} (${(err as Error).message.split('\n').slice(1, 2).join('').trim()})`);
    }
  }
  out.push(bad.length ? fail('env-allow-list', `installed manifests no longer pass validation: ${bad.join('; ')}`, 'fix those agents and `openstarryctl agent add` them again') : ok('env-allow-list', 'every installed manifest passes the env allow-list'));
  return out;
}
