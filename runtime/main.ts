/**
 * `openstarryd`: parse flags, load config, start the daemon, stop it on SIGTERM/SIGINT (a second
 * signal kills agents at once). Exit codes: 0 clean stop, 64 bad flags, 78 bad config, 70 failure.
 */
import { ConfigError, type LoadedConfig, loadConfig } from './config/loader';
import { homePaths } from './config/paths';
import { boardDirs } from './boards';
import { driveSafeState } from './safe-state';
import { systemdNotifier } from './systemd/notify';
import { firstbootCommand } from './firstboot/command';
import { loadProfile } from '../hal/profile/load';
import { FLAG_HELP, parseDaemonFlags } from './config/flags';
import { redactConfig } from './config/redact';
import { Daemon } from './daemon';
import { OszError, toOszError } from './errors';
import { createLogger } from './log';
import { packageVersion } from './util/package-root';
import YAML from 'yaml';

export async function runDaemon(argv: string[]): Promise<number> {
  // a root oneshot before the daemon, with flags of its own
  if (argv[0] === 'firstboot') return firstbootCommand(argv.slice(1));
  let flags;
  try {
    flags = parseDaemonFlags(argv);
  } catch (err) {
    process.stderr.write(`openstarryd: ${(err as Error).message}\n${FLAG_HELP}\n`);
    return 64;
  }
  if (flags.help) {
    process.stdout.write(FLAG_HELP + '\n');
    return 0;
  }
  if (flags.version) {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  if (flags.command !== undefined && flags.command !== 'safe-state') {
    process.stderr.write(`openstarryd: unknown command "${flags.command}" (commands: safe-state, firstboot)\n`);
    return 64;
  }
  let loaded;
  try {
    loaded = loadConfig({ flags, env: process.env });
  } catch (err) {
    const e = err as OszError;
    process.stderr.write(`openstarryd: ${e.message}\n  hint: ${e instanceof ConfigError ? e.hint : (e.hint ?? '')}\n`);
    return 78;
  }
  if (flags.command === 'safe-state') return safeState(loaded);
  if (flags.printConfig) {
    process.stdout.write(YAML.stringify(redactConfig(loaded.config)));
    return 0;
  }
  // Whatever umask started us (a shell with 000, say), nothing the daemon creates without an
  // explicit mode is readable by others; files agents must read get theirs explicitly (issue 16).
  process.umask(0o027);
  const log = createLogger({ level: loaded.config.logs.level });
  let daemon: Daemon;
  try {
    daemon = new Daemon(loaded, log);
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`openstarryd: ${e instanceof OszError ? `${e.code}: ${e.message}\n  hint: ${e.hint}` : e.message}\n`);
    return 78;
  }
  // systemd's notify socket, when it runs us (a no-op elsewhere)
  const notify = await systemdNotifier(process.env, (m) => log.warn('systemd', m));
  try {
    await daemon.start();
    notify.ready(`serving; http ${daemon.httpAddress ?? 'off'}`);
  } catch (err) {
    notify.status(`cannot start: ${(err as Error).message}`);
    notify.close();
    const e = err as Error;
    const oe = e instanceof OszError ? e : toOszError(e);
    log.error('daemon', `cannot start: ${oe.code === 'OSZ_E_INTERNAL' ? e.message : `${oe.code}: ${oe.message} (${oe.hint})`}`);
    const code = (e as { code?: unknown }).code;
    return code === 'OSZ_E_CONFIG' || code === 'OSZ_E_SOCKET_PATH' || code === 'HAL_E_PROFILE' ? 78 : 70;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        log.warn('daemon', `${sig} again: killing agents now`);
        daemon.killAgentsNow();
        resolve(130);
        return;
      }
      stopping = true;
      log.info('daemon', `${sig}: stopping`);
      notify.stopping();
      daemon.stop().then(
        () => (notify.close(), resolve(0)),
        () => (notify.close(), resolve(70)),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => log.info('daemon', 'SIGHUP ignored (config reload arrives later)'));
  });
}

/** `openstarryd safe-state`: every actuator of the configured board to its safe state, no daemon needed. */
async function safeState(loaded: LoadedConfig): Promise<number> {
  try {
    const board = loadProfile(loaded.config.board, boardDirs(homePaths(loaded.home).home));
    if (board.name === 'sim' || board.extends === 'sim') {
      process.stdout.write('board sim: simulated actuators have no state outside the daemon\n');
      return 0;
    }
    const { piBackends } = await import('../hal/pi/backends');
    return await driveSafeState(board, piBackends(board), (l) => process.stdout.write(`${l}\n`));
  } catch (err) {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`openstarryd safe-state: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    return e.code === 'HAL_E_PROFILE' ? 78 : 1;
  }
}
