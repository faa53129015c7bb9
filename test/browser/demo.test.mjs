// The demo chat page rtgate serves at /demo/ (web/demo, with the SDK from
// /sdk/), used the way a person would: two browser profiles log in as
// alice and bob, alice adds bob as a contact and sends a message, bob sees
// it and answers, alice sees the answer and the delivery receipt; a group
// gives one activity line per event on each page; a server that refuses
// the app shows its close reason; no request of the page fails (favicon
// included).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, screenshot } from './lib/harness.mjs';

let server, chrome;

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (server) await server.stop();
});

// openDemo opens the demo page of srv in a fresh browser profile; problems
// collects page errors, dialogs and failed requests (a 404 favicon, say).
async function openDemo(srv) {
  const ctx = await chrome.browser.newContext({ viewport: { width: 1200, height: 760 } });
  ctx.setDefaultTimeout(15000);
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e));
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss().catch(() => {}); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const res = await page.goto(srv.base + '/demo/');
  assert.equal(res.status(), 200);
  return { ctx, page, problems };
}

async function login(peerId) {
  const { ctx, page, problems } = await openDemo(server);
  // Diagnostics: every command the SDK receives, and its receipts, in order.
  await page.evaluate(() => {
    window.__seen = [];
    const emit = RTGate.Client.prototype.emit;
    RTGate.Client.prototype.emit = function (ev, d) {
      if (ev === 'command' || ev === 'receipt') window.__seen.push({ at: performance.now(), ev, d: ev === 'receipt' ? d.id : d });
      return emit.apply(this, arguments);
    };
  });
  await page.locator('#login-form input[name=peerId]').fill(peerId);
  // The WebTransport URL field is left empty: the SDK takes the endpoint
  // (a random QUIC port here) from GET /certinfo.
  await page.locator('#login-form summary').click();
  assert.equal(await page.locator('#login-form input[name=webtransport]').inputValue(), '');
  await page.locator('#login-button').click();
  await page.locator('#chat').waitFor({ state: 'visible' });
  await page.locator('#status', { hasText: 'online' }).waitFor();
  return { ctx, page, problems };
}

test('demo page: two people log in, chat, and see each other\'s messages', { timeout: 120000 }, async () => {
  const alice = await login('alice');
  const bob = await login('bob');
  try {
    const status = await alice.page.locator('#status').textContent();
    assert.match(status, /online · WebTransport/, 'auto picks WebTransport in Chromium: ' + status);

    // alice adds bob and writes to him (Enter sends).
    await alice.page.locator('#watch-form input[name=peer]').fill('bob');
    await alice.page.locator('#watch-form button').click();
    await alice.page.locator('#conv-title', { hasText: 'bob' }).waitFor();
    await alice.page.locator('#conv-sub', { hasText: /^online$/ }).waitFor();
    await alice.page.locator('#composer textarea').fill('Hi Bob! Lunch at noon?');
    await alice.page.locator('#composer textarea').press('Enter');
    await alice.page.locator('#message-list .msg.mine .text', { hasText: 'Hi Bob! Lunch at noon?' }).waitFor();

    // bob gets it: alice appears in his contacts with an unread badge.
    await bob.page.locator('#contacts li', { hasText: 'alice' }).locator('.badge', { hasText: '1' }).waitFor();
    await bob.page.locator('#contacts li', { hasText: 'alice' }).click();
    await bob.page.locator('#message-list .msg:not(.mine) .text', { hasText: 'Hi Bob! Lunch at noon?' }).waitFor();

    // alice asked for a receipt (on by default): bob's client acked, so
    // her message shows as delivered, even when the receipt arrived in the
    // same task as the ack.
    await alice.page.locator('#message-list .msg.mine .meta', { hasText: /delivered/ }).waitFor();

    // bob answers; alice sees it in the open conversation.
    await bob.page.locator('#composer textarea').fill('Sure, see you there.');
    await bob.page.locator('#composer button').click();
    await alice.page.locator('#message-list .msg:not(.mine) .text', { hasText: 'Sure, see you there.' }).waitFor();
    await bob.page.locator('#message-list .msg.mine .meta', { hasText: /stored|delivered/ }).waitFor();

    await screenshot(alice.page, 'demo-alice');
    await screenshot(bob.page, 'demo-bob');
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  } catch (err) {
    for (const p of [alice, bob]) console.error(JSON.stringify(await p.page.evaluate(() => window.__seen).catch(String)));
    await screenshot(alice.page, 'demo-alice-failed').catch(() => {});
    await screenshot(bob.page, 'demo-bob-failed').catch(() => {});
    throw err;
  } finally {
    await alice.ctx.close().catch(() => {});
    await bob.ctx.close().catch(() => {});
  }
});

// activity returns the demo's activity lines, without their times.
async function activity(page) {
  return page.locator('#activity li').evaluateAll((lis) => lis.map((li) => li.lastChild.textContent));
}

test('demo page: one activity line per group event', { timeout: 120000 }, async () => {
  const alice = await login('carol');
  const bob = await login('dave');
  try {
    await alice.page.locator('#new-group').click();
    const group = await alice.page.waitForFunction(() => [...groups.keys()][0]).then((h) => h.jsonValue());
    await alice.page.locator('#activity li', { hasText: 'You joined group' }).waitFor();

    await bob.page.locator('#join-form input[name=group]').fill(group);
    await bob.page.locator('#join-form button').click();
    await bob.page.locator('#activity li', { hasText: 'You joined group' }).waitFor();
    await alice.page.locator('#activity li', { hasText: 'dave joined group' }).waitFor();
    // A message through the group is the sync point: every event of the
    // join reached both pages before it.
    await bob.page.locator('#composer textarea').fill('hello group');
    await bob.page.locator('#composer textarea').press('Enter');
    await alice.page.locator('#message-list .msg:not(.mine) .text', { hasText: 'hello group' }).waitFor();

    const a = (await activity(alice.page)).filter((l) => l.includes('group'));
    const b = (await activity(bob.page)).filter((l) => l.includes('group'));
    assert.deepEqual(a.filter((l) => /joined group/.test(l)).sort(), ['You joined group ' + short(group), 'dave joined group ' + short(group)].sort(),
      'carol sees her own join once and dave\'s once: ' + JSON.stringify(a));
    assert.deepEqual(b.filter((l) => /joined group/.test(l)), ['You joined group ' + short(group)],
      'dave sees his join once: ' + JSON.stringify(b));
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.ctx.close().catch(() => {});
    await bob.ctx.close().catch(() => {});
  }
});

// short is the demo's short form of a group id.
function short(id) { return id.length > 12 ? id.slice(0, 6) + '…' + id.slice(-4) : id; }

test('demo page: a refused app shows the server\'s close reason', { timeout: 120000 }, async () => {
  const strict = await startServer(['--app', 'other-app:key:master']);
  try {
    for (const transport of ['auto', 'websocket', 'longpoll']) {
      const { ctx, page, problems } = await openDemo(strict);
      try {
        await page.locator('#login-form input[name=appId]').fill('demo');
        await page.locator('#login-form input[name=peerId]').fill('alice');
        await page.locator('#login-form summary').click();
        await page.locator('#login-form select[name=transport]').selectOption(transport);
        await page.locator('#login-button').click();
        await page.locator('#login-error', { hasText: '4100 unknown app "demo"' }).waitFor();
        assert.deepEqual(problems.filter((p) => !p.includes('/lp/')), [], transport);
      } finally {
        await ctx.close().catch(() => {});
      }
    }
  } finally {
    await strict.stop();
  }
});
