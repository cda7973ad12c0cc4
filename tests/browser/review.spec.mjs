// End-to-end test of the reviewer dashboard's queue and case pages (src/http/dashboard/review/) against a
// running idv server, in a real headless Chromium. Live sessions that asked for a face match go to review
// (no face provider is configured), so they are made through the API: create, upload, submit. Then
// reviewers sign in through the login form and decide them; the API must agree. Run it through
// tests/browser/run.sh, which sets IDV_BASE, IDV_LIVE_KEY, IDV_USERS and IDV_PASSWORD.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.IDV_BASE || '').replace(/\/+$/, '');
const LIVE_KEY = process.env.IDV_LIVE_KEY || '';
const SANDBOX_KEY = process.env.IDV_KEY || '';
const USERS = (process.env.IDV_USERS || '').split(',').filter(Boolean).map((s) => {
  const [email, role] = s.split(':');
  return { email, role };
});
const PASSWORD = process.env.IDV_PASSWORD || '';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOC_SHOTS = path.join(ROOT, 'docs', 'screenshots');
const SHOTS = path.join(ROOT, 'target', 'browser');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

assert.ok(BASE, 'IDV_BASE must be set (run tests/browser/run.sh)');
assert.ok(LIVE_KEY, 'IDV_LIVE_KEY must be set (run tests/browser/run.sh)');
assert.ok(PASSWORD, 'IDV_PASSWORD must be set (run tests/browser/run.sh)');
const ORIGIN = new URL(BASE).origin;
const REVIEWER = USERS.find((u) => u.role === 'reviewer');
const SENIOR = USERS.find((u) => u.role === 'senior_reviewer');
assert.ok(REVIEWER && SENIOR, `IDV_USERS needs a reviewer and a senior_reviewer: ${process.env.IDV_USERS}`);

// ---- images: small distinct PNGs (distinct, so image hashes do not call them duplicates) -------------
const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(w, h, px) {
  const stride = w * 3 + 1;
  const raw = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * stride + 1 + x * 3;
      const [r, g, b] = px(x, y);
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** A card-like document front: a tinted card with a photo box and text lines, varied by `seed`. */
function front(seed) {
  const tint = [[214, 228, 245], [236, 222, 240], [222, 240, 226], [245, 232, 214]][seed % 4];
  return png(320, 200, (x, y) => {
    if (x < 8 || y < 8 || x > 311 || y > 191) return [60, 80, 120];
    if (x > 20 && x < 100 && y > 40 && y < 150) return ((x + seed * 7) >> 3) % 2 ? [170, 140, 120] : [150, 120, 100];
    if (x > 115 && x < 290 && (y - 50 - seed) % 22 < 6 && y > 45 && y < 150) return [70, 70, 90];
    if (y > 160 && y < 182 && x > 20 && x < 300) return (x + y + seed) % 7 < 3 ? [20, 20, 20] : [240, 240, 240];
    return tint;
  });
}
/** A selfie-like picture: a face-coloured oval over a background of coarse blocks that differ by `seed`
 * (plain discs would look alike to the perceptual image hash, which would call them the same face). */
function selfie(seed) {
  let state = 2654435761 * (seed + 1) >>> 0;
  const cells = Array.from({ length: 12 * 15 }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  });
  return png(192, 240, (x, y) => {
    const inFace = ((x - 96) / 58) ** 2 + ((y - 112) / 74) ** 2 < 1;
    const v = cells[Math.floor(y / 16) * 12 + Math.floor(x / 16)];
    if (inFace) return [224, 176, 146 - (v >> 4)];
    return seed % 2 ? [v, 90, 255 - v] : [40, v, 120];
  });
}

