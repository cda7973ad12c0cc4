// End-to-end test of the hosted capture page (src/http/capture_page.html) against a running idv server,
// in a real headless Chromium at phone size. Run it through tests/browser/run.sh, which starts the server
// and sets IDV_BASE (e.g. http://127.0.0.1:PORT) and IDV_KEY (a vk_sandbox_ secret key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.IDV_BASE || '').replace(/\/+$/, '');
const KEY = process.env.IDV_KEY || '';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'target', 'browser');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

assert.ok(BASE, 'IDV_BASE must be set (run tests/browser/run.sh)');
assert.ok(KEY, 'IDV_KEY must be set (run tests/browser/run.sh)');

// ---- tiny PNG encoder: distinct, valid images for front, back and selfie ---------------------------
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
/** An RGB PNG of w x h whose pixel (x, y) is px(x, y) = [r, g, b]. */
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
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const IMAGES = {
  // a red/white checkerboard "card"
  front: png(320, 200, (x, y) => (((x >> 4) + (y >> 4)) % 2 ? [190, 30, 40] : [245, 245, 240])),
  // blue horizontal stripes with a dark "barcode" band
  back: png(320, 200, (x, y) => (y > 140 && y < 180 ? (x % 6 < 3 ? [10, 10, 10] : [250, 250, 250]) : (y >> 3) % 2 ? [30, 60, 170] : [220, 230, 250])),
  // a skin-toned disc on a green background
  selfie: png(192, 256, (x, y) => ((x - 96) ** 2 + (y - 110) ** 2 < 70 ** 2 ? [224, 172, 140] : [40, 120, 60])),
};
const file = (name, buffer) => ({ name, mimeType: 'image/png', buffer });

