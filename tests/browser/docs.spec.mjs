// End-to-end test of the API reference page (src/http/docs_page.html, served at /docs) against a running idv
// server, in a real headless Chromium. The server's own /api/v1/openapi.json is the oracle: whatever the
// document describes, the page must list and render. Run it through tests/browser/run.sh, which starts the
// server and sets IDV_BASE (e.g. http://127.0.0.1:PORT) and IDV_KEY (a vk_sandbox_ secret key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.IDV_BASE || '').replace(/\/+$/, '');
const KEY = process.env.IDV_KEY || '';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT = path.join(ROOT, 'docs', 'screenshots', 'api-reference.png');
const SHOTS = path.join(ROOT, 'target', 'browser');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'];

assert.ok(BASE, 'IDV_BASE must be set (run tests/browser/run.sh)');
assert.ok(KEY, 'IDV_KEY must be set (run tests/browser/run.sh)');
const ORIGIN = new URL(BASE).origin;

// ---- the document, read the way a client would -------------------------------------------------
function pointer(doc, ref) {
  let cur = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur == null || typeof cur !== 'object' || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}
function deref(doc, s) {
  const seen = new Set();
  while (s && typeof s === 'object' && typeof s.$ref === 'string' && !seen.has(s.$ref)) {
    seen.add(s.$ref);
    s = pointer(doc, s.$ref);
  }
  return s && typeof s === 'object' ? s : {};
}
const isNull = (doc, s) => {
  const d = deref(doc, s);
  return d.type === 'null' || (Array.isArray(d.type) && d.type.length === 1 && d.type[0] === 'null');
};
/** The property names a reader sees at the top of a schema: its own, its allOf parts', a nullable oneOf's. */
function topProps(doc, raw, depth = 0) {
  if (depth > 8) return [];
  const s = deref(doc, raw);
  const names = Object.keys(s.properties && typeof s.properties === 'object' ? s.properties : {});
  for (const part of Array.isArray(s.allOf) ? s.allOf : []) names.push(...topProps(doc, part, depth + 1));
  const alts = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : [];
  const nonNull = alts.filter((a) => !isNull(doc, a));
  if (nonNull.length === 1) names.push(...topProps(doc, nonNull[0], depth + 1));
  return [...new Set(names)];
}
function operations(doc) {
  const out = [];
  for (const [p, rawItem] of Object.entries(doc.paths || {})) {
    const item = deref(doc, rawItem);
    for (const m of METHODS) {
      const op = item[m];
      if (!op || typeof op !== 'object') continue;
      const body = op.requestBody ? deref(doc, op.requestBody) : null;
      const media = body && body.content ? Object.values(body.content).find((c) => c && c.schema) : null;
      out.push({
        method: m, path: p, op,
        bodyProps: media ? topProps(doc, media.schema) : [],
        haystack: [m, p, op.summary, op.description, op.operationId, (op.tags || [])[0]].filter(Boolean).join(' ').toLowerCase(),
      });
    }
  }
  return out;
}
async function getDocument() {
  const res = await fetch(`${BASE}/api/v1/openapi.json`);
  assert.equal(res.status, 200, 'GET /api/v1/openapi.json');
  return res.json();
}
const card = (page, method, p) => page.locator(`section.op[data-method="${method}"][data-path="${p}"]`);

