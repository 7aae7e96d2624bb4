/** The store's repositories, opened once by the composition root and handed to subsystems. */
import type { Logger } from '../log';
import { AgentsRepo } from './agents-repo';
import { AuditRepo } from './audit-repo';
import { openStore, type Db } from './db';
import { EventsRepo } from './events-repo';
import { InstancesRepo } from './instances-repo';
import { PluginsRepo } from './plugins-repo';
import { SecretsRepo } from './secrets-repo';

export interface Store {
  db: Db;
  agents: AgentsRepo;
  plugins: PluginsRepo;
  secrets: SecretsRepo;
  instances: InstancesRepo;
  audit: AuditRepo;
  events: EventsRepo;
  recoveredFrom: string | undefined;
  close(): void;
}

export function createStore(file: string, log: Logger, opts: { keepEvents: number }): Store {
  const opened = openStore(file, log);
  return {
    db: opened.db,
    agents: new AgentsRepo(opened.db),
    plugins: new PluginsRepo(opened.db),
    secrets: new SecretsRepo(opened.db),
    instances: new InstancesRepo(opened.db),
    audit: new AuditRepo(opened.secure),
    events: new EventsRepo(opened.db, opts.keepEvents),
    recoveredFrom: opened.recoveredFrom,
    close: () => opened.close(),
  };
}
