/**
 * The daemon's command-line flags (DESIGN §12.5). Each flag maps onto one config key, so flags
 * are just the highest-precedence config source; `--home` and `--config` choose where config lives.
 */
import { parseArgs } from 'node:util';
import { OszError } from '../errors';
import { closest } from '../util/suggest';

export const FLAG_KEYS = {
  board: 'board',
  replay: 'replay',
  http: 'http.listen',
  broker: 'fleet.broker',
  'device-id': 'fleet.deviceId',
  socket: 'control.socket',
} as const;

export interface DaemonFlags {
  home?: string;
  config?: string;
  help: boolean;
  version: boolean;
  printConfig: boolean;
  /** config overrides as dotted key → value */
  overrides: Record<string, string>;
  command?: string;
}

const OPTIONS = {
  home: { type: 'string' },
  config: { type: 'string' },
  board: { type: 'string' },
  replay: { type: 'string' },
  http: { type: 'string' },
  broker: { type: 'string' },
  'device-id': { type: 'string' },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  'print-config': { type: 'boolean' },
} as const;

export const FLAG_HELP = `Usage: openstarryd [flags]
       openstarryd safe-state [--board NAME]   every actuator to its safe state, no daemon needed
       openstarryd firstboot [--boot DIR]      take openstarry/device.yaml off the boot partition (root)

  --home DIR          daemon home (env OPENSTARRYD_HOME; root: /var/lib/openstarry, others: ~/.openstarry)
  --config FILE       config file (default <home>/openstarryd.yaml)
  --board NAME        board profile (boards/<name>.yaml), e.g. sim, raspberrypi-4b
  --replay FILE       replay a recorded HAL trace (sim board)
  --http HOST:PORT    status page / REST address (default 127.0.0.1:8470)
  --broker URL        MQTT broker, e.g. mqtts://broker.example:8883
  --device-id ID      device id (= MQTT client id, at most 64 bytes)
  --socket PATH       control socket path (at most 107 bytes)
  --print-config      print the merged config (secrets redacted) and exit
  --version           print the version and exit

Config keys can also be set as env OPENSTARRYD_<SECTION>__<KEY>, e.g. OPENSTARRYD_HTTP__LISTEN=0.0.0.0:8470.`;

export function parseDaemonFlags(argv: string[]): DaemonFlags {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    const msg = (err as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(msg)?.[1];
    const guess = unknown ? closest(unknown.replace(/^-+/, ''), Object.keys(OPTIONS)) : undefined;
    throw new OszError('OSZ_E_FLAG', `${msg}${guess ? ` (did you mean --${guess}?)` : ''}`, { flag: unknown });
  }
  const v = parsed.values;
  const overrides: Record<string, string> = {};
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const value = v[flag as keyof typeof FLAG_KEYS];
    if (typeof value === 'string') overrides[key] = value;
  }
  if (parsed.positionals.length > 1) throw new OszError('OSZ_E_FLAG', `unexpected arguments: ${parsed.positionals.slice(1).join(' ')}`);
  return {
    ...(v.home !== undefined ? { home: v.home } : {}),
    ...(v.config !== undefined ? { config: v.config } : {}),
    help: v.help === true,
    version: v.version === true,
    printConfig: v['print-config'] === true,
    overrides,
    ...(parsed.positionals[0] !== undefined ? { command: parsed.positionals[0] } : {}),
  };
}
