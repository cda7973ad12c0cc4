// End-to-end test of the dashboard's directory and admin pages (src/http/dashboard/directory.rs and
// admin.rs) against a running idv server, in a real headless Chromium: an admin creates a reviewer,
// toggles dual review and makes an API key (its secret shown once); finds an identity made through the API
// and opens it; sees a webhook delivery to a receiver this test runs; reads the audit log with itself as
// actor; a reviewer sees no Admin link and gets 403. The API is the oracle. Run it through
// tests/browser/run.sh (IDV_BASE, IDV_KEY, IDV_LIVE_KEY, IDV_USERS, IDV_PASSWORD).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.IDV_BASE || '').replace(/\/+$/, '');
const KEY = process.env.IDV_KEY || '';
const LIVE_KEY = process.env.IDV_LIVE_KEY || '';
const USERS = Object.fromEntries((process.env.IDV_USERS || '').split(',').filter(Boolean)
  .map((s) => s.split(':')).map(([email, role]) => [role, email]));
const PASSWORD = process.env.IDV_PASSWORD || '';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'target', 'browser');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const RUN = Date.now().toString(36);

assert.ok(BASE, 'IDV_BASE must be set (run tests/browser/run.sh)');
assert.ok(KEY && LIVE_KEY, 'IDV_KEY and IDV_LIVE_KEY must be set (run tests/browser/run.sh)');
assert.ok(USERS.admin && USERS.reviewer && PASSWORD, 'IDV_USERS and IDV_PASSWORD must be set (run tests/browser/run.sh)');
const ORIGIN = new URL(BASE).origin;

async function api(method, p, key, body) {
  const res = await fetch(`${BASE}/api/v1${p}`, {
    method,
    headers: { 'X-API-Key': key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text };
}

// ---- a webhook receiver on this machine -----------------------------------------------------------
const received = [];
let receiver;
let receiverUrl;

// ---- browser ----------------------------------------------------------------------------------
let browser;
const foreign = [];
const pageErrors = [];
let adminContext;
let adminPage;
let adminId;
let dualReviewBefore;

async function newContext(width = 1280) {
  const ctx = await browser.newContext({ viewport: { width, height: 900 } });
  ctx.setDefaultTimeout(15000);
  ctx.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u === 'about:blank') return;
    try {
      if (new URL(u.startsWith('blob:') ? u.slice(5) : u).origin !== ORIGIN) foreign.push(u);
    } catch {
      foreign.push(u);
    }
  });
  return ctx;
}

async function newPage(ctx) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return page;
}

async function login(page, email, password = PASSWORD) {
  await page.goto(`${BASE}/dashboard/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login')), page.click('button[type=submit]')]);
  // The landing page is the review queue (another spec's subject); start from the directory.
  const res = await page.goto(`${BASE}/dashboard/identities`);
  assert.equal(res.status(), 200, `${email} is signed in`);
}

async function noSidewaysScroll(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${what}: page is ${scroll}px wide in a ${client}px window`);
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium`);
  fs.mkdirSync(SHOTS, { recursive: true });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/hooks/idv`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  adminContext = await newContext();
  adminPage = await newPage(adminContext);
  await login(adminPage, USERS.admin);
  adminId = await adminPage.getAttribute('#who', 'data-user');
  assert.match(adminId || '', /^orguser_/, 'the header names the signed-in user');
  dualReviewBefore = (await api('GET', '/settings/retention', LIVE_KEY)).body.dual_review;
});

after(async () => {
  // Leave the live settings as found: other specs share this server.
  if (dualReviewBefore !== undefined) {
    const now = await api('GET', '/settings/retention', LIVE_KEY);
    if (now.body && now.body.dual_review !== dualReviewBefore) {
      await api('PATCH', '/settings/retention', LIVE_KEY, { dual_review: dualReviewBefore });
    }
  }
  if (browser) await browser.close();
  if (receiver) await new Promise((resolve) => receiver.close(resolve));
});

