/**
 * What a verified webhook becomes on the bus (DESIGN §6): a push from GitHub or Gitea is
 * `git:commit_pushed` with `branch`, `commit`, `repo` (and `pusher`, `tag` when it is a tag);
 * other events of theirs are `hook:<source>.<event>`; a generic hook is `hook:<source>` with its
 * JSON object as data. Data is capped like every event's.
 */
import type http from 'node:http';
import { MAX_EVENT_DATA_BYTES } from '../bus/envelope';
import type { HookKind } from './signature';

export interface HookEvent {
  type: string;
  data: Record<string, unknown>;
}

const header = (headers: http.IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export function deliveryId(kind: HookKind, headers: http.IncomingHttpHeaders): string | undefined {
  const id = kind === 'github' ? header(headers, 'x-github-delivery') : kind === 'gitea' ? header(headers, 'x-gitea-delivery') : (header(headers, 'x-delivery-id') ?? header(headers, 'x-github-delivery') ?? header(headers, 'x-gitea-delivery'));
  return id && /^[A-Za-z0-9_.:-]{1,128}$/.test(id) ? id : undefined;
}

/** The event for a verified body, or a message saying why it cannot be one. */
export function hookEvent(source: string, kind: HookKind, headers: http.IncomingHttpHeaders, body: unknown): HookEvent | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (kind === 'generic') return capped({ type: `hook:${source}`, data: b });
  const name = (header(headers, kind === 'github' ? 'x-github-event' : 'x-gitea-event') ?? '').toLowerCase();
  if (!/^[a-z_]{1,64}$/.test(name)) return `the ${kind === 'github' ? 'X-GitHub-Event' : 'X-Gitea-Event'} header is missing`;
  if (name !== 'push') return capped({ type: `hook:${source}.${name}`, data: { action: typeof b.action === 'string' ? b.action : null, repo: repoName(b) } });
  const ref = typeof b.ref === 'string' ? b.ref : '';
  const repo = repoName(b);
  const commit = typeof b.after === 'string' ? b.after : null;
  const pusher = (b.pusher as { name?: unknown; login?: unknown } | undefined) ?? {};
  const who = typeof pusher.name === 'string' ? pusher.name : typeof pusher.login === 'string' ? pusher.login : null;
  const data: Record<string, unknown> = { branch: ref.startsWith('refs/heads/') ? ref.slice(11) : null, commit, repo, ref, pusher: who, source };
  if (ref.startsWith('refs/tags/')) data.tag = ref.slice(10);
  if (b.deleted === true) data.deleted = true;
  return { type: 'git:commit_pushed', data };
}

function repoName(b: Record<string, unknown>): string | null {
  const r = b.repository as { full_name?: unknown } | undefined;
  return typeof r?.full_name === 'string' ? r.full_name.slice(0, 200) : null;
}

function capped(e: HookEvent): HookEvent | string {
  return Buffer.byteLength(JSON.stringify(e.data)) > MAX_EVENT_DATA_BYTES ? `the payload is over ${MAX_EVENT_DATA_BYTES} bytes of event data` : e;
}