// ---- API helpers (live key) -----------------------------------------------------------------------
async function api(method, p, body, key = LIVE_KEY) {
  const res = await fetch(BASE + p, {
    method,
    headers: { 'X-API-Key': key, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(20000),
  }).catch((e) => assert.fail(`${method} ${p}: ${e.message}`));
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, json, text };
}
async function upload(sessionId, docType, bytes) {
  const form = new FormData();
  form.append('document_type', docType);
  form.append('file', new Blob([bytes], { type: 'image/png' }), `${docType}.png`);
  const res = await fetch(`${BASE}/api/v1/sessions/${sessionId}/documents`, {
    method: 'POST', headers: { 'X-API-Key': LIVE_KEY }, body: form, signal: AbortSignal.timeout(20000),
  }).catch((e) => assert.fail(`upload ${docType}: ${e.message}`));
  assert.equal(res.status, 201, `upload ${docType}: ${await res.text()}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(sessionId, wanted) {
  let last;
  for (let i = 0; i < 200; i++) {
    last = await api('GET', `/api/v1/sessions/${sessionId}`);
    if (wanted.includes(last.json?.status)) return last.json;
    await sleep(100);
  }
  assert.fail(`session ${sessionId} never reached ${wanted}: ${last?.text}`);
}
/** A live session with a document front (and a selfie unless `checks` leaves face matching out), submitted. */
async function submitted(person, seed, { checks, selfiePhoto = true } = {}) {
  const created = await api('POST', '/api/v1/sessions', { ...person, ...(checks ? { checks } : {}) });
  assert.equal(created.status, 201, `create session: ${created.text}`);
  const id = created.json.id;
  await upload(id, 'id_front', front(seed));
  if (selfiePhoto) await upload(id, 'selfie', selfie(seed));
  const sub = await api('POST', `/api/v1/sessions/${id}/submit`, {});
  assert.equal(sub.status, 202, `submit: ${sub.text}`);
  return id;
}

// ---- a webhook receiver on this machine -------------------------------------------------------------
const received = [];
let receiver;
function startReceiver() {
  return new Promise((resolve) => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        try { received.push(JSON.parse(body)); } catch { received.push({ raw: body }); }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      });
    });
    receiver.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${receiver.address().port}/hooks`));
  });
}
async function waitForWebhook(pred, what) {
  for (let i = 0; i < 150; i++) {
    const hit = received.find(pred);
    if (hit) return hit;
    await sleep(100);
  }
  assert.fail(`no webhook ${what}; got ${JSON.stringify(received.map((r) => r.type ?? r.event ?? r))}`);
}