test('the admin creates a reviewer, enables dual review and creates an API key whose secret is shown once', async () => {
  const page = adminPage;
  const res = await page.goto(`${BASE}/dashboard/admin`);
  assert.equal(res.status(), 200);
  assert.equal(await page.locator('nav.main-nav a[href="/dashboard/admin"]').count(), 1, 'admins see the Admin link');

  // A reviewer, with a generated password shown once.
  const email = `new.reviewer.${RUN}@example.test`;
  await page.click('#users details.create summary');
  await page.fill('#u-email', email);
  await page.fill('#u-name', 'Nell Reviewer');
  await page.selectOption('#u-role', 'reviewer');
  await Promise.all([page.waitForLoadState('load'), page.click('#users button:has-text("Create user")')]);
  await page.waitForSelector('#secret');
  assert.match(await page.locator('h1').innerText(), /User created/);
  const password = (await page.locator('#secret').innerText()).trim();
  assert.ok(password.length >= 12, 'a generated password');
  await page.click('a:has-text("Back to admin")');
  const row = page.locator(`#users tr[data-user="${email}"]`);
  assert.equal(await row.count(), 1, 'the new user is listed');
  assert.match(await row.innerText(), /reviewer/);
  assert.ok(!(await page.content()).includes(password), 'the password is not shown again');
  const users = await api('GET', '/users', LIVE_KEY);
  const made = users.body.data.find((u) => u.email === email);
  assert.ok(made && made.role === 'reviewer' && made.status === 'active', JSON.stringify(made));

  // The new reviewer can sign in with it.
  const ctx = await newContext();
  const nell = await newPage(ctx);
  await login(nell, email, password);
  assert.equal(await nell.getAttribute('#who', 'data-user'), made.id);
  await ctx.close();

  // Dual review on, seen by the API.
  await page.check('#dual-review');
  await Promise.all([page.waitForURL(/done=review_saved/), page.click('button:has-text("Save review settings")')]);
  assert.match(await page.locator('.flash').innerText(), /Review settings saved/);
  assert.ok(await page.isChecked('#dual-review'));
  assert.equal((await api('GET', '/settings/retention', LIVE_KEY)).body.dual_review, true);

  // An API key with one scope; its secret is shown once and authenticates.
  await page.click('#api-keys details.create summary');
  await page.fill('#k-label', `browser key ${RUN}`);
  await page.selectOption('#k-environment', 'live');
  for (const box of await page.locator('#api-keys input[name="scopes"]').all()) await box.uncheck();
  await page.check('#api-keys input[name="scopes"][value="identities:read"]');
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Create key")')]);
  await page.waitForSelector('#secret');
  const secret = (await page.locator('#secret').innerText()).trim();
  assert.match(secret, /^vk_live_[A-Za-z0-9]+$/);
  assert.equal((await api('GET', '/identities', secret)).status, 200, 'the new key authenticates');
  assert.equal((await api('GET', '/webhooks/endpoints', secret)).status, 403, 'with the chosen scope only');
  await page.goto(`${BASE}/dashboard/admin`);
  assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
  assert.ok((await page.locator('#api-keys').innerText()).includes(`browser key ${RUN}`));
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-admin.png'), fullPage: true });
  await noSidewaysScroll(page, 'admin at 1280');

  // Back off, as the other specs expect the settings they found.
  await page.uncheck('#dual-review');
  await Promise.all([page.waitForURL(/done=review_saved/), page.click('button:has-text("Save review settings")')]);
  assert.equal((await api('GET', '/settings/retention', LIVE_KEY)).body.dual_review, false);
  if (dualReviewBefore) await api('PATCH', '/settings/retention', LIVE_KEY, { dual_review: true });
});

test('an identity created through the API is found by email and opened', async () => {
  const email = `ottilie.${RUN}@example.test`;
  const made = await api('POST', '/identities', LIVE_KEY, {
    external_ref: `browser-admin-${RUN}`, email, first_name: 'Ottilie', last_name: 'Brennan',
    date_of_birth: '1988-03-14', phone: '+447700900456', country: 'GB',
  });
  assert.equal(made.status, 201, made.text);
  const id = made.body.id;

  const page = adminPage;
  await page.goto(`${BASE}/dashboard/identities`);
  await page.fill('#s-email', `wrong.${RUN}@example.test`);
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Search")')]);
  assert.match(await page.locator('main h2').innerText(), /0 matches/);
  assert.ok(!new URL(page.url()).search.includes('@'), 'no searched email in the URL');

  await page.fill('#s-email', email);
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Search")')]);
  assert.match(await page.locator('main h2').innerText(), /1 match/);
  const link = page.locator(`a[href="/dashboard/identities/${id}"]`);
  assert.equal(await link.count(), 1, 'the identity is found');
  await Promise.all([page.waitForURL(`**/dashboard/identities/${id}`), link.click()]);
  const text = await page.locator('main').innerText();
  for (const shown of ['Ottilie', 'Brennan', email, '1988-03-14', 'identity.created']) {
    assert.ok(text.includes(shown), `${shown} on the identity page`);
  }
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-identity.png'), fullPage: true });
  await noSidewaysScroll(page, 'identity at 1280');
});