// ---- browser ----------------------------------------------------------------------------------
let context;
let userDataDir;
const foreign = [];
const pageErrors = [];

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium`);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idv-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15000);
  // Every request any page makes, across all tests: nothing may leave the server's origin.
  context.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u === 'about:blank') return;
    try {
      if (new URL(u.startsWith('blob:') ? u.slice(5) : u).origin !== ORIGIN) foreign.push(u);
    } catch {
      foreign.push(u);
    }
  });
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

async function openDocs(hash = '') {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const res = await page.goto(`${BASE}/docs${hash}`);
  await page.waitForSelector('body[data-ready]');
  if ((await page.getAttribute('body', 'data-ready')) !== 'true') {
    assert.fail(`the page did not load the document: ${await page.locator('#docs-status').textContent()}`);
  }
  return { page, res };
}

test('the page is served with a same-origin CSP and lists every documented operation', async () => {
  const doc = await getDocument();
  const expected = operations(doc);
  assert.ok(expected.length > 10, `${expected.length} operations in the document`);

  const { page, res } = await openDocs();
  assert.equal(res.status(), 200);
  const headers = res.headers();
  assert.equal(headers['content-type'], 'text/html; charset=utf-8');
  const csp = headers['content-security-policy'] || '';
  for (const directive of ["default-src 'self'", "connect-src 'self'", "img-src 'self' data:"]) {
    assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
  }
  const source = await (await fetch(`${BASE}/docs`)).text();
  assert.ok(!/https?:\/\//.test(source), 'no absolute URLs in the page source');

  assert.equal(await page.locator('section.op').count(), expected.length, 'one card per operation');
  assert.equal(await page.locator('a.nav-op').count(), expected.length, 'one sidebar entry per operation');
  assert.equal(Number(await page.getAttribute('#docs-opcount', 'data-count')), expected.length);
  for (const o of expected.slice(0, 400)) {
    assert.equal(await card(page, o.method, o.path).count(), 1, `${o.method} ${o.path}`);
  }
  // the page is not an API operation
  assert.ok(!Object.keys(doc.paths).some((p) => p === '/docs' || p === '/docs/'), '/docs stays out of openapi.json');
  const slash = await fetch(`${BASE}/docs/`, { redirect: 'manual' });
  assert.ok([301, 302, 307, 308].includes(slash.status), `/docs/ redirects (${slash.status})`);
  assert.equal(new URL(slash.headers.get('location'), BASE).pathname, '/docs');
  await page.close();
});

test('the search box filters operations', async () => {
  const doc = await getDocument();
  const all = operations(doc);
  const { page } = await openDocs();
  const visible = () => page.locator('section.op:visible').count();
  const visibleNav = () => page.locator('a.nav-op:visible').count();
  assert.equal(await visible(), all.length);

  const q = 'webhooks';
  const matching = all.filter((o) => o.haystack.includes(q));
  assert.ok(matching.length > 0 && matching.length < all.length, `${matching.length} operations mention ${q}`);
  await page.fill('#docs-search', q);
  assert.equal(await visible(), matching.length, `cards shown for "${q}"`);
  assert.equal(await visibleNav(), matching.length, `sidebar entries shown for "${q}"`);
  assert.match(await page.locator('#docs-count').innerText(), new RegExp(`^${matching.length} of ${all.length}`));

  // several words must all match
  const two = all.filter((o) => o.haystack.includes('post') && o.haystack.includes('identities'));
  await page.fill('#docs-search', 'post identities');
  assert.equal(await visible(), two.length);

  await page.fill('#docs-search', 'zz-no-such-operation');
  assert.equal(await visible(), 0);
  assert.ok(await page.locator('#docs-nav-empty').isVisible(), 'an empty result says so');

  await page.fill('#docs-search', '');
  assert.equal(await visible(), all.length);
  await page.close();
});

test('request bodies with properties render as field tables (the document is the oracle)', async (t) => {
  const doc = await getDocument();
  const withBodies = operations(doc).filter((o) => o.bodyProps.length > 0);
  t.diagnostic(`${withBodies.length} operations have request body properties`);
  const create = operations(doc).find((o) => o.method === 'post' && o.path === '/api/v1/identities');
  assert.ok(create, 'POST /api/v1/identities is documented');
  const { page } = await openDocs();
  for (const o of withBodies) {
    const c = card(page, o.method, o.path);
    await c.locator('.op-toggle').click();
    const table = c.locator('.request-body table.schema-table');
    await table.first().waitFor();
    for (const name of o.bodyProps) {
      assert.ok(await table.locator(`tr[data-field="${name}"]`).count() > 0, `${o.method} ${o.path}: field ${name}`);
    }
    await c.locator('.op-toggle').click();
  }
  // Every operation opens without an error, whatever its schemas look like.
  await page.evaluate(() => document.querySelectorAll('section.op:not(.open) .op-toggle').forEach((b) => b.click()));
  assert.equal(await page.locator('section.op .op-body .status-msg.error').count(), 0, 'no operation failed to render');
  assert.equal(await page.locator('section.op.open').count(), operations(doc).length);
  await page.close();
});

// A document with every construct the renderer must handle, served in place of the real one.
const RICH = {
  openapi: '3.1.0',
  info: { title: 'Rich document', version: '9.9.9', description: 'Has `code` and **bold**.' },
  tags: [{ name: 'identities', description: 'People.' }],
  security: [{ ApiKey: [] }],
  paths: {
    '/api/v1/identities': {
      post: {
        operationId: 'create_identity', tags: ['identities'], summary: 'Create an identity',
        parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateIdentity' } } } },
        responses: {
          201: { description: 'Created', content: { 'application/json': { schema: { $ref: '#/components/schemas/Identity' },
            examples: { one: { summary: 'An identity', value: { id: 'idn_01EXAMPLE', status: 'pending' } } } } } },
          422: { $ref: '#/components/responses/Invalid' },
        },
      },
    },
    '/api/v1/identities/{identity_id}': {
      parameters: [{ name: 'identity_id', in: 'path', required: true, schema: { type: 'string', pattern: '^idn_' } }],
      get: {
        operationId: 'get_identity', tags: ['identities'], summary: 'Get an identity',
        parameters: [{ name: 'expand', in: 'query', schema: { type: 'string', enum: ['documents', 'checks'] } }],
        responses: { 200: { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/Identity' } } } },
          404: { $ref: '#/components/responses/Invalid' } },
      },
    },
    '/api/v1/identities/{identity_id}/documents': {
      post: {
        operationId: 'upload_document', summary: 'Upload a document', security: [],
        parameters: [{ name: 'identity_id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { content: { 'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: {
          file: { type: 'string', format: 'binary' }, side: { type: 'string', enum: ['front', 'back'] } } } } } },
        responses: { 204: { description: 'Stored' } },
      },
    },
    '/healthz': { get: { operationId: 'get_identity', summary: 'Liveness', security: [], responses: { 200: { description: 'OK' } } } },
  },
  components: {
    securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    parameters: { IdempotencyKey: { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } } },
    responses: { Invalid: { description: 'Invalid', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
    schemas: {
      CreateIdentity: {
        type: 'object', required: ['external_ref', 'email'],
        properties: {
          external_ref: { type: 'string', minLength: 1, maxLength: 128, description: 'Your id for the person.' },
          email: { type: 'string', format: 'email' },
          date_of_birth: { type: ['string', 'null'], format: 'date' },
          country: { oneOf: [{ $ref: '#/components/schemas/Country' }, { type: 'null' }] },
          address: { $ref: '#/components/schemas/Address' },
          tags: { type: 'array', items: { type: 'string' }, maxItems: 10 },
          risk: { type: 'string', enum: ['low', 'medium', 'high', null] },
          contact: { oneOf: [{ $ref: '#/components/schemas/Phone' }, { $ref: '#/components/schemas/Address' }] },
        },
      },
      Country: { type: 'string', pattern: '^[A-Z]{2}$', example: 'GB' },
      Phone: { type: 'object', properties: { number: { type: 'string', example: '+441234567890' } } },
      Address: { type: 'object', properties: { line1: { type: 'string' }, postcode: { type: 'string' } } },
      Identity: {
        allOf: [{ $ref: '#/components/schemas/CreateIdentity' }, { type: 'object', required: ['id'], properties: {
          id: { type: 'string', readOnly: true }, status: { $ref: '#/components/schemas/Status' },
          created_at: { type: 'string', format: 'date-time' }, website: { type: 'string', format: 'uri' },
          related: { type: 'array', items: { $ref: '#/components/schemas/Identity' } },
          parent: { oneOf: [{ $ref: '#/components/schemas/Identity' }, { type: 'null' }] },
          loop: { $ref: '#/components/schemas/Loop' } } }],
      },
      Loop: { $ref: '#/components/schemas/Loop' },
      Status: { type: 'string', enum: ['pending', 'approved', 'declined'] },
      Error: { type: 'object', required: ['error', 'detail', 'status_code'], properties: {
        error: { type: 'string' }, detail: { type: 'string' }, status_code: { type: 'integer' },
        errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } } } },
    },
  },
};

test('a rich 3.1 document: $refs, cycles, allOf, nullable forms, enums, formats, multipart', async () => {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.route('**/api/v1/openapi.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(RICH) }));
  await page.goto(`${BASE}/docs#create_identity`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('section.op').count(), 4);
  assert.equal(await page.locator('section.op#get_identity-2').count(), 1, 'duplicate operationIds get distinct anchors');
  assert.deepEqual(await page.locator('.nav-group h2').allTextContents(), ['identities', 'Healthz'], 'tags, then the path fallback');

  // the deep link opened POST /api/v1/identities
  const create = card(page, 'post', '/api/v1/identities');
  assert.ok(await create.evaluate((n) => n.classList.contains('open')), 'deep link opens the operation');
  const body = create.locator('.request-body table.schema-table');
  for (const f of ['external_ref', 'email', 'date_of_birth', 'country', 'address', 'line1', 'tags', 'risk', 'contact', 'number']) {
    assert.equal(await body.locator(`tr[data-field="${f}"]`).count() >= 1, true, `field ${f}`);
  }
  const row = (f) => body.locator(`tr[data-field="${f}"]`).first();
  assert.match(await row('external_ref').innerText(), /required[\s\S]*max length 128/);
  assert.match(await row('email').innerText(), /email/);
  assert.match(await row('date_of_birth').innerText(), /date[\s\S]*nullable/);
  assert.match(await row('country').innerText(), /nullable[\s\S]*\^\[A-Z\]\{2\}\$/);
  assert.match(await row('risk').innerText(), /nullable[\s\S]*low[\s\S]*medium[\s\S]*high/);
  assert.match(await row('tags').innerText(), /array of string/);
  assert.equal(await body.locator('tr.variant').count(), 2, 'oneOf variants are listed');
  assert.match(await create.locator('.params-table').innerText(), /Idempotency-Key[\s\S]*header[\s\S]*max length 255/);

  // responses: a $ref'd response with the error schema, and the media example
  assert.match(await create.locator('details.resp[data-status="422"]').textContent(), /status_code/);
  assert.match(await create.locator('details.resp[data-status="201"]').innerText(), /idn_01EXAMPLE/);
  // the recursive Identity terminates
  const resp201 = create.locator('details.resp[data-status="201"] table.schema-table');
  assert.ok(await resp201.locator('tr[data-field="parent"]').count() >= 1);
  assert.ok(await resp201.locator('tr').count() < 200, 'cycles are not expanded forever');
  assert.match(await resp201.innerText(), /recursive/);

  // try-it body: a skeleton built from the schema, valid JSON, with the required fields
  const skeleton = JSON.parse(await create.locator('.try textarea').inputValue());
  assert.ok('external_ref' in skeleton && 'email' in skeleton, JSON.stringify(skeleton));
  assert.equal(skeleton.email, 'user@example.com');
  assert.equal(skeleton.country, 'GB');
  assert.ok(!('id' in skeleton), 'read-only fields stay out of request bodies');

  // path-level parameters merge in; an enum query parameter is a select
  const get = card(page, 'get', '/api/v1/identities/{identity_id}');
  await get.locator('.op-toggle').click();
  assert.match(await get.locator('.params-table').innerText(), /identity_id[\s\S]*path[\s\S]*expand[\s\S]*query/);
  assert.equal(await get.locator('.try select').count(), 1);

  // multipart bodies get form fields with a file input; security: [] says no authentication
  const upload = card(page, 'post', '/api/v1/identities/{identity_id}/documents');
  await upload.locator('.op-toggle').click();
  assert.equal(await upload.locator('.try input[type="file"]').count(), 1);
  assert.match(await upload.locator('.op-meta').innerText(), /No authentication/);
  assert.match(await create.locator('.op-meta').innerText(), /Requires X-API-Key/);
  fs.mkdirSync(SHOTS, { recursive: true });
  await create.evaluate((n) => n.querySelectorAll('details.resp').forEach((d) => { d.open = true; }));
  await page.screenshot({ path: path.join(SHOTS, 'api-reference-rich.png'), fullPage: true });
  await page.close();
});

