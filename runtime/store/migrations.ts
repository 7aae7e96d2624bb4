/**
 * Numbered schema migrations, applied in order by `user_version` (DESIGN §7). Append only:
 * never edit a migration that has shipped. Tables are STRICT; times are Unix milliseconds.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: registry, desired state, runs, audit log, event log
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

  CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT,
    hash TEXT NOT NULL,
    store_path TEXT NOT NULL,
    source_path TEXT NOT NULL,
    driver TEXT NOT NULL,
    manifest TEXT NOT NULL,
    uid INTEGER UNIQUE,
    installed_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE agent_versions (
    id INTEGER PRIMARY KEY,
    agent_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    version TEXT,
    previous_hash TEXT,
    installed_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE plugins (
    name TEXT PRIMARY KEY,
    version TEXT,
    hash TEXT NOT NULL,
    store_path TEXT NOT NULL,
    source_path TEXT NOT NULL,
    installed_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    desired TEXT NOT NULL CHECK (desired IN ('running', 'stopped')),
    state TEXT NOT NULL,
    restarts INTEGER NOT NULL DEFAULT 0,
    os_pid INTEGER,
    os_start_time INTEGER,
    boot_id TEXT,
    exit_code INTEGER,
    exit_signal TEXT,
    reason TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX instances_agent ON instances(agent_id);

  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    os_pid INTEGER,
    exit_code INTEGER,
    exit_signal TEXT,
    reason TEXT
  ) STRICT;
  CREATE INDEX runs_instance ON runs(instance_id);

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    op TEXT NOT NULL,
    params TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied')),
    error_code TEXT
  ) STRICT;

  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    time INTEGER NOT NULL,
    envelope TEXT NOT NULL
  ) STRICT;
  CREATE INDEX events_type ON events(type);
  `,
  // 2: rule sets (each import one row, its rules beside it) and the rule engine's pending state
  `
  CREATE TABLE rule_sets (
    id INTEGER PRIMARY KEY,
    etag TEXT NOT NULL,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    actor TEXT NOT NULL,
    applied_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))
  ) STRICT;
  CREATE UNIQUE INDEX rule_sets_active ON rule_sets(active) WHERE active = 1;

  CREATE TABLE rules (
    set_id INTEGER NOT NULL REFERENCES rule_sets(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    event TEXT NOT NULL,
    condition TEXT,
    action TEXT NOT NULL,
    PRIMARY KEY (set_id, id)
  ) STRICT;

  CREATE TABLE rule_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved_at INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    pending TEXT NOT NULL
  ) STRICT;
  `,
  // 3: the latest state snapshot of each agent, for the dashboard after a restart
  `
  CREATE TABLE agent_snapshots (
    agent_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    snapshot TEXT NOT NULL
  ) STRICT;
  `,
  // 4: remote command replay protection (written on the synchronous=FULL connection)
  `
  CREATE TABLE issuer_counters (
    issuer TEXT PRIMARY KEY,
    last_ts INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE command_nonces (
    issuer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, nonce)
  ) STRICT;
  `,
  // 5: the fleet outbox: events waiting for the broker
  `
  CREATE TABLE fleet_outbox (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 6: issuers rotated by a signed issuers.put (written on the synchronous=FULL connection); a row
  // overrides the config's issuer of the same id, and a revoked row hides it
  `
  CREATE TABLE issuers (
    id TEXT PRIMARY KEY,
    public_key TEXT,
    role TEXT,
    revoked INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
  ) STRICT;
  `,
  // 7 (issue 17): instances that ended by their policy under an older daemon kept desired
  // 'running' and were replayed at every boot. Exited or failed is done; only a run cut by the
  // daemon's own stop ('daemon stopped') is still to resume.
  `
  UPDATE instances SET desired = 'stopped'
  WHERE desired = 'running' AND (state = 'failed' OR (state = 'exited' AND reason IS NOT 'daemon stopped'));
  `,
];
