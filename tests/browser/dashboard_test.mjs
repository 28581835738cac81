// The dashboard in a real browser: Debian's chromium, headless, driven by
// playwright-core, against foreman and the fake Ollama target.
// usage: node dashboard_test.mjs FOREMAN_BIN FAKE_TARGET_BIN WORK_DIR [SCREENSHOT.png]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [foremanBin, fakeBin, workRoot, screenshotPath] = process.argv.slice(2);
const adminKey = 'ops-key-0123456789ab';
const children = [];

/// Starts a program and resolves with the host:port it prints after `marker`.
function startListening(bin, args, env, marker) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    const look = (chunk) => {
      seen += chunk;
      const match = seen.match(new RegExp(marker + '(\\S+)'));
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(bin + ' exited with ' + code + ':\n' + seen)));
  });
}

async function startForeman(dir, extraEnv = {}) {
  const target = await startListening(fakeBin, ['--listen', '127.0.0.1:0', '--token-ms', '150'],
                                      {}, 'fake-ollama listening on ');
  const address = await startListening(foremanBin, [], {
    FOREMAN_LISTEN: '127.0.0.1:0', FOREMAN_OLLAMA_URL: 'http://' + target,
    FOREMAN_DB: join(dir, 'jobs.db'), FOREMAN_EMBED_MODEL: 'all-minilm',
    FOREMAN_EVENT_STATS: '1s', FOREMAN_INVENTORY_POLL: '500ms', FOREMAN_SHUTDOWN_GRACE: '0',
    ...extraEnv,
  }, 'listening on ');
  return 'http://' + address;
}

async function submit(base, model, headers = {}, { content = 'hi', webhook } = {}) {
  const job = { kind: 'chat', model, payload: { messages: [{ role: 'user', content }] } };
  if (webhook) job.state_webhook_url = webhook;
  const res = await fetch(base + '/jobs', {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(job),
  });
  const body = await res.text();
  assert.equal(res.status, 202, body);
  return JSON.parse(body).id;
}

/// A webhook receiver on loopback that answers 204 to everything.
function startReceiver() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ url: 'http://127.0.0.1:' + server.address().port + '/hook', close: () => server.close() });
  }));
}

async function jobState(base, id, headers = {}) {
  return (await (await fetch(base + '/jobs/' + id, { headers })).json()).state;
}

async function until(condition, what, limitMs = 20000) {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('timed out waiting for ' + what);
}

async function openPage(browser, base) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push('console: ' + message.text());
  });
  page.on('pageerror', (err) => problems.push('page error: ' + err.message));
  await page.goto(base + '/ui');
  return { page, problems };
}

const jobRow = (id) => '#jobs-table tbody tr[data-job-id="' + id + '"]';

/// Pixels of a chart's canvas drawn in a series' colour (not only the axes).
function seriesPixels(page, chartId, rgb) {
  return page.evaluate(([id, [r, g, b]]) => {
    const canvas = document.querySelector('#' + id + ' canvas');
    if (!canvas || !canvas.width) return 0;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4)
      if (Math.abs(data[i] - r) < 8 && Math.abs(data[i + 1] - g) < 8 && Math.abs(data[i + 2] - b) < 8 && data[i + 3] > 200) ++n;
    return n;
  }, [chartId, rgb]);
}

