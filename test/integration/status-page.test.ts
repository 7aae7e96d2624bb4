/**
 * The status page end to end in headless Chromium (Debian `chromium`, driven with playwright-core,
 * DESIGN §9): the daemon on the sim board with the example agents; the page shows the agents and
 * HAL readings that change live over SSE; unlocked with the token it spawns and kills an agent;
 * a screenshot is saved under test-output/; any console error or page error fails the test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { describeWith, hasCommand } from '../helpers/system';
import { REPO as ROOT, waitFor } from '../helpers/tmp';

const CHROMIUM = fs.existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';
export const OUTPUT = path.join(ROOT, 'test-output');

describeWith('status page in headless Chromium', [hasCommand('chromium', 'chromium')], () => {
  let d: RunningDaemon;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    d = await startDaemon({ config: { dashboard: { pollMs: 1000 } } });
    for (const a of ['thermostat', 'sensor-logger', 'heartbeat-logger']) expect((await d.cli(['agent', 'add', path.join(ROOT, 'examples/agents', a)])).code).toBe(0);
    for (const a of ['thermostat', 'sensor-logger']) expect((await d.cli(['spawn', a])).code).toBe(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  }, 120_000);

  afterAll(async () => {
    await page?.close();
    await browser?.close();
    await d?.stop();
  });

  it('shows the device, its agents and HAL readings that change live over SSE', async () => {
    await page.goto(`http://${d.http}/`);
    await page.waitForSelector('#conn.ok');
    expect(await page.textContent('#ov-board')).toBe('sim');
    await page.waitForSelector('tr[data-instance^="thermostat-"]');
    await page.waitForSelector('tr[data-instance^="sensor-logger-"] .state-running');
    const readings = (): Promise<string | null> => page.textContent('tr[data-device="climate"] td.readings');
    await waitFor('a climate reading', async () => /temperature \d/.test((await readings()) ?? ''));
    const first = await readings();
    await waitFor('the readings to change over SSE', async () => (await readings()) !== first, 20_000);
    // snapshots and logs stay hidden without the token
    await page.click('tr[data-instance^="thermostat-"]');
    await page.waitForSelector('#agent-detail:not([hidden])');
    expect(await page.textContent('#detail-snapshot')).toBe('unlock to see snapshots');
    expect(await page.isVisible('#spawn-form')).toBe(false);
    expect(problems).toEqual([]);
  }, 60_000);

  it('with the token, spawns and kills an agent from the page; then saves a screenshot', async () => {
    const token = fs.readFileSync(path.join(path.dirname(d.socket), 'control.token'), 'utf8').trim();
    await page.click('#token-button');
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-ok');
    await page.waitForSelector('#toast.show');
    expect(await page.isVisible('#spawn-form')).toBe(false);
    // the daemon's 401 for the wrong token is the one error Chromium logs here, and the one we caused
    expect(problems.splice(0)).toEqual(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    await page.fill('#token-input', token);
    await page.click('#token-ok');
    await page.waitForSelector('#spawn-form', { state: 'visible' });
    // unlocked: the thermostat's snapshot and log appear
    await waitFor('the snapshot', async () => !/unlock|no snapshot/.test((await page.textContent('#detail-snapshot')) ?? ''), 20_000);
    await page.selectOption('#spawn-agent', 'heartbeat-logger');
    await page.click('#spawn-button');
    const row = 'tr[data-instance^="heartbeat-logger-"]';
    await page.waitForSelector(`${row} .state-running`, { timeout: 20_000 });
    const instance = await page.getAttribute(row, 'data-instance');
    expect((await d.json<Array<{ instance: string; state: string }>>(['ps'])).find((x) => x.instance === instance)?.state).toBe('running');
    await page.click(`${row} button[data-kill]`);
    await waitFor('the agent stopped', async () => (await d.json<Array<{ instance: string }>>(['ps'])).every((x) => x.instance !== instance), 20_000);
    await page.waitForSelector(`tr[data-instance="${instance ?? ''}"] button[data-kill]`, { state: 'detached', timeout: 20_000 });
    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'status-page.png'), fullPage: true });
    expect(fs.statSync(path.join(OUTPUT, 'status-page.png')).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
  }, 90_000);

  it('fits a phone: no horizontal scrolling of the page itself', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    phone.on('console', (m) => {
      if (m.type() === 'error') problems.push(`phone console: ${m.text()}`);
    });
    await phone.goto(`http://${d.http}/`);
    await phone.waitForSelector('tr[data-instance^="thermostat-"]');
    // evaluated in the page, where `document` exists
    const overflow = await phone.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow as number).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: path.join(OUTPUT, 'status-page-phone.png') });
    await phone.close();
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows a rule that spawns an agent that is not installed as waiting for it, and a rule error until a later run succeeds', async () => {
    const file = path.join(d.home, 'waiting.yaml');
    fs.writeFileSync(file, 'rules:\n  - { id: ghost, on: "test:ghost", action: "spawn(ghost-agent)" }\n  - { id: stopper, on: "test:stop", mode: parallel, action: "kill(heartbeat-logger)" }\n');
    const applied = await d.cli(['rules', 'apply', file]);
    expect(applied.stderr).toContain('warning: rule ghost (line 2:44): spawns agent "ghost-agent", which is not installed');
    await page.goto(`http://${d.http}/`);
    const status = (rule: string): Promise<string | null> => page.textContent(`tr[data-rule="${rule}"] td.rule-status`);
    await page.waitForSelector('tr[data-rule="ghost"] td.rule-status.status-unavailable', { timeout: 20_000 });
    expect(await status('ghost')).toBe('waiting for agent ghost-agent');
    // nothing of heartbeat-logger runs: the kill fails, and the page shows it in red
    expect((await d.cli(['events', 'emit', 'test:stop'])).code).toBe(0);
    await page.waitForSelector('tr[data-rule="stopper"] td.rule-status.status-error', { timeout: 20_000 });
    expect(await status('stopper')).toMatch(/no running instance or agent "heartbeat-logger"/);
    // with one running, the next run succeeds and the error goes
    const spawned = await d.cli(['spawn', 'heartbeat-logger']);
    expect(spawned.code, spawned.stderr).toBe(0);
    await waitFor('heartbeat-logger running', async () => (await d.json<Array<{ agent: string; state: string }>>(['ps'])).some((x) => x.agent === 'heartbeat-logger' && x.state === 'running'));
    expect((await d.cli(['events', 'emit', 'test:stop'])).code).toBe(0);
    await waitFor('the error to clear', async () => (await status('stopper')) === '', 20_000);
    expect(await page.getAttribute('tr[data-rule="stopper"] td.rule-status', 'class')).not.toContain('status-error');
    expect(await status('ghost')).toBe('waiting for agent ghost-agent');
    expect(problems).toEqual([]);
  }, 60_000);
});