// ---- browser ---------------------------------------------------------------------------------------
let browser;
let userDataDir;
const requests = [];
const pageErrors = [];
const cspErrors = [];

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium`);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idv-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 800 },
  });
  browser.setDefaultTimeout(15000);
  browser.on('request', (r) => requests.push(r.url()));
  browser.on('page', watch);
  for (const p of browser.pages()) watch(p);
});

after(async () => {
  if (browser) await browser.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (receiver) receiver.close();
});

function watch(page) {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) cspErrors.push(m.text());
  });
}

async function login(page, user) {
  await page.goto(`${BASE}/dashboard/login`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/dashboard\/cases/);
  return page.locator('#who').getAttribute('data-user');
}

async function logout(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/dashboard\/login/);
}

/** Whether an audit actor is the org user `id`: `orguser_…`, or `user:orguser_…` as the spec writes it. */
const isActor = (actor, id) => actor === id || actor === `user:${id}`;

/** The pages so far talked to this server only, threw nothing and broke no CSP rule. */
function assertClean() {
  const foreign = requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    try { return new URL(u).origin !== ORIGIN; } catch { return true; }
  });
  assert.deepEqual(foreign, [], 'requests to other origins');
  assert.ok(requests.length > 10, 'the request log sees the pages');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
  assert.deepEqual(cspErrors, [], 'Content-Security-Policy violations');
}

/** Nothing scrolls sideways at the page's current size. */
async function noSidewaysScroll(page, what) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `${what}: the page is ${scroll}px wide in a ${client}px window`);
}

async function atSizes(page, what) {
  for (const [width, height] of [[1280, 800], [820, 1180]]) {
    await page.setViewportSize({ width, height });
    await noSidewaysScroll(page, `${what} at ${width}x${height}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `dashboard-${what.replace(/ /g, '-')}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

test('reviewers claim, open documents, decide, and dual review needs a second reviewer', { timeout: 180000 }, async (t) => {
  // Arrange, through the API: live sessions that go to review.
  t.diagnostic('Arrange, through the API: live sessions that go to review.');
  let settings = await api('PATCH', '/api/v1/settings/retention', { dual_review: false });
  assert.equal(settings.status, 200, settings.text);

  const noFace = ['document_ocr', 'document_expiration', 'age_verification', 'duplicate_detection', 'risk_assessment'];
  const earlier = await submitted({ external_ref: 'kj-2019', first_name: 'Katherine', last_name: 'Johnson',
    date_of_birth: '1958-08-26', country: 'US' }, 3, { checks: noFace, selfiePhoto: false });
  assert.equal((await waitFor(earlier, ['completed', 'under_review', 'failed'])).status, 'completed');

  const a = await submitted({ external_ref: 'cust-1001', first_name: 'Grace', last_name: 'Hopper',
    date_of_birth: '1976-12-09', country: 'US', email: 'grace.hopper@example.org' }, 0);
  const b = await submitted({ external_ref: 'cust-1002', first_name: 'Katherine', last_name: 'Johnson',
    date_of_birth: '1958-08-26', country: 'US' }, 1);
  const c = await submitted({ external_ref: 'cust-1003', first_name: 'Alan', last_name: 'Turing',
    date_of_birth: '1982-06-23', country: 'GB' }, 2);
  const d = await submitted({ external_ref: 'cust-1004', first_name: 'Mary', last_name: 'Jackson',
    date_of_birth: '1981-04-09', country: 'US' }, 4);
  const e = await submitted({ external_ref: 'cust-1005', first_name: 'Dorothy', last_name: 'Vaughan',
    date_of_birth: '1990-09-20', country: 'US' }, 5);
  const sessions = {};
  for (const id of [a, b, c, d, e]) {
    const s = await waitFor(id, ['completed', 'under_review', 'failed']);
    assert.equal(s.status, 'under_review', `a live face match without a provider goes to review: ${JSON.stringify(s)}`);
    sessions[id] = s;
  }
  const caseA = sessions[a].case_id;
  const caseB = sessions[b].case_id;
  const caseD = sessions[d].case_id;
  const caseE = sessions[e].case_id;
  assert.ok(caseA && caseB, 'the sessions have cases');

  // The pages need a sign-in.
  t.diagnostic('The pages need a sign-in.');
  const page = await browser.newPage();
  await page.goto(`${BASE}/dashboard/cases`);
  await page.waitForURL(/\/dashboard\/login/);

  // Ada signs in through the form and sees the queue.
  t.diagnostic('Ada signs in through the form and sees the queue.');
  const ada = await login(page, REVIEWER);
  assert.match(ada, /^orguser_/);
  const unassigned = page.locator('[data-tab="unassigned"] .count');
  assert.equal(await unassigned.innerText(), '5', 'five cases wait unassigned');
  assert.equal(await page.locator('#queue tr[data-case]').count(), Number(await unassigned.innerText()));
  assert.equal(await page.locator(`#queue tr[data-case="${caseA}"] [data-sla]`).getAttribute('data-sla'), 'green');
  await atSizes(page, 'queue');

  // "n" claims the next case: the oldest, FIFO.
  t.diagnostic('"n" claims the next case: the oldest, FIFO.');
  await page.locator('h1').click();
  await page.keyboard.press('n');
  await page.waitForURL(new RegExp(`/dashboard/cases/${caseA}\\?done=claimed`));
  assert.match(await page.locator('#flash').innerText(), /You claimed this case/);
  assert.match(await page.locator('#assignment').innerText(), /you/);

  // The case page shows the person's data, every check with its sub-checks, and the document images.
  t.diagnostic('The case page shows the person\'s data, every check with its sub-checks, and the document images.');
  assert.equal(await page.locator('#person [data-field="last_name"]').innerText(), 'Hopper');
  const face = page.locator('#checks [data-check="face_match"]');
  assert.ok(await face.count() === 1, 'the face match check is listed');
  assert.ok(await page.locator('#checks .subchecks li').count() >= 3, 'sub-checks are listed with their reasons');
  const img = page.locator('#documents img').first();
  await img.waitFor();
  const src = await img.getAttribute('src');
  assert.match(src, new RegExp(`^/dashboard/cases/${caseA}/documents/`));
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  const doc = await page.request.get(BASE + src);
  assert.equal(doc.status(), 200);
  assert.match(doc.headers()['content-type'], /^image\//);
  assert.equal(doc.headers()['cache-control'], 'no-store');
  const other = await page.request.get(`${BASE}/dashboard/cases/case_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/documents/id_front`);
  assert.equal(other.status(), 404, 'no document for a case that is not this environment\'s');
  await atSizes(page, 'case page');

  // A note, then approve (single review).
  t.diagnostic('A note, then approve (single review).');
  await page.getByLabel('Add a note').fill('Selfie compared with the document photo by hand.');
  await page.getByRole('button', { name: 'Add note' }).click();
  await page.waitForURL(/done=noted/);
  assert.match(await page.locator('#notes').innerText(), /compared with the document photo/);
  await page.locator('#approve').click();
  await page.waitForURL(/done=approve/);
  assert.match(await page.locator('#flash').innerText(), /Approved/);
  assert.equal(await page.locator('.page-head [data-status]').first().getAttribute('data-status'), 'approved');

  // Ada escalates one case and keeps another claimed.
  t.diagnostic('Ada escalates one case and keeps another claimed.');
  await page.goto(`${BASE}/dashboard/cases/${caseD}`);
  await page.locator('#claim').click();
  await page.waitForURL(/done=claimed/);
  await page.locator('.escalate summary').click();
  await page.getByLabel('To (team or person, optional)').fill('Compliance team');
  await page.locator('#e-reason').fill('The selfie looks older than the document photo.');
  await page.locator('#escalate').click();
  await page.waitForURL(/done=escalated/);
  assert.equal(await page.locator('.page-head [data-status]').first().getAttribute('data-status'), 'escalated');
  await page.goto(`${BASE}/dashboard/cases/${caseE}`);
  await page.locator('#claim').click();
  await page.waitForURL(/done=claimed/);
  await page.goto(`${BASE}/dashboard/cases?tab=mine`);
  assert.deepEqual(await page.locator('#queue tr[data-case]').evaluateAll((rows) => rows.map((r) => r.dataset.case)), [caseE],
    'mine: the claimed case only (the approved one is decided; escalating released the other)');
  await page.goto(`${BASE}/dashboard/cases?tab=all`);
  await page.getByLabel('Status').selectOption('escalated');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/status=escalated/);
  assert.deepEqual(await page.locator('#queue tr[data-case]').evaluateAll((rows) => rows.map((r) => r.dataset.case)), [caseD]);

  // Dual review on: Ada's decision on the next case is a recommendation.
  t.diagnostic('Dual review on: Ada\'s decision on the next case is a recommendation.');
  settings = await api('PATCH', '/api/v1/settings/retention', { dual_review: true });
  assert.equal(settings.json?.dual_review, true, settings.text);
  await page.goto(`${BASE}/dashboard/cases`);
  await page.locator('#claim-next').click();
  await page.waitForURL(new RegExp(`/dashboard/cases/${caseB}\\?done=claimed`));
  assert.match(await page.locator('#graph').innerText(), /kj-2019/, 'the duplicate identity is in the graph');
  await page.locator('h1').click();
  await page.keyboard.press('a');
  await page.waitForURL(/done=approve/);
  assert.match(await page.locator('#flash').innerText(), /first review/);
  assert.equal(await page.locator('.page-head [data-status]').first().getAttribute('data-status'), 'pending_second_review');
  assert.match(await page.locator('#recommendation').innerText(), /approved by you/);

  // The same reviewer cannot make the second review: the refusal is on the page, as a 409.
  t.diagnostic('The same reviewer cannot make the second review: the refusal is on the page, as a 409.');
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/dashboard/cases/${caseB}/approve`)),
    page.locator('#approve').click(),
  ]);
  assert.equal(refused.status(), 409);
  await page.locator('#flash.error').waitFor();
  assert.match(await page.locator('#flash.error').innerText(), /different reviewer/);
  assert.equal(await page.locator('.page-head [data-status]').first().getAttribute('data-status'), 'pending_second_review');

  // Grace, a second reviewer, completes it.
  t.diagnostic('Grace, a second reviewer, completes it.');
  await logout(page);
  const grace = await login(page, SENIOR);
  assert.notEqual(grace, ada);
  await page.goto(`${BASE}/dashboard/cases?tab=all`);
  assert.equal(await page.locator('[data-tab="pending_second_review"] .count').innerText(), '1');
  await page.screenshot({ path: path.join(DOC_SHOTS, 'dashboard-queue.png'), animations: 'disabled' });
  await page.goto(`${BASE}/dashboard/cases/${caseB}`);
  assert.match(await page.locator('#recommendation').innerText(), /First review: approved by ada/);
  await page.screenshot({ path: path.join(DOC_SHOTS, 'dashboard-case.png'), animations: 'disabled' });
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-case-full.png'), fullPage: true });
  await page.locator('#approve').click();
  await page.waitForURL(/done=approve/);
  assert.match(await page.locator('#flash').innerText(), /Approved/);
  assert.equal(await page.locator('.page-head [data-status]').first().getAttribute('data-status'), 'approved');

  assertClean();
  await page.close();

  // The API agrees: sessions, results, identities, cases, the audit log and the webhooks.
  t.diagnostic('The API agrees: sessions, results, identities, cases, the audit log and the webhooks.');
  for (const [session, caseId, ref] of [[a, caseA, 'cust-1001'], [b, caseB, 'cust-1002']]) {
    const s = await api('GET', `/api/v1/sessions/${session}`);
    assert.equal(s.json.status, 'completed', s.text);
    assert.equal(s.json.case_status, 'approved', s.text);
    const r = await api('GET', `/api/v1/sessions/${session}/result`);
    assert.equal(r.json.status, 'approved', r.text);
    const i = await api('GET', `/api/v1/identities/${ref}`);
    assert.equal(i.json.status, 'approved', i.text);
    const k = await api('GET', `/api/v1/cases/${caseId}`);
    assert.equal(k.json.status, 'approved', k.text);
  }
  const caseAJson = (await api('GET', `/api/v1/cases/${caseA}`)).json;
  assert.equal(caseAJson.decided_by, ada);
  const caseBJson = (await api('GET', `/api/v1/cases/${caseB}`)).json;
  assert.equal(caseBJson.decided_by, grace);
  assert.equal(caseBJson.recommendation?.reviewer_id, ada, JSON.stringify(caseBJson));

  const eventsA = await api('GET', `/api/v1/events?resource_id=${caseA}&limit=100`);
  assert.equal(eventsA.status, 200, eventsA.text);
  const approvedA = eventsA.json.data.find((e) => e.type === 'case.approved');
  assert.ok(approvedA, `case.approved in ${eventsA.text}`);
  assert.ok(isActor(approvedA.actor, ada), `${approvedA.actor} is ${ada}`);
  assert.ok(eventsA.json.data.some((e) => e.type === 'case.claimed' && isActor(e.actor, ada)), eventsA.text);
  assert.ok(eventsA.json.data.some((e) => e.type === 'case.note_added' && isActor(e.actor, ada)), eventsA.text);
  const eventsB = await api('GET', `/api/v1/events?resource_id=${caseB}&limit=100`);
  const byB = eventsB.json.data.map((e) => `${e.type}:${e.actor}`);
  assert.ok(eventsB.json.data.some((e) => e.type === 'case.recommended' && isActor(e.actor, ada)),
    `Ada's recommendation is in the log: ${byB}`);
  assert.ok(eventsB.json.data.some((e) => e.type === 'case.approved' && isActor(e.actor, grace)), `${byB}`);
  const sessionEvents = await api('GET', `/api/v1/events?resource_id=${b}&limit=100`);
  assert.ok(sessionEvents.json.data.some((e) => isActor(e.actor, grace)), `the session's completion is Grace's: ${sessionEvents.text}`);

  await api('PATCH', '/api/v1/settings/retention', { dual_review: false });
});