async function withoutKeys(browser, dir) {
  const base = await startForeman(dir);
  const { page, problems } = await openPage(browser, base);
  await page.waitForSelector('#connection:text("live")');

  const receiver = await startReceiver();
  const first = await submit(base, 'llama3.2', {}, { webhook: receiver.url });
  await page.waitForSelector(jobRow(first), { timeout: 2000 });
  console.log('ok - a job submitted through the API appears within 2 s');
  await page.waitForSelector(jobRow(first) + ' .state-done', { timeout: 20000 });
  console.log('ok - its state reaches done without a reload');

  // One job holds the worker; the next waits in the queue and is cancelled.
  const running = await submit(base, 'qwen2.5');
  const queued = await submit(base, 'mistral');
  const cancel = page.locator('#queue-groups button[aria-label="Cancel job ' + queued + '"]');
  await cancel.waitFor({ timeout: 5000 });
  assert.equal(await jobState(base, queued), 'queued');
  await cancel.focus();
  await page.keyboard.press('Enter');
  await until(async () => (await jobState(base, queued)) === 'cancelled', 'the cancelled job');
  await page.waitForSelector(jobRow(queued) + ' .state-cancelled', { timeout: 5000 });
  console.log('ok - a queued job cancelled from the page ends cancelled in the API');

  for (const model of ['llama3.2', 'mistral', 'qwen2.5']) await submit(base, model, { 'X-Foreman-Client': 'agent-' + model });
  await until(async () => (await jobState(base, running)) === 'done', 'the running job');
  let drawn = [];
  await until(async () => {
    drawn = [await seriesPixels(page, 'chart-throughput', [26, 127, 55]),
             // Models loaded as often in the same minute share a point: the
             // last one's colour (of the first three series) covers the rest.
             (await seriesPixels(page, 'chart-loads', [11, 92, 173]))
               + (await seriesPixels(page, 'chart-loads', [180, 35, 24]))
               + (await seriesPixels(page, 'chart-loads', [26, 127, 55])),
             await seriesPixels(page, 'chart-waits', [11, 92, 173])];
    return drawn[0] > 20 && drawn[1] > 5 && drawn[2] > 20;
  }, 'the charts to draw their series', 20000).catch((err) => {
    throw new Error(err.message + ' (pixels of throughput, loads, waits: ' + drawn + ')');
  });
  console.log('ok - the charts render their series');

  // 150 ms a token: "llama3.2 says:" and twenty words stream for about 3 s.
  const words = Array.from({ length: 20 }, (_, i) => 'w' + i).join(' ');
  await submit(base, 'llama3.2', {}, { content: words });
  await page.waitForSelector('#running-job:text-matches("· [1-9][0-9]* tokens$")', { timeout: 20000 });
  console.log('ok - the running job shows the tokens streamed so far');

  // The job detail opens from the keyboard.
  await page.locator(jobRow(first)).focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail:not([hidden]) #detail-artifacts button');
  console.log('ok - the job detail lists its artifacts');
  // Its webhook events went out before the detail opened: queued, loading,
  // working, done, each delivered at once.
  const deliveries = page.locator('#detail-webhooks tbody tr');
  await until(async () => (await deliveries.count()) === 4, 'the four deliveries in the detail');
  assert.deepEqual(await deliveries.locator('td:nth-child(4)').allTextContents(),
                   ['delivered', 'delivered', 'delivered', 'delivered']);
  assert.deepEqual(await deliveries.locator('td:nth-child(5)').allTextContents(),
                   ['204', '204', '204', '204']);
  console.log('ok - the job detail lists its webhook deliveries');
  receiver.close();
  if (screenshotPath) {
    await page.locator('#detail-close').click();
    await page.screenshot({ path: screenshotPath, fullPage: true });
  }
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await phone.goto(base + '/ui');
  await phone.waitForSelector(jobRow(first));
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, 'the page is wider than a phone by ' + overflow + ' px');
  console.log('ok - the page fits a phone');
  assert.deepEqual(problems, []);
  console.log('ok - no console errors');
}

async function withKeys(browser, dir) {
  const base = await startForeman(dir, { FOREMAN_API_KEYS: adminKey + ':admin' });
  const admin = { Authorization: 'Bearer ' + adminKey };
  const id = await submit(base, 'llama3.2', admin);
  // It runs before the page opens: only the charts' history can show it.
  await until(async () => (await jobState(base, id, admin)) === 'done', 'the job before the page');
  const { page, problems } = await openPage(browser, base);
  await page.waitForSelector('#key-form:not([hidden])');
  assert.equal(await page.locator('#dashboard').isHidden(), true);
  assert.equal(await page.locator(jobRow(id)).count(), 0);
  console.log('ok - with keys the page shows no data before a key is entered');
  await page.fill('#key-input', adminKey);
  await page.keyboard.press('Enter');
  await page.waitForSelector(jobRow(id), { timeout: 5000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('foreman-key')), adminKey);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  console.log('ok - after the key it shows the jobs, keeping the key in session storage only');
  // Empty bars draw a baseline in the series' colour, so the waits chart's
  // one job is read from its data.
  let drawn = [];
  await until(async () => {
    drawn = [await seriesPixels(page, 'chart-loads', [11, 92, 173]),
             await page.evaluate(() => charts.waits.data[1].reduce((sum, n) => sum + n, 0))];
    return drawn[0] > 5 && drawn[1] === 1;
  }, 'the charts to show the hour before the page opened').catch((err) => {
    throw new Error(err.message + ' (pixels of loads, jobs in the waits chart: ' + drawn + ')');
  });
  console.log('ok - the charts start with the hour before the page opened');
  assert.deepEqual(problems, []);
}

const dir = mkdtempSync(join(workRoot, 'dashboard-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  await withoutKeys(browser, mkdtempSync(join(dir, 'open-')));
  for (const child of children.splice(0)) child.kill('SIGTERM');
  await withKeys(browser, mkdtempSync(join(dir, 'keys-')));
} finally {
  await browser.close();
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
