/**
 * The one registry of stable error codes (DESIGN §11). Every error that crosses a boundary
 * (CLI, control socket, HTTP, MQTT, agent protocol) carries one of these codes, a message that
 * names the input, and a hint that says what to do. `docs/errors.md` is checked against this
 * table by a test, so the docs cannot drift.
 */
import { HAL_ERROR_CODES } from '../hal/errors';

export const ERROR_CODES = {
  OSZ_E_CONFIG: 'Fix the named config keys (see `openstarryd --help` and docs/config.md).',
  OSZ_E_CONFIG_FILE: 'Check that the config file exists, is readable and is valid YAML.',
  OSZ_E_FLAG: 'Run `openstarryd --help` for the accepted flags and their formats.',
  OSZ_E_MANIFEST: 'Fix agent.json as the message says; docs/manifest.md and agent.schema.json describe every field.',
  OSZ_E_ENV_REFUSED: 'Agent env names must match ^[A-Z][A-Z0-9_]*$ and must not be one that the daemon sets or that a library reads to load code, modules, locale or config files (LD_*, OPENSSL_*, NODE_*, LC_*, …): docs/agent-env.md lists each with its reader. Pass settings under a name of your own.',
  OSZ_E_INSTALL_REFUSED: 'Agent and plugin folders may hold only regular files and folders: replace symlinks, hard links, devices, FIFOs and sockets with plain files.',
  OSZ_E_INSTALL_PRIVATE: 'Installed copies are readable by every agent uid: chmod o+r the named file if agents may read it, or move it out of the folder (it is never widened).',
  OSZ_E_INSTALL_TOO_LARGE: 'Keep agent folders under the size and file-count caps, or ship large data as a plugin.',
  OSZ_E_PATH_ESCAPE: 'Paths in agent.json must stay inside the agent folder; register shared code with `openstarryctl plugin add`.',
  OSZ_E_WASM_REFUSED: 'The module breaks the WASM ABI (docs/agent-abi.md): import only what the ABI lists, import env.memory with a maximum, export alloc, init and on_event.',
  OSZ_E_WASM_CEILING: 'The manifest asks for more than this daemon allows WASM agents (wasm.maxMemoryMb, wasm.maxCallTimeoutMs, wasm.sharedCallTimeoutMs): lower limits in agent.json, choose runtime.isolation "dedicated" for long calls, or raise the named key.',
  OSZ_E_WASM_MEMORY_FULL: 'The running WASM agents already hold wasm.totalMemoryMb between them: stop one, lower limits.memoryMb, or raise wasm.totalMemoryMb.',
  OSZ_E_STORE_TAMPERED: 'The installed copy no longer matches its hash: re-run `openstarryctl agent add <path>`.',
  OSZ_E_NO_SUCH_AGENT: 'Install it first with `openstarryctl agent add <path>`; `openstarryctl agent ls` lists installed agents.',
  OSZ_E_NO_SUCH_INSTANCE: '`openstarryctl ps` lists instances and their ids.',
  OSZ_E_SINGLETON_RUNNING: 'The agent is a singleton: kill the running instance first, or drop "singleton" from its manifest.',
  OSZ_E_AGENT_IN_USE: 'Kill its instances first (`openstarryctl kill <agent>`).',
  OSZ_E_NO_SUCH_PLUGIN: 'Register it with `openstarryctl plugin add <path>`; `openstarryctl plugin ls` lists plugins.',
  OSZ_E_PLUGIN_IN_USE: 'Remove or upgrade the agents that use the plugin first.',
  OSZ_E_NO_SUCH_SECRET: 'Set it with `openstarryctl secret set <NAME>`; `openstarryctl secret ls` lists names.',
  OSZ_E_SECRET_INVALID: 'Secret names must match ^[A-Z][A-Z0-9_]*$ and values must be at most 64 KiB without NUL bytes.',
  OSZ_E_UNAUTHORIZED: 'Send the per-boot token from control.token beside the control socket (the CLI does this itself).',
  OSZ_E_FORBIDDEN: 'The caller\'s role does not allow this operation.',
  OSZ_E_INVALID_PARAMS: 'Check the operation\'s parameters (`openstarryctl help <verb>`).',
  OSZ_E_UNKNOWN_OPERATION: '`openstarryctl help` lists the operations this daemon serves.',
  OSZ_E_REQUEST_TOO_LARGE: 'Keep control requests under the line limit; send files by path, not inline.',
  OSZ_E_TOO_DEEP: 'Keep JSON messages nested at most 64 levels deep (the control socket and the agent channels refuse deeper ones); send deep data as a string or a file.',
  OSZ_E_REQUEST_TIMEOUT: 'Send the whole request body within http.bodyTimeoutMs (webhooks: http.webhooks.bodyTimeoutMs).',
  OSZ_E_HTTP_BUSY: 'The HTTP server is at a cap: a connection without the token was closed to make room for a newer one (http.maxConnections, http.maxConnectionsPerClient), every slot of http.connectionCeiling has the token, or streams or webhooks are at theirs (http.anonymousStreams, http.webhooks.maxConnections). Send the token to keep your connection, close idle ones, or raise the cap.',
  OSZ_E_SOCKET_PATH: 'Unix socket paths are limited to 107 bytes: choose a shorter --home or --socket.',
  OSZ_E_DAEMON_UNREACHABLE: 'Start the daemon (`npm start` or `systemctl start openstarryd`), or point the CLI at it with --socket.',
  OSZ_E_DAEMON_BUSY: 'The daemon is running but refused or dropped this connection: too many clients at once (control.maxConnections, control.maxUnauthenticated), or it is overloaded or stopping. Close idle sessions (e.g. `openstarryctl logs -f`), check its log (`journalctl -u openstarryd`), and try again.',
  OSZ_E_DRIVER_UNAVAILABLE: 'This daemon has no such driver enabled yet; use runtime.driver "process" or enable the driver in config.',
  OSZ_E_DRIVER_REFUSED: 'The driver cannot run this agent safely here; the message says which setting to change.',
  OSZ_E_NO_AGENT_UID: 'Process and worker agents run only under their own uid: run the daemon as root or with the shipped unit\'s capabilities (CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_CHOWN CAP_KILL) and setpriv, or use the wasm or docker driver (docs/security.md).',
  OSZ_E_SPAWN_FAILED: 'See the instance log (`openstarryctl logs <instance>`) for why the agent did not start.',
  OSZ_E_PROTOCOL: 'The agent broke the agent protocol (docs/agent-protocol.md); use runtime/sdk to talk to the host.',
  OSZ_E_AGENT_TIMEOUT: 'The agent did not answer in time; check its log, or raise limits.callTimeoutMs.',
  OSZ_E_DOCKER: 'The Docker engine refused or did not answer: check docker.socket in config and that the engine runs (`docker version`).',
  OSZ_E_IMAGE_MISSING: 'Load the image into the engine (`docker pull`, `docker load` or `docker import`), or set docker.pull to let the daemon pull it.',
  OSZ_E_RATE_LIMITED: 'The agent sent more than its rate allows (wasm.logPerSecond, wasm.emitPerSecond, 256 pending HAL requests); the excess is dropped and counted in its log.',
  OSZ_E_TIMER_LIMIT: 'An agent may hold at most 64 timers, each between 10 ms and 24 h.',
  OSZ_E_BAD_SIGNAL: 'Use one of SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGSTOP, SIGCONT.',
  OSZ_E_RULES: 'Fix the rules file where the message points (rule id, line:column); the previous rule set stays active. docs/rules.md lists every field.',
  OSZ_E_RULE_LIMIT: 'A rule hit its loop protection (event chain depth, or spawns per minute per rule): check for rules that trigger each other, or raise the rule\'s limits.',
  OSZ_E_ETAG_MISMATCH: 'Someone applied another rule set since you read it: read it again (rules get), merge, and apply with its etag.',
  OSZ_E_HOOK_REFUSED: 'Sign the webhook with the source\'s secret (hooks.<source>.secretFile), send each delivery id once, and keep the body under the cap.',
  OSZ_E_BAD_SIGNATURE: 'Sign the exact bytes of the command\'s body string with a key listed in fleet.issuers (openstarryctl remote does this).',
  OSZ_E_EXPIRED: 'The command\'s exp has passed: send a fresh one (and check the issuer\'s clock).',
  OSZ_E_REPLAYED: 'Each command needs a ts above the issuer\'s last one and a nonce never used before: send a fresh one.',
  OSZ_E_CLOCK_SKEW: 'The command\'s ts is ahead of this device\'s synchronised clock by more than fleet.maxClockSkewMs: fix the issuer\'s clock and send a fresh one.',
  OSZ_E_COMMAND_TTL: 'A command may be valid for at most fleet.maxCommandTtlMs (exp - ts): send one with a shorter validity.',
  OSZ_E_ISSUER: 'An issuer key is an Ed25519 public key (PEM, or its 32 raw bytes in base64), and at least one admin issuer must remain: add the new admin key before revoking the old one.',
  OSZ_E_FLEET_OFF: 'A rule published with no collector to publish to: set fleet.broker (docs/fleet-protocol.md), or remove the publish action.',
  OSZ_E_WRONG_DEVICE: 'The command names another device id: send it to that device\'s topics.',
  OSZ_E_STORE_CORRUPT: 'The database failed its integrity check and was moved aside; see the log line for where.',
  OSZ_E_STORE_IO: 'The store could not be written (disk full or read-only?); free space or fix the mount.',
  OSZ_E_INTERNAL: 'This is a bug in openstarryd: please report it with the daemon log.',
  ...HAL_ERROR_CODES,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** An error with a stable code. `details` is JSON-safe extra context (offending key, owner, path). */
export class OszError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'OszError';
    this.code = code;
    this.hint = ERROR_CODES[code];
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, hint: this.hint, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Wraps anything thrown into an OszError, keeping codes that are already stable. */
export function toOszError(err: unknown): OszError {
  if (err instanceof OszError) return err;
  // Errors of other layers (the HAL) that carry a registered code keep it.
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && isErrorCode(code)) return new OszError(code, err.message, (err as { details?: Record<string, unknown> }).details);
  const message = err instanceof Error ? err.message : String(err);
  return new OszError('OSZ_E_INTERNAL', message);
}
