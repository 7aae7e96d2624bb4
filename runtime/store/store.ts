/** The store's repositories, opened once by the composition root and handed to subsystems. */
import type { Logger } from '../log';
import { AgentsRepo } from './agents-repo';
import { AuditRepo } from './audit-repo';
import { openStore, type Db } from './db';
import { EventsRepo } from './events-repo';
import { EventJournal } from './event-journal';
import { InstancesRepo } from './instances-repo';
import { PluginsRepo } from './plugins-repo';
import { RulesRepo } from './rules-repo';
import { SnapshotsRepo } from './snapshots-repo';
import { CommandsRepo } from './commands-repo';
import { IssuersRepo } from './issuers-repo';
import { OutboxRepo } from './outbox-repo';
import { SecretsRepo } from './secrets-repo';
import { SecureBatch } from './secure-batch';
import { WriteGuard } from './write-guard';

export interface Store {
  db: Db;
  /** write failures (full disk, read-only mount) and the current problem, if any */
  guard: WriteGuard;
  agents: AgentsRepo;
  plugins: PluginsRepo;
  secrets: SecretsRepo;
  instances: InstancesRepo;
  audit: AuditRepo;
  events: EventsRepo;
  /** the event log's and the outbox's writer: one ordered queue, group-committed (issue 17) */
  journal: EventJournal;
  rules: RulesRepo;
  snapshots: SnapshotsRepo;
  /** remote command counters and nonces, on the synchronous=FULL connection */
  commands: CommandsRepo;
  /** issuers rotated by issuers.put, on the synchronous=FULL connection */
  issuers: IssuersRepo;
  outbox: OutboxRepo;
  recoveredFrom: string | undefined;
  readOnly: boolean;
  close(): void;
}

export interface StoreOptions {
  keepEvents: number;
  /** how long an acknowledged event may wait to share its fsync (events.commitWithinMs) */
  commitWithinMs?: number;
}

export function createStore(file: string, log: Logger, opts: StoreOptions): Store {
  const opened = openStore(file, log);
  const guard = new WriteGuard();
  if (opened.readOnly) {
    guard.problem = { kind: 'readonly', message: `${file} is on a read-only filesystem; restart the daemon once it is writable`, since: Date.now() };
    guard.sticky = true;
  }
  const secure = new SecureBatch(opened.secure, guard, (m) => log.error('store', m));
  const events = new EventsRepo(opened.db, opened.secure, opts.keepEvents);
  const outbox = new OutboxRepo(opened.db, guard, opened.secure);
  // RAM while the disk refuses writes: the log's own bound, and the outbox's
  const journal = new EventJournal(events, outbox, secure, { maxPending: Math.max(opts.keepEvents, 10_000), commitWithinMs: opts.commitWithinMs ?? 5 });
  return {
    db: opened.db,
    guard,
    agents: new AgentsRepo(opened.db, guard),
    plugins: new PluginsRepo(opened.db, guard),
    secrets: new SecretsRepo(opened.db, guard),
    instances: new InstancesRepo(opened.db, guard),
    audit: new AuditRepo(opened.secure, secure),
    events,
    journal,
    rules: new RulesRepo(opened.db, guard),
    snapshots: new SnapshotsRepo(opened.db, guard),
    commands: new CommandsRepo(opened.secure, secure),
    issuers: new IssuersRepo(opened.secure, secure),
    outbox,
    recoveredFrom: opened.recoveredFrom,
    readOnly: opened.readOnly === true,
    close: () => {
      try {
        journal.flush();
      } catch (err) {
        log.error('store', `the last events and audit rows were not written: ${(err as Error).message}`);
      }
      opened.close();
    },
  };
}
