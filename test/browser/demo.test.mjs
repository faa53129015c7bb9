// The demo chat page rtgate serves at /demo/ (web/demo, with the SDK from
// /sdk/), used the way a person would: two browser profiles log in as
// alice and bob, alice adds bob as a contact and sends a message, bob sees
// it and answers, alice sees the answer and the delivery receipt.
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

async function login(peerId) {
  const ctx = await chrome.browser.newContext({ viewport: { width: 1200, height: 760 } });
  ctx.setDefaultTimeout(15000);
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e));
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss().catch(() => {}); });
  const res = await page.goto(server.base + '/demo/');
  assert.equal(res.status(), 200);
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