// ---- API helpers ---------------------------------------------------------------------------
async function api(method, p, body) {
  const res = await fetch(BASE + p, {
    method,
    headers: { 'X-API-Key': KEY, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, json, text };
}

let context;
let userDataDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium`);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idv-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  context.setDefaultTimeout(15000);
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

test('sandbox session: the capture page completes every step and approves', { timeout: 120000 }, async () => {
  const created = await api('POST', '/api/v1/sessions', { external_ref: 'browser-user-1', first_name: 'Ada', last_name: 'Lovelace' });
  assert.ok(created.status === 201 || created.status === 200, `create session: ${created.status} ${created.text}`);
  const sessionId = created.json.id ?? created.json.session_id;
  assert.ok(sessionId, `session id in ${created.text}`);
  assert.ok(created.json.capture_url, `capture_url in ${created.text}`);
  const captureUrl = new URL(created.json.capture_url, BASE);
  const origin = new URL(BASE).origin;
  assert.equal(captureUrl.origin, origin, 'capture_url points at the server under test');
  assert.match(captureUrl.pathname, /^\/verify\/[^/]+$/);

  const page = await context.newPage();
  const requests = [];
  const pageErrors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await page.goto(captureUrl.href);

  // (1) consent
  await page.getByRole('heading', { name: 'Before you start' }).waitFor();
  await page.getByLabel(/I agree/).check();
  await page.getByRole('button', { name: 'Continue' }).click();

  // (2) document type
  await page.getByRole('heading', { name: 'Choose your document' }).waitFor();
  await page.getByRole('button', { name: /Driver's license/ }).click();

  // (3) front, with a retake
  await page.getByRole('heading', { name: "Front of your driver's license" }).waitFor();
  await page.locator('#file-id_front').setInputFiles(file('front.png', IMAGES.back));
  await page.locator('#s-id_front').getByRole('button', { name: 'Retake' }).click();
  await page.locator('#file-id_front').setInputFiles(file('front.png', IMAGES.front));
  await page.locator('#s-id_front img').waitFor();
  await page.locator('#s-id_front').getByRole('button', { name: 'Use this photo' }).click();

  // resume: a reload lands on the first step not yet done
  await page.getByRole('heading', { name: "Back of your driver's license" }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: "Back of your driver's license" }).waitFor();

  // (3) back
  await page.locator('#file-id_back').setInputFiles(file('back.png', IMAGES.back));
  await page.locator('#s-id_back').getByRole('button', { name: 'Use this photo' }).click();

  // (4) selfie, when the session asks for one
  const details = page.getByRole('heading', { name: 'Confirm your details' });
  const selfie = page.getByRole('heading', { name: 'Take a selfie' });
  await selfie.or(details).first().waitFor();
  if (await selfie.isVisible()) {
    assert.equal(await page.locator('#file-selfie').getAttribute('capture'), 'user');
    await page.locator('#file-selfie').setInputFiles(file('selfie.png', IMAGES.selfie));
    await page.locator('#s-selfie').getByRole('button', { name: 'Use this photo' }).click();
  }

  // (5) details, prefilled from the session
  await details.waitFor();
  assert.equal(await page.getByLabel('First name').inputValue(), 'Ada');
  assert.equal(await page.getByLabel('Last name').inputValue(), 'Lovelace');
  await page.getByLabel('Date of birth').fill('1990-04-01');
  await page.getByLabel('Document number').fill('D1234567');
  await page.getByLabel('Document expiry date').fill('2031-01-01');
  await page.getByLabel('Nationality').selectOption('GB');
  await page.getByRole('button', { name: 'Confirm and submit' }).click();

  // (6) sandbox: choose the outcome
  await page.getByRole('button', { name: 'Approve' }).waitFor();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('heading', { name: 'Verification approved' }).waitFor();
  assert.match(await page.locator('#s-outcome').innerText(), /approved/);
  assert.equal(await page.locator('#error').isVisible(), false, 'no error shown');

  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'capture-done.png'), fullPage: true });

  // the page talked to nobody but the server
  const foreign = requests.filter((u) => {
    if (u.startsWith('data:')) return false;
    const inner = u.startsWith('blob:') ? u.slice(5) : u;
    try { return new URL(inner).origin !== origin; } catch { return true; }
  });
  assert.deepEqual(foreign, [], 'requests to other hosts');
  assert.ok(requests.some((u) => u.includes('/fraud-signals')), 'fraud signals were sent');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
  await page.close();

  // the server agrees
  const session = await api('GET', `/api/v1/sessions/${sessionId}`);
  assert.equal(session.status, 200, session.text);
  assert.equal(session.json.status, 'completed', session.text);
  const result = await api('GET', `/api/v1/sessions/${sessionId}/result`);
  assert.equal(result.status, 200, result.text);
  assert.equal(result.json.status, 'approved', result.text);
  const identity = await api('GET', '/api/v1/identities/browser-user-1');
  assert.equal(identity.status, 200, identity.text);
  assert.equal(identity.json.status, 'approved', identity.text);

  // every step was appended to the log: the session's trail (what webhooks are built from)
  const events = await api('GET', `/api/v1/sessions/${sessionId}/events?limit=100`);
  assert.equal(events.status, 200, events.text);
  const actions = events.json.data.map((e) => e.action);
  for (const action of ['session.created', 'session.started', 'session.consent_recorded',
    'session.document_type_chosen', 'session.document_uploaded', 'session.user_data_provided',
    'session.sandbox_pending', 'session.approved']) {
    assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
  }
  assert.equal(actions[0], 'session.approved', 'newest first');
  assert.ok(!events.text.includes('Lovelace'), 'the trail carries no personal data');
});

test('an unknown capture token shows the expired-or-invalid message', { timeout: 60000 }, async () => {
  const page = await context.newPage();
  const res = await page.goto(`${BASE}/verify/tok_invalid`);
  assert.ok(res, 'navigation response');
  await page.getByRole('heading', { name: 'This link has expired or is invalid' }).waitFor();
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'capture-invalid.png') });
  await page.close();
});
