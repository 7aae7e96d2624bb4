/** plugins.* and secrets.* operations (DESIGN §12.9, §12.15). */
import * as z from 'zod';
import { defineOp } from '../op';

const name = z.string().min(1).max(140);

export const registryOps = [
  defineOp({
    name: 'plugins.add',
    summary: 'register a plugin folder (copied into the store) under its package name or a given name',
    params: z.strictObject({ path: z.string().min(1).max(4096), name: name.optional() }),
    role: 'admin',
    mutating: true,
    remote: false,
    handler: (p, { services }) => services.installer.addPlugin(p.path, p.name),
  }),
  defineOp({
    name: 'plugins.remove',
    summary: 'unregister a plugin no installed agent uses',
    params: z.strictObject({ name }),
    role: 'admin',
    mutating: true,
    remote: false,
    handler: (p, { services }) => {
      services.installer.removePlugin(p.name);
      return { removed: p.name };
    },
  }),
  defineOp({
    name: 'plugins.list',
    summary: 'list registered plugins',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) =>
      services.store.plugins.list().map((p) => ({ name: p.name, version: p.version, hash: p.hash, source: p.sourcePath, installedAt: p.installedAt })),
  }),
  defineOp({
    name: 'secrets.set',
    summary: 'set a secret that agents granted it get as an env variable',
    params: z.strictObject({ name, value: z.string().max(64 * 1024) }),
    role: 'admin',
    mutating: true,
    remote: false,
    redact: ['value'],
    handler: (p, { services }) => {
      services.store.secrets.set(p.name, p.value, Date.now());
      return { name: p.name };
    },
  }),
  defineOp({
    name: 'secrets.remove',
    summary: 'delete a secret',
    params: z.strictObject({ name }),
    role: 'admin',
    mutating: true,
    remote: false,
    handler: (p, { services }) => {
      services.store.secrets.remove(p.name);
      return { removed: p.name };
    },
  }),
  defineOp({
    name: 'secrets.list',
    summary: 'list secret names (never values)',
    params: z.strictObject({}),
    role: 'admin',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => services.store.secrets.list(),
  }),
];
