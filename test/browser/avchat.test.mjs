// The original 2014 browser bundle, lean-cloud-chat@1.0.4 lib/av-chat.js,
// unmodified, in headless Chromium against the real rtgate binary. Its
// router host is hard-coded (http://router-g0-push.avoscloud.com/v1/route,
// protocol-v1.md §1.1). First test: the page's request is intercepted and
// answered with the response rtgate's own /v1/route gives (status, headers,
// body), so the bundle's XHR path, the CORS headers and the WebSocket URL
// are rtgate's. Two pages, one AVChatClient each: open, presence, direct
// both ways, transient, status query, group create/join/send, close.
// Second test: no interception at all; Chromium's resolver maps the router
// host to rtgate's port (--host-resolver-rules), rtgate answers with
// ws://router-g0-push.avoscloud.com/ (the request's Host) and the
// WebSocket goes through the same mapping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startServer, startStatic, launchBrowser, screenshot, withTimeout, suiteDir } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const bundlePath = require.resolve('lean-cloud-chat/lib/av-chat.js');
const bundle = fs.readFileSync(bundlePath);
// The file the page loads is the package's own, byte for byte.
const BUNDLE_SHA256 = crypto.createHash('sha256').update(bundle).digest('hex');

let server, web, chrome, ctx;
const routed = []; // router requests the page made, and rtgate's answers

before(async () => {
  server = await startServer();
  web = await startStatic({
    '/': { type: 'text/html; charset=utf-8', body: fs.readFileSync(path.join(suiteDir, 'pages', 'avchat.html')) },
    '/av-chat.js': { type: 'application/javascript', body: bundle },
    '/avchat-page.js': { type: 'application/javascript', body: fs.readFileSync(path.join(suiteDir, 'pages', 'avchat-page.js')) },
  });
  chrome = await launchBrowser();
  ctx = await chrome.browser.newContext({ viewport: { width: 1000, height: 700 } });
  await ctx.route(/^https?:\/\/router-(g0|a0)-push\.avoscloud\.com\//, async (route) => {
    const req = route.request();
    const u = new URL(req.url());
    const target = server.base + u.pathname + u.search;
    const headers = {};
    for (const [k, v] of Object.entries(await req.allHeaders())) {
      if (['origin', 'accept', 'user-agent', 'referer'].includes(k)) headers[k] = v;
    }
    const res = await withTimeout(fetch(target, { headers }), 5000, 'GET ' + target);
    const body = await res.text();
    const resHeaders = Object.fromEntries(res.headers.entries());
    routed.push({ url: req.url(), target, status: res.status, headers: resHeaders, body });
    await route.fulfill({ status: res.status, headers: resHeaders, body });
  });
  ctx.setDefaultTimeout(10000);
});

after(async () => {
  if (ctx) await ctx.close().catch(() => {});
  if (chrome) await chrome.close();
  if (web) await web.close();
  if (server) await server.stop();
});

async function openPage(peer, watching, context = ctx) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(web.base + '/');
  const sha = await page.evaluate(async () => {
    const buf = await (await fetch('/av-chat.js')).arrayBuffer();
    const d = await crypto.subtle.digest('SHA-256', buf);
    return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
  });
  assert.equal(sha, BUNDLE_SHA256, 'the page loads the package file byte for byte');
  assert.equal(await page.evaluate(() => typeof AVChatClient), 'function');
  await page.evaluate(([p, w]) => T.create(p, w), [peer, watching]);
  return { page, errors, peer };
}

const call = (p, method, ...args) => p.page.evaluate(([m, a]) => T.call(m, a), [method, args]);

