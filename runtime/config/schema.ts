/**
 * The daemon's config schema: the one source of keys, types, defaults and descriptions
 * (DESIGN §12.5). Objects are strict so a typo is an error that names the key, never a silent
 * default. Secrets appear only as `*File` paths; `redact.ts` hides them when config is printed.
 */
import * as z from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'expected HOST:PORT, e.g. 127.0.0.1:8470')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

const filePath = z.string().min(1).max(4096).refine((v) => !v.includes('\0'), 'path must not contain NUL');

/** MQTT topic segment: the device id doubles as the MQTT client id (DESIGN §12.12). */
export const deviceIdSchema = z
  .string()
  .min(1)
  .refine((v) => Buffer.byteLength(v) <= 64, 'device id must be at most 64 bytes')
  .refine((v) => !/[+#/\0\s]/.test(v), 'device id must be a valid MQTT topic segment (no + # / or whitespace)');

const backoff = z.strictObject({
  initialMs: z.number().int().min(10).max(3_600_000).default(1000).describe('first restart delay'),
  maxMs: z.number().int().min(10).max(86_400_000).default(300_000).describe('cap of the exponential backoff'),
});

const hookSource = z.strictObject({
  secretFile: filePath.describe('file holding the HMAC secret of this webhook source'),
  kind: z.enum(['github', 'gitea', 'generic']).default('generic').describe('signature scheme'),
});

const probeBase = {
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'probe names are lower-case words'),
  intervalMs: z.number().int().min(1000).max(86_400_000).default(30_000),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  failAfter: z.number().int().min(1).max(100).default(2).describe('consecutive failures before the down event'),
};
const probe = z.discriminatedUnion('kind', [
  z.strictObject({ ...probeBase, kind: z.literal('http'), url: z.url({ protocol: /^https?$/ }).describe('GET this; any status below 400 is up') }),
  z.strictObject({ ...probeBase, kind: z.literal('tcp'), host: z.string().min(1).max(253), port: z.number().int().min(1).max(65535) }),
  z.strictObject({ ...probeBase, kind: z.literal('disk'), path: filePath.default('/'), minFreePercent: z.number().min(0).max(100).default(10) }),
  z.strictObject({ ...probeBase, kind: z.literal('temperature'), maxC: z.number().min(0).max(150).default(80).describe('SoC temperature limit') }),
  z.strictObject({ ...probeBase, kind: z.literal('agent'), agent: z.string().min(1).max(128).describe('an installed agent that should have a running instance') }),
]);
export type ProbeConfig = z.infer<typeof probe>;

const issuer = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  publicKeyFile: filePath.describe('Ed25519 public key (PEM or raw base64)'),
  role: z.enum(['viewer', 'operator', 'admin']).default('operator'),
});