test('try it: GET /api/v1/identities answers 200 with a key and 401 without', { timeout: 60000 }, async () => {
  const doc = await getDocument();
  const list = operations(doc).find((o) => o.method === 'get' && o.path === '/api/v1/identities');
  assert.ok(list, 'GET /api/v1/identities is documented');
  // a little data so the response body is not empty
  for (const ref of ['docs-ada', 'docs-grace']) {
    const r = await fetch(`${BASE}/api/v1/identities`, {
      method: 'POST',
      headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ external_ref: ref }),
    });
    assert.ok([200, 201, 409].includes(r.status), `seed identity ${ref}: ${r.status} ${await r.text()}`);
  }

  const hash = list.op.operationId ? `#${list.op.operationId}` : '';
  const { page } = await openDocs(hash);
  const c = card(page, 'get', '/api/v1/identities');
  if (!(await c.evaluate((n) => n.classList.contains('open')))) await c.locator('.op-toggle').click();
  assert.ok(await c.evaluate((n) => n.classList.contains('open')));
  const panel = c.locator('.try');
  const code = panel.locator('.try-code');

  // without a key: 401
  await panel.locator('input.api-key').fill('');
  await panel.getByRole('button', { name: 'Send request' }).click();
  await code.waitFor();
  assert.equal(await code.getAttribute('data-status'), '401');
  assert.match(await panel.locator('.try-result').innerText(), /"error"/);

  // with the key: 200 and a JSON body, with the request id and rate-limit headers shown
  await panel.locator('input.api-key').fill(KEY);
  await panel.getByRole('button', { name: 'Send request' }).click();
  await page.waitForFunction(() => document.querySelector('.op.open .try-code')?.getAttribute('data-status') === '200');
  const text = await panel.locator('pre.try-body-json').innerText();
  const json = JSON.parse(text);
  assert.ok(json && typeof json === 'object', text);
  const shown = await panel.locator('table.hdrs').innerText();
  assert.match(shown, /x-request-id/);
  assert.match(shown, /x-ratelimit-remaining/);

  // the key is kept for the tab and shared with every other operation
  assert.equal(await page.evaluate(() => sessionStorage.getItem('idv.docs.apiKey')), KEY);
  const other = page.locator('section.op').filter({ hasNot: page.locator('[data-path="/api/v1/identities"]') }).nth(3);
  await other.locator('.op-toggle').click();
  assert.equal(await other.locator('input.api-key').inputValue(), KEY);
  await other.locator('.op-toggle').click();

  // screenshot: sidebar and the opened operation with its response, under its section heading
  await page.setViewportSize({ width: 1280, height: 1000 });
  if (hash) await page.evaluate((h) => { location.hash = h; }, hash);
  await page.locator('#docs-nav').evaluate((n) => { n.scrollTop = 0; });
  await c.evaluate((n) => n.querySelectorAll('details.resp').forEach((d) => { d.open = false; }));
  await c.evaluate((n) => {
    const section = n.closest('.tag-section');
    const top = section && section.firstElementChild === n.previousElementSibling ? section : n;
    window.scrollTo(0, top.getBoundingClientRect().top + window.scrollY - 64);
  });
  fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, animations: 'disabled' });
  await page.close();
});

