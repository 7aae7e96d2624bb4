// `npm start`: runs the daemon on the simulated board with a git-ignored home in the checkout
// (var/dev), then installs and spawns what examples/dev/demo.yaml lists. Idempotent: run it again
// and the same agents are kept, missing instances spawned. Ctrl-C stops the daemon cleanly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ControlClient } from '../runtime/cli/client';
import { controlSocketPath, tokenPathFor } from '../runtime/config/paths';

const root = path.resolve(import.meta.dirname, '..');
const home = process.env.OPENSTARRYD_HOME ?? path.join(root, 'var/dev');
const configFile = path.join(root, 'examples/dev/openstarryd.yaml');
const demoFile = path.join(root, 'examples/dev/demo.yaml');
const socket = controlSocketPath(home, undefined);
const rel = (p: string): string => path.relative(process.cwd(), p) || '.';
const config = YAML.parse(fs.readFileSync(configFile, 'utf8')) as { http?: { listen?: string } };

console.log(`openstarryd dev: home ${rel(home)}, board sim`);
console.log(`  CLI:    bin/openstarryctl --home ${rel(home)} ps      (or: export OPENSTARRYD_HOME=${rel(home)})`);
console.log(`  page:   http://${config.http?.listen ?? '127.0.0.1:8470'}/  (unlock with the token below)`);
console.log(`  token:  ${rel(tokenPathFor(socket))} (the CLI reads it itself)`);
console.log('');

fs.mkdirSync(home, { recursive: true });
// Its own process group: a Ctrl-C reaches this script once, which forwards one SIGTERM (a second
// Ctrl-C forwards a second, which makes the daemon kill its agents at once).
// A developer who is not root cannot give agents their own uid: the dev daemon then lets process
// agents share the developer's (sandbox.shareUid, development only; doctor fails on it). No image,
// package or example config sets it. Root gets the real sandbox.
const shareUid = process.getuid?.() !== 0;
if (shareUid) console.log('  note:   not root, so process agents share your uid here (sandbox.shareUid); as installed they get their own\n');
const env = shareUid ? { ...process.env, OPENSTARRYD_SANDBOX__SHARE_UID: 'true' } : process.env;
const daemon = spawn(path.join(root, 'bin/openstarryd'), ['--home', home, '--config', configFile], { stdio: 'inherit', detached: true, env });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => daemon.kill('SIGTERM'));
process.on('exit', () => daemon.kill('SIGTERM'));
daemon.on('exit', (code) => process.exit(code ?? 0));

async function waitForSocket(): Promise<ControlClient> {
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(socket) && fs.existsSync(tokenPathFor(socket))) {
      try {
        return await ControlClient.connect(socket);
      } catch {
        /* not ready yet */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the daemon did not open ${socket}`);
}

interface Demo {
  agents?: Array<{ path: string; instances?: number }>;
}

async function applyDemo(): Promise<void> {
  const client = await waitForSocket();
  const demo = YAML.parse(fs.readFileSync(demoFile, 'utf8')) as Demo;
  for (const entry of demo.agents ?? []) {
    const folder = path.resolve(path.dirname(demoFile), entry.path);
    const added = (await client.call('agents.add', { path: folder })) as { id: string; upgradedFrom?: string };
    const live = ((await client.call('agents.list', { agent: added.id })) as Array<{ state: string }>).length;
    const want = entry.instances ?? 1;
    for (let i = live; i < want; i++) {
      const res = (await client.call('agents.spawn', { agent: added.id })) as { instance: string };
      console.log(`demo: spawned ${res.instance}`);
    }
    if (live >= want) console.log(`demo: ${added.id} already has ${live} instance(s)${added.upgradedFrom ? ' (upgraded: restart them to pick it up)' : ''}`);
  }
  client.close();
}

applyDemo().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
});
