import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleSet, MAX_RULES_BYTES } from '../../../../runtime/rules/load';
import { FIXTURES } from '../../../helpers/tmp';

/** the seed spec's two rules, verbatim */
const SEED = fs.readFileSync(path.join(FIXTURES, 'rules/seed.yaml'), 'utf8');

function problemsOf(text: string): string {
  try {
    loadRuleSet(text, 'gh.yaml');
  } catch (err) {
    expect(err).toMatchObject({ code: 'OSZ_E_RULES' });
    return (err as Error).message;
  }
  throw new Error('expected OSZ_E_RULES');
}

describe('rules files', () => {
  it("reads the seed's two rules exactly as written", () => {
    const set = loadRuleSet(SEED);
    expect(set.rules.map((r) => [r.id, r.on, r.condition?.source, r.steps])).toEqual([
      ['rule-1', ['git:commit_pushed'], "branch == 'main'", [{ kind: 'spawn', agent: 'code-reviewer-agent' }]],
      ['rule-2', ['alert:server_down'], undefined, [{ kind: 'spawn', agent: 'devops-agent' }]],
    ]);
    expect(set.etag).toMatch(/^[0-9a-f]{16}$/);
    expect(loadRuleSet(SEED).etag).toBe(set.etag);
  });

  it("refuses a spawn env the agents' env policy refuses, when the set is applied", () => {
    const msg = problemsOf(`rules:
  - id: sneaky
    on: ["git:commit_pushed"]
    action: { spawn: code-reviewer-agent, env: { OPENSSL_CONF: ossl.cnf } }
`);
    expect(msg).toContain('env "OPENSSL_CONF" refused: OpenSSL');
    expect(loadRuleSet(`rules:
  - id: fine
    on: ["git:commit_pushed"]
    action: { spawn: code-reviewer-agent, env: { BRANCH: main } }
`).rules).toHaveLength(1);
  });

  it('reads the structured form, durations and steps', () => {
    const set = loadRuleSet(`grants: { actuators: [fan] }
rules:
  - id: hot
    on: ["hal:sensor.temperature"]
    if: "value > 30.0"
    for: 2m
    cooldown: 10m
    mode: queued
    max: 3
    dedup: { key: "device.id", ttl: 1h }
    action:
      steps:
        - hal: { device: fan, command: "on" }
        - delay: 30s
        - { signal: { target: climate-agent, signal: SIGHUP } }
`);
    const r = set.rules[0];
    expect(r).toMatchObject({ id: 'hot', for: 120_000, cooldown: 600_000, mode: 'queued', max: 3, dedup: { ttl: 3_600_000 } });
    expect(r?.steps).toEqual([{ kind: 'hal', device: 'fan', command: 'on' }, { kind: 'delay', ms: 30_000 }, { kind: 'signal', target: 'climate-agent', signal: 'SIGHUP' }]);
  });

  it('reports every problem at once with rule id and line:column', () => {
    const msg = problemsOf(`rules:
  - id: a
    on: "git:commit_pushed"
    if: "branch =="
    action: "spawn(x)"
  - id: a
    on: "Not An Event"
    action: "explode(now)"
  - id: c
    on: "x:y"
    colour: red
    action: { hal: { device: heater, command: "on" } }
  - id: d
    on: "x:y"
    if: "launch(1)"
    debounce: 5s
    throttle: 5s
    for: forever
    action: "spawn(a, b)"
`);
    expect(msg).toContain('gh.yaml: ');
    expect(msg).toContain('the previous rule set stays active');
    expect(msg).toMatch(/rule a \(line 7:9\): rules\.1\.on: /);
    expect(msg).toMatch(/rule c \(line 11:13\): rules\.2: Unrecognized key: "colour"/);
    expect(msg).toMatch(/rule d \(line 18:10\): rules\.3\.for: "forever" is not a duration/);
  });

  it('reports what only shows after the schema: CEL, actions, duplicate ids, grants, contradictions', () => {
    const msg = problemsOf(`rules:
  - id: a
    on: "git:commit_pushed"
    if: "branch =="
    action: "spawn(x)"
  - id: a
    on: "x:y"
    action: "explode(now)"
  - id: c
    on: "x:y"
    if: "launch(1)"
    debounce: 5s
    throttle: 5s
    action: { hal: { device: heater, command: "on" } }
  - id: d
    on: "x:y"
    action: "spawn(a, b)"
`);
    expect(msg).toMatch(/rule a \(line 4:9\): if: Unexpected token: EOF/);
    expect(msg).toMatch(/rule a \(line 6:9\): rule id "a" is used twice/);
    expect(msg).toMatch(/rule a \(line 8:13\): action: unknown action "explode"/);
    expect(msg).toMatch(/rule c \(line 11:9\): if: found no matching overload for 'launch\(int\)'/);
    expect(msg).toMatch(/rule c .*debounce \(trailing\) and throttle \(leading\) contradict/);
    expect(msg).toMatch(/rule c .*commands actuator "heater", which grants.actuators of this rule set does not list/);
    expect(msg).toMatch(/rule d \(line 17:13\): action: spawn\(\) takes 1 argument/);
  });

  it.each([
    ['malformed YAML', 'rules: [\n  - on: "x:y"\n', /line 3:1|Flow sequence/],
    ['a duplicate key', 'rules: []\nrules: []\n', /Map keys must be unique/],
    ['not a rule set', '- 1\n- 2\n', /expected object/],
    ['an alias bomb', `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nrules: []\n`, /alias|Excessive/i],
  ])('refuses %s with a clear message', (_what, text, re) => {
    expect(problemsOf(text)).toMatch(re);
  });

  it('refuses a 10 MB file before parsing it', () => {
    const big = `rules:\n${'  - { on: "x:y", action: "spawn(a)" }\n'.repeat(Math.ceil((10 * 1024 * 1024) / 38))}`;
    expect(problemsOf(big)).toContain(`rules files are at most ${MAX_RULES_BYTES} bytes`);
  });

  it('blocks CEL probes for the host: prototypes, constructors and calls', () => {
    expect(problemsOf('rules:\n  - { on: "x:y", if: "process.exit(1)", action: "spawn(a)" }\n')).toMatch(/no matching overload|exit/);
    expect(problemsOf('rules:\n  - { on: "x:y", if: "require(\'fs\')", action: "spawn(a)" }\n')).toMatch(/no matching overload for 'require/);
  });
});