// waitEvent waits until the page recorded an event matching ev and the
// JSON-text test, and returns it.
async function waitEvent(p, ev, test = () => true, what = ev) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const events = await p.page.evaluate(() => T.events);
    const found = events.find((e) => e.ev === ev && test(e.data));
    if (found) return found.data;
    if (Date.now() > deadline) {
      throw new Error(`${p.peer}: no ${what}; events: ${JSON.stringify(events)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('lean-cloud-chat 1.0.4 lib/av-chat.js, unmodified, in Chromium against rtgate', { timeout: 90000 }, async () => {
  const alice = await openPage('alice', ['bob']);
  const bob = await openPage('bob', ['alice']);

  // open: router (XHR) → WebSocket → session open → opened.
  const openedA = await call(alice, 'open');
  assert.equal(openedA.cmd, 'session');
  assert.equal(openedA.op, 'opened');
  assert.equal(openedA.peerId, 'alice');
  assert.deepEqual(openedA.onlineSessionPeerIds, []);
  assert.ok(routed.length >= 1, 'the page asked the router');
  const r0 = routed[0];
  assert.match(r0.url, /^http:\/\/router-g0-push\.avoscloud\.com\/v1\/route\?appId=dev$/);
  assert.equal(r0.status, 200);
  assert.ok(r0.headers['access-control-allow-origin'], 'rtgate sends CORS headers for the cross-origin XHR');
  const route = JSON.parse(r0.body);
  assert.equal(route.server, `ws://${server.addr}/`);
  assert.equal(route.ttl, 3600);

  // bob comes online: alice gets presence, bob sees alice online.
  const openedB = await call(bob, 'open');
  assert.deepEqual(openedB.onlineSessionPeerIds, ['alice']);
  assert.deepEqual(await waitEvent(bob, 'online', (d) => d.includes('alice')), ['alice']);
  assert.deepEqual(await waitEvent(alice, 'online', (d) => d.includes('bob'), 'presence on bob'), ['bob']);

  // direct alice → bob: ack with uid, bob receives it with that id.
  const ackA = await call(alice, 'send', 'hello bob, from 2014', 'bob');
  assert.equal(ackA.cmd, 'ack');
  assert.match(ackA.uid, /^[0-9A-Za-z]{14}$/);
  const atB = await waitEvent(bob, 'message', (d) => d.msg === 'hello bob, from 2014');
  assert.equal(atB.fromPeerId, 'alice');
  assert.equal(atB.peerId, 'bob');
  assert.equal(atB.id, ackA.uid);
  assert.ok(atB.timestamp > 0);
  assert.ok(!atB.offline);

  // direct bob → alice.
  const ackB = await call(bob, 'send', 'hi alice ✓ 你好', 'alice');
  const atA = await waitEvent(alice, 'message', (d) => d.msg === 'hi alice ✓ 你好');
  assert.equal(atA.fromPeerId, 'bob');
  assert.equal(atA.id, ackB.uid);

  // transient: no ack to wait for, delivered with transient:true.
  assert.equal(await call(alice, 'send', 'typing…', 'bob', true), null);
  const tr = await waitEvent(bob, 'message', (d) => d.msg === 'typing…');
  assert.equal(tr.transient, true);

  // status query.
  const q = await call(alice, 'getStatus', ['bob', 'nobody']);
  assert.equal(q.op, 'query-result');
  assert.deepEqual(q.onlineSessionPeerIds, ['bob']);

  // group: alice creates, bob joins, both send.
  const created = await call(alice, 'joinGroup', undefined);
  assert.equal(created.op, 'joined');
  const room = created.roomId;
  assert.ok(room, 'room id in room joined');
  const joined = await call(bob, 'joinGroup', room);
  assert.equal(joined.roomId, room);
  const mj = await waitEvent(alice, 'membersJoined', (d) => d.roomId === room && d.roomPeerIds.includes('bob'));
  assert.deepEqual(mj.roomPeerIds, ['bob']);
  const gAck = await call(bob, 'sendToGroup', 'hello group', room);
  assert.match(gAck.uid, /^[0-9A-Za-z]{14}$/);
  const gAtA = await waitEvent(alice, 'message', (d) => d.msg === 'hello group');
  assert.equal(gAtA.roomId, room);
  assert.equal(gAtA.fromPeerId, 'bob');
  assert.equal(gAtA.id, gAck.uid);
  await call(alice, 'sendToGroup', 'group reply', room);
  const gAtB = await waitEvent(bob, 'message', (d) => d.msg === 'group reply');
  assert.equal(gAtB.roomId, room);

  // bob closes: alice sees him go offline.
  await call(bob, 'close');
  assert.deepEqual(await waitEvent(alice, 'offline', (d) => d.includes('bob'), 'presence off bob'), ['bob']);

  await screenshot(alice.page, 'avchat-alice');
  await screenshot(bob.page, 'avchat-bob');
  assert.deepEqual(alice.errors, [], 'no page errors (alice)');
  assert.deepEqual(bob.errors, [], 'no page errors (bob)');
  await call(alice, 'close');
});

test('the same bundle with the router host mapped by Chromium\'s resolver (no interception)', { timeout: 90000 }, async () => {
  const port = server.addr.split(':').pop();
  const mapped = await launchBrowser([`--host-resolver-rules=MAP router-g0-push.avoscloud.com 127.0.0.1:${port}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`]);
  const context = await mapped.browser.newContext({ viewport: { width: 1000, height: 500 } });
  context.setDefaultTimeout(10000);
  try {
    const sockets = [];
    const carol = await openPage('carol', ['dave'], context);
    const dave = await openPage('dave', ['carol'], context);
    for (const p of [carol, dave]) p.page.on('websocket', (ws) => sockets.push(ws.url()));
    const router = carol.page.waitForResponse((r) => r.url().startsWith('http://router-g0-push.avoscloud.com/v1/route'));
    await call(carol, 'open');
    const res = await router;
    assert.equal(res.status(), 200);
    const body = await res.json();
    assert.equal(body.server, 'ws://router-g0-push.avoscloud.com/', 'rtgate names the host the client asked');
    assert.equal(body.ttl, 3600);
    await call(dave, 'open');
    assert.deepEqual(sockets, ['ws://router-g0-push.avoscloud.com/', 'ws://router-g0-push.avoscloud.com/']);
    await waitEvent(carol, 'online', (d) => d.includes('dave'), 'presence on dave');
    const ack = await call(carol, 'send', 'via the mapped router host', 'dave');
    const got = await waitEvent(dave, 'message', (d) => d.msg === 'via the mapped router host');
    assert.equal(got.id, ack.uid);
    const ack2 = await call(dave, 'send', 'and back', 'carol');
    assert.equal((await waitEvent(carol, 'message', (d) => d.msg === 'and back')).id, ack2.uid);
    await screenshot(carol.page, 'avchat-mapped-carol');
    assert.deepEqual(carol.errors, []);
    assert.deepEqual(dave.errors, []);
    await call(carol, 'close');
    await call(dave, 'close');
  } finally {
    await context.close().catch(() => {});
    await mapped.close();
  }
});