test('the webhook log shows a delivery to an endpoint created through the API', async () => {
  const ep = await api('POST', '/webhooks/endpoints', KEY, { url: receiverUrl, enabled_events: ['*'], label: `browser ${RUN}` });
  assert.equal(ep.status, 201, ep.text);
  const sent = await api('POST', `/webhooks/endpoints/${ep.body.id}/test`, KEY);
  assert.equal(sent.status, 202, sent.text);
  const deadline = Date.now() + 15000;
  while (!received.some((r) => r.body.includes(sent.body.event_id)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(received.some((r) => r.body.includes(sent.body.event_id)), 'the receiver got the test event');

  // The endpoint is a sandbox one: switch the dashboard to sandbox.
  const page = adminPage;
  await page.goto(`${BASE}/dashboard/webhooks`);
  await Promise.all([page.waitForLoadState('load'), page.click('.env-switch button')]);
  await page.goto(`${BASE}/dashboard/webhooks`);
  assert.equal(await page.getAttribute('body', 'data-environment'), 'sandbox');
  const row = page.locator(`tr[data-delivery="${sent.body.delivery_id}"]`);
  for (let i = 0; i < 30 && !/delivered/.test((await row.count()) ? await row.innerText() : ''); i++) {
    await page.waitForTimeout(300);
    await page.reload();
  }
  const cells = await row.innerText();
  assert.match(cells, /webhook\.test|test/);
  assert.match(cells, /delivered/);
  assert.match(cells, /\b200\b/);
  assert.ok(cells.includes(receiverUrl), cells);
  // Filtered by the endpoint and by status.
  await page.selectOption('#f-endpoint', ep.body.id);
  await page.selectOption('#f-status', 'delivered');
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Filter")')]);
  assert.equal(await row.count(), 1);
  await page.selectOption('#f-status', 'failed');
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Filter")')]);
  assert.equal(await row.count(), 0, 'a delivered delivery is not listed as failed');
  await noSidewaysScroll(page, 'webhooks at 1280');
  await Promise.all([page.waitForLoadState('load'), page.click('.env-switch button')]);
});

test('the audit log page shows the admin as the actor of its changes', async () => {
  const page = adminPage;
  await page.goto(`${BASE}/dashboard/events`);
  assert.equal(await page.getAttribute('body', 'data-environment'), 'live');
  const mine = page.locator('tbody tr', { has: page.locator(`code.actor:text-is("user:${adminId}")`) });
  assert.ok((await mine.count()) >= 3, `rows by ${adminId}`);
  const text = (await mine.allInnerTexts()).join('\n');
  assert.match(text, /settings/, 'the dual-review change');
  assert.match(text, /api_key/, 'the key creation');
  assert.match(text, /user/, 'the user creation');
  assert.ok(!text.includes('Nell Reviewer'), 'no names in the log');
  await page.fill('#e-q', 'api_key');
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Filter")')]);
  const filtered = await page.locator('tbody tr').allInnerTexts();
  assert.ok(filtered.length > 0 && filtered.every((r) => r.includes('api_key')), filtered.join('\n'));
  await noSidewaysScroll(page, 'events at 1280');
});

test('every page fits a tablet (820 px) without sideways scrolling', async () => {
  await adminPage.setViewportSize({ width: 820, height: 1100 });
  for (const p of ['/dashboard/admin', '/dashboard/identities', '/dashboard/webhooks', '/dashboard/events']) {
    const res = await adminPage.goto(`${BASE}${p}`);
    assert.equal(res.status(), 200, p);
    await noSidewaysScroll(adminPage, `${p} at 820`);
    await adminPage.screenshot({ path: path.join(SHOTS, `dashboard-${p.split('/').pop()}-820.png`), fullPage: true });
  }
  const link = adminPage.locator('tbody a[href^="/dashboard/identities/idn_"]').first();
  await Promise.all([adminPage.waitForLoadState('load'), link.click()]);
  await noSidewaysScroll(adminPage, 'an identity at 820');
  await adminPage.setViewportSize({ width: 1280, height: 900 });
});

test('a reviewer sees no Admin link and gets 403 on the admin page', async () => {
  const ctx = await newContext();
  const page = await newPage(ctx);
  await login(page, USERS.reviewer);
  const res = await page.goto(`${BASE}/dashboard/identities`);
  assert.equal(res.status(), 200);
  assert.equal(await page.locator('nav.main-nav a[href="/dashboard/admin"]').count(), 0, 'no Admin link');
  const admin = await page.goto(`${BASE}/dashboard/admin`);
  assert.equal(admin.status(), 403);
  assert.match(await page.locator('main').innerText(), /403/);
  await ctx.close();
});

test('no page requested another origin or threw', () => {
  assert.deepEqual(foreign, [], 'requests to other origins');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
});