export const configSchema = z.strictObject({
  board: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).default('sim').describe('board profile name (boards/<name>.yaml)'),
  replay: filePath.optional().describe('HAL trace to replay instead of live hardware (sim board)'),
  control: z
    .strictObject({
      socket: filePath.optional().describe('control socket path (default <home>/run/control.sock)'),
      maxLineBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024).describe('longest control request line'),
      maxConnections: z.number().int().min(1).max(1024).default(64),
      maxUnauthenticated: z.number().int().min(1).max(1024).default(8).describe('connections that have not authenticated yet, held at once; the rest of maxConnections stays free for authenticated clients'),
      authTimeoutMs: z.number().int().min(100).max(600_000).default(2000).describe('a connection that has not authenticated within this is closed'),
      maxReplyBufferBytes: z.number().int().min(4096).max(256 * 1024 * 1024).default(4 * 1024 * 1024).describe('replies a client has not read yet; past this the daemon stops reading its requests, and closes it if it stays there'),
    })
    .prefault({}),
  http: z
    .strictObject({
      listen: hostPort.default('127.0.0.1:8470').describe('status page and REST address'),
      tokenFile: filePath.optional().describe('bearer token file (default: control.token beside the socket)'),
      allowedHosts: z.array(z.string().max(255)).max(32).default([]).describe('extra Host header values to accept'),
      maxConnections: z.number().int().min(1).max(4096).default(64).describe('HTTP connections without the token (yet) at once; past it the least recently active of them is closed (docs/http.md)'),
      maxConnectionsPerClient: z.number().int().min(1).max(4096).default(16).describe('HTTP connections without the token (yet) from one client address; past it that address\'s least recently active is closed'),
      connectionCeiling: z.number().int().min(1).max(65_536).default(256).describe('every HTTP connection, those with the token included (each costs an fd and buffers); at it a newcomer is refused 503 when none is left to close without the token'),
      headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('a request whose headers have not arrived within this is closed'),
      bodyTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('an authenticated request whose body has not arrived within this is closed'),
      writeStallMs: z.number().int().min(100).max(600_000).default(30_000).describe('a response (a reply or a stream) whose unsent bytes the client takes none of for this long is cut, and what waited for it freed'),
      anonymousStreams: z.number().int().min(0).max(1024).default(4).describe('SSE streams without a token, at once (their own cap: they never take an authenticated slot)'),
      anonymousEvents: z.boolean().default(false).describe('whether reads without a token carry bus events (the event stream, the dashboard\'s recent events)'),
      webhooks: z
        .strictObject({
          maxConnections: z.number().int().min(1).max(1024).default(8).describe('webhook requests in flight at once'),
          maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024).describe('largest webhook body'),
          bodyTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('a webhook body must arrive within this'),
        })
        .prefault({}),
    })
    .refine((h) => h.connectionCeiling >= h.maxConnections, { path: ['connectionCeiling'], message: 'http.connectionCeiling must be at least http.maxConnections: it counts the connections without the token too' })
    .prefault({}),
  hooks: z
    .looseObject({ listen: hostPort.optional().describe('LAN address serving only /hooks/*') })
    .prefault({})
    .superRefine((hooks, ctx) => {
      for (const [key, value] of Object.entries(hooks)) {
        if (key === 'listen') continue;
        if (!/^[a-z][a-z0-9_-]*$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'webhook source names are lower-case words' });
        const parsed = hookSource.safeParse(value);
        if (!parsed.success) for (const i of parsed.error.issues) ctx.addIssue({ code: 'custom', path: [key, ...i.path.map(String)], message: i.message });
      }
    }),
  probes: z.array(probe).max(64).default([]),
  fleet: z
    .strictObject({
      broker: z.url({ protocol: /^(mqtts?|wss?|tcp|ssl|unix)$/ }).optional().describe('MQTT broker URL'),
      deviceId: deviceIdSchema.optional().describe('device id = MQTT client id'),
      mqttVersion: z.union([z.literal(4), z.literal(5)]).default(5),
      tls: z.strictObject({ caFile: filePath.optional(), certFile: filePath.optional(), keyFile: filePath.optional() }).optional(),
      username: z.string().max(256).optional(),
      passwordFile: filePath.optional(),
      issuers: z.array(issuer).max(32).default([]),
      clockSyncedFile: filePath.default('/run/systemd/timesync/synchronized').describe("a file that exists once the system clock has been set from a time source (systemd-timesyncd's marker; with chrony, have a oneshot unit create one after `chronyc waitsync`); until then command timestamps are not judged against the clock"),
      maxClockSkewMs: z.number().int().min(1000).max(86_400_000).default(300_000).describe('once the clock is synchronised, a command whose ts is further ahead of it is refused'),
      maxCommandTtlMs: z.number().int().min(1000).max(7 * 86_400_000).default(3_600_000).describe('longest exp - ts a command may have'),
      maxPacketBytes: z.number().int().min(16 * 1024).max(64 * 1024 * 1024).default(512 * 1024).describe('largest MQTT packet accepted (announced to MQTT 5 brokers as maximumPacketSize)'),
      export: z
        .array(z.string().max(200).regex(/^[a-z*][a-z0-9_*-]*:[a-z0-9_.*-]+$/, 'an event type pattern like "agent:*" or "alert:**"'))
        .max(64)
        .default(['agent:**', 'rules:**', 'alert:**', 'git:**', 'hook:**'])
        .describe('events sent to the collector as evt/<area> through the outbox'),
      telemetry: z
        .record(
          z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a sensor type of the board'),
          z.strictObject({
            deadband: z.number().min(0).default(0).describe('send only when the value moved at least this much'),
            minIntervalMs: z.number().int().min(100).max(86_400_000).default(10_000).describe('never more often than this'),
            maxIntervalMs: z.number().int().min(1000).max(86_400_000).default(600_000).describe('at least this often, changed or not'),
          }),
        )
        .default({})
        .describe('sensor types sent to the collector as tele/<type> (QoS 0)'),
      outbox: z
        .strictObject({
          maxMessages: z.number().int().min(10).max(1_000_000).default(10_000),
          maxBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
        })
        .prefault({}),
    })
    .prefault({}),
  docker: z
    .strictObject({
      enabled: z.boolean().default(false).describe('enable the docker driver'),
      socket: filePath.default('/var/run/docker.sock').describe("the engine's API socket (balenaOS: balena-engine's, exposed with the io.balena.features.balena-socket label)"),
      pull: z.boolean().default(false).describe('pull a missing image at agent add / spawn (a registry must be reachable); off: refuse, naming the image'),
      network: z.string().min(1).max(64).default('bridge').describe('the engine network a capabilities.network grant joins (otherwise containers get none)'),
    })
    .prefault({}),
  wasm: z
    .strictObject({
      trapHandler: z.enum(['auto', 'on', 'off']).default('auto').describe("V8's wasm trap handler (read by bin/openstarryd): off uses bounds checks and fits thousands of memories in a small address space; auto = off on arm64 or under ulimit -v"),
      cellSize: z.number().int().min(1).max(1000).default(32).describe('WASM agents per shared cell (worker thread)'),
      watchdogMs: z.number().int().min(5).max(1000).default(50).describe('how often the watchdog looks for calls over limits.callTimeoutMs'),
      logPerSecond: z.number().int().min(1).max(100_000).default(100).describe('log lines a WASM agent may write per second (burst: twice that); the rest are dropped and counted'),
      emitPerSecond: z.number().int().min(1).max(100_000).default(100).describe('events and HAL requests a WASM agent may send per second (burst: twice that)'),
      maxFileKb: z.number().int().min(1).max(65_536).default(1024).describe('largest file a WASM agent may open from its install copy'),
      maxMemoryMb: z.number().int().min(1).max(16_384).default(256).describe('the most memory one WASM agent may have; a manifest may ask for less, never more'),
      totalMemoryMb: z.number().int().min(1).max(65_536).optional().describe("the most memory all WASM agents of the device may have together (default: a quarter of the board's RAM); a spawn past it is refused"),
      maxCallTimeoutMs: z.number().int().min(1).max(600_000).default(10_000).describe('the longest limits.callTimeoutMs a WASM agent may have (in a dedicated cell)'),
      sharedCallTimeoutMs: z.number().int().min(1).max(60_000).default(1000).describe('the longest limits.callTimeoutMs in a shared cell, so one agent cannot freeze its cell-mates; longer calls need runtime.isolation: dedicated'),
    })
    .prefault({}),
  logs: z
    .strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      maxBytes: z.number().int().min(4096).max(1024 * 1024 * 1024).default(1024 * 1024).describe('rotate an instance log past this size'),
      files: z.number().int().min(1).max(100).default(3).describe('rotated files kept per instance'),
      ringLines: z.number().int().min(10).max(100_000).default(1000).describe('lines kept in RAM per instance'),
      outputBytesPerSecond: z.number().int().min(1024).max(64 * 1024 * 1024).default(64 * 1024).describe("agent output (stdout, stderr, log calls) kept per instance per second (burst: twice that); the rest is dropped, counted and said in the instance's log"),
      outputLinesPerSecond: z.number().int().min(1).max(100_000).default(200).describe('agent output lines kept per instance per second (burst: twice that)'),
    })
    .prefault({}),
  supervisor: z
    .strictObject({
      backoff: backoff.prefault({}),
      healthyResetMs: z.number().int().min(1000).default(600_000).describe('running this long resets the restart counter'),
      heartbeatMs: z.number().int().min(100).max(600_000).default(5000).describe('agents send a heartbeat this often'),
      missedHeartbeats: z.number().int().min(2).max(100).default(3),
      helloTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
      graceMs: z.number().int().min(0).max(600_000).default(5000).describe('TERM to KILL grace period'),
      keepExited: z.number().int().min(1).max(10_000).default(20).describe('exited and failed instances kept per agent (with their logs); older ones are removed'),
      limits: z
        .strictObject({
          sampleMs: z.number().int().min(100).max(60_000).default(2000).describe('how often CPU and memory are sampled'),
          cpuGraceMs: z.number().int().min(0).max(3_600_000).default(10_000).describe('how long an agent may stay over limits.cpuPercent'),
          rssOverheadMb: z.number().int().min(0).max(4096).default(48).describe('RSS allowed on top of limits.memoryMb for the Node runtime'),
        })
        .prefault({}),
      channel: z
        .strictObject({
          messagesPerSecond: z.number().int().min(10).max(1_000_000).default(1000).describe("protocol messages (log, heartbeat, requests, anything) an instance may send the daemon per second (burst: twice that); past it the daemon stops reading the agent's channel for a while, so the agent waits on its writes: nothing is dropped (docs/limits.md)"),
          bytesPerSecond: z.number().int().min(16 * 1024).max(64 * 1024 * 1024).default(1024 * 1024).describe('protocol bytes an instance may send the daemon per second (burst: twice that), paused alike'),
          unreadBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024).describe("bytes the daemon holds for an instance that has not read its channel; past it the instance's events are dropped (counted in its log), past four times it the instance is stopped (docs/limits.md)"),
        })
        .prefault({}),
    })
    .prefault({}),
  sandbox: z
    .strictObject({
      setpriv: z.enum(['auto', 'on', 'off']).default('auto').describe('start process agents under their own uid through setpriv (auto: when the daemon can, i.e. has CAP_SETUID, CAP_SETGID, CAP_SETPCAP and CAP_CHOWN; otherwise process agents are refused unless shareUid)'),
      shareUid: z.boolean().default(false).describe('DEVELOPMENT ONLY: let process and worker agents run under the daemon\'s own uid when it cannot give them theirs (npm start sets it for a non-root developer; doctor fails on it; no image or package sets it)'),
      uidBase: z.number().int().min(1000).max(4_000_000_000).default(61000).describe('first uid handed to agents'),
      uidCount: z.number().int().min(1).max(100_000).default(1000),
    })
    .prefault({}),
  rules: z
    .strictObject({
      maxActionsPerMinute: z.number().int().min(1).max(6000).default(120).describe('actions all rules together may start per minute (each rule also has its maxPerMinute)'),
    })
    .prefault({}),
  dashboard: z
    .strictObject({
      pollMs: z.number().int().min(1000).max(3_600_000).default(10_000).describe('how often agents are asked for snapshots and the dashboard model is refreshed'),
      snapshotTimeoutMs: z.number().int().min(100).max(60_000).default(2000).describe('how long an agent has to answer a snapshot call'),
    })
    .prefault({}),
  events: z
    .strictObject({
      keep: z.number().int().min(100).max(10_000_000).default(10_000).describe('events kept in the event log'),
      commitWithinMs: z
        .number()
        .int()
        .min(0)
        .max(100)
        .default(5)
        .describe('an acknowledged event (events.emit, a webhook) is answered once on disk; what arrives within this many ms shares one fsync (at most 1000/commitWithinMs commits a second: the card wears less, each emit waits up to this long)'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