test('in the sandbox, a decision on the dashboard reaches the webhooks with the reviewer', { timeout: 120000 }, async (t) => {
  // Live webhook endpoints must use https; a sandbox endpoint may be this machine's plain http receiver.
  t.diagnostic('A sandbox webhook endpoint and a sandbox session in review.');
  const hookUrl = await startReceiver();
  const ep = await api('POST', '/api/v1/webhooks/endpoints', { url: hookUrl, description: 'review browser test' }, SANDBOX_KEY);
  assert.equal(ep.status, 201, `webhook endpoint: ${ep.text}`);
  const created = await api('POST', '/api/v1/sessions', { external_ref: 'sandbox-review-1', first_name: 'Mary',
    last_name: 'Jackson', date_of_birth: '1981-04-09' }, SANDBOX_KEY);
  assert.equal(created.status, 201, created.text);
  const session = created.json.id;
  const sim = await api('POST', `/api/v1/sessions/${session}/simulate`, { action: 'require-review' }, SANDBOX_KEY);
  assert.equal(sim.status, 200, sim.text);
  const caseId = (await api('GET', `/api/v1/sessions/${session}`, null, SANDBOX_KEY)).json.case_id;
  assert.ok(caseId, 'the sandbox session has a case');

  t.diagnostic('The reviewer switches to sandbox and rejects the case.');
  const page = await browser.newPage();
  const ada = await login(page, REVIEWER);
  await page.getByRole('button', { name: 'switch to sandbox' }).click();
  await page.waitForURL(/\/dashboard\/cases/);
  assert.equal(await page.locator('body').getAttribute('data-environment'), 'sandbox');
  await page.goto(`${BASE}/dashboard/cases/${caseId}`);
  await page.locator('#claim').click();
  await page.waitForURL(/done=claimed/);
  await page.getByLabel('Rejection reason (when rejecting)').fill('The document photo does not show the same person.');
  await page.locator('#reject').click();
  await page.waitForURL(/done=reject/);
  assert.match(await page.locator('#flash').innerText(), /Rejected/);
  // The queue is empty now: claim-next says so.
  t.diagnostic('The queue is empty now: claim-next says so.');
  await page.goto(`${BASE}/dashboard/cases`);
  await page.locator('#claim-next').click();
  await page.waitForURL(/done=empty/);
  assert.match(await page.locator('#flash').innerText(), /queue is empty/);
  await page.getByRole('button', { name: 'switch to live' }).click();
  await page.locator('body[data-environment="live"]').waitFor();
  await page.close();
  assertClean();

  t.diagnostic('The API, the audit log and the webhooks agree.');
  const s = await api('GET', `/api/v1/sessions/${session}`, null, SANDBOX_KEY);
  assert.equal(s.json.status, 'completed', s.text);
  assert.equal(s.json.case_status, 'rejected', s.text);
  const r = await api('GET', `/api/v1/sessions/${session}/result`, null, SANDBOX_KEY);
  assert.equal(r.json.status, 'rejected', r.text);
  const i = await api('GET', '/api/v1/identities/sandbox-review-1', null, SANDBOX_KEY);
  assert.ok(['rejected', 'failed'].includes(i.json.status), i.text);
  const events = await api('GET', `/api/v1/events?resource_id=${caseId}&limit=100`, null, SANDBOX_KEY);
  assert.ok(events.json.data.some((e) => e.type === 'case.rejected' && isActor(e.actor, ada)), events.text);

  const text = (h) => JSON.stringify(h);
  await waitForWebhook((h) => text(h).includes('case.rejected') && text(h).includes(caseId) && text(h).includes(ada),
    `case.rejected for ${caseId} by ${ada}`);
  await waitForWebhook((h) => /session\./.test(text(h)) && text(h).includes(session) && text(h).includes('rejected'),
    `a session webhook for ${session}`);
});