test('narrow screens: no sideways scrolling, the sidebar opens from the menu', async () => {
  const { page } = await openDocs();
  await page.setViewportSize({ width: 390, height: 844 });
  const c = page.locator('section.op').first();
  await c.locator('.op-toggle').click();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `horizontal overflow ${overflow}px`);
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'api-reference-narrow.png') });
  assert.equal(await page.locator('#docs-nav').isVisible(), false);
  await page.click('#docs-menu');
  assert.equal(await page.locator('#docs-nav').isVisible(), true);
  await page.locator('a.nav-op').nth(1).click();
  assert.equal(await page.locator('#docs-nav').isVisible(), false, 'choosing an operation closes the menu');
  await page.close();
});

test('the page made no request to another host and threw no error', () => {
  assert.deepEqual(foreign, [], 'requests to other hosts');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
});

test('the VerifyHQ dialect has its own reference, one switch away', async () => {
  const res = await fetch(`${BASE}/v1/openapi.json`);
  assert.equal(res.status, 200, 'GET /v1/openapi.json');
  const expected = operations(await res.json());
  assert.ok(expected.length >= 15, `${expected.length} VerifyHQ operations`);
  const { page } = await openDocs('?api=verifyhq');
  assert.equal(await page.locator('section.op').count(), expected.length, 'one card per VerifyHQ operation');
  assert.equal(await card(page, 'post', '/v1/verifications/identity').count(), 1);
  assert.equal(await page.locator('#docs-json').getAttribute('href'), '/v1/openapi.json');
  assert.equal(await page.locator('#docs-switch').textContent(), 'Verifa API');
  await page.locator('#docs-switch').click();
  await page.waitForSelector('body[data-ready="true"]');
  assert.ok((await page.locator('section.op').count()) > expected.length, 'back on the Verifa reference');
  assert.equal(await page.locator('#docs-switch').textContent(), 'VerifyHQ API');
  await page.close();
});
