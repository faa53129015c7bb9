// The rtgate-js SDK, as rtgate serves it (/sdk/rtgate.min.js), in headless
// Chromium, forced onto each transport (webtransport, websocket, longpoll)
// and talking to a Go SDK peer: presence, direct messages both ways,
// transient, offline redelivery, a group. Then the fallback: with
// WebTransport and WebSocket unavailable in the page, the default client
// ends on long-poll within a bounded time and still delivers.
//
// The test page comes from a separate static origin and points the SDK at
// rtgate with `url` (so long-poll and /certinfo are cross-origin requests:
// rtgate's CORS is exercised too).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, startStatic, launchBrowser, startGoPeer, screenshot, suiteDir, sleep } from './lib/harness.mjs';

let server, web, chrome;
const pagesDir = path.join(suiteDir, 'pages');

before(async () => {
  server = await startServer();
  web = await startStatic((p) => {
    if (p === '/') {
      return { type: 'text/html; charset=utf-8', body: fs.readFileSync(path.join(pagesDir, 'sdk.html'), 'utf8').replaceAll('__RTGATE__', server.base) };
    }
    if (p === '/sdk-page.js') return { type: 'application/javascript', body: fs.readFileSync(path.join(pagesDir, 'sdk-page.js')) };
    return null;
  });
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (web) await web.close();
  if (server) await server.stop();
});

async function newPage(initScript) {
  const ctx = await chrome.browser.newContext({ viewport: { width: 1100, height: 800 } });
  ctx.setDefaultTimeout(15000);
  if (initScript) await ctx.addInitScript(initScript);
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(web.base + '/');
  assert.equal(await page.evaluate(() => typeof RTGate), 'object', 'the SDK bundle loaded from rtgate /sdk/');
  return { ctx, page, errors };
}

async function waitEvent(page, pred, what) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const events = await page.evaluate(() => S.events);
    const found = events.find(pred);
    if (found) return found.data;
    if (Date.now() > deadline) throw new Error(`page: no ${what}; events: ${JSON.stringify(events)}`);
    await sleep(50);
  }
}

// conversation runs the whole exchange between the page (peer `web`,
// client names web1/web2) and the Go SDK peer `gopher`, with the page's
// client options opts. Returns what it observed.
async function conversation(page, gopher, { web, go, opts, expectTransport }) {
  const call = (name, method, ...args) => page.evaluate(([n, m, a]) => S.call(n, m, a), [name, method, args]);
  const base = { url: server.base, appId: 'dev', peerId: web, watch: [go], devCertificate: true, reconnect: false, ...opts };

  await gopher.call('open', { peer: go, watch: [web] });
  const c1 = await page.evaluate(([o]) => S.connect('web1', o), [base]);
  assert.equal(c1.transport, expectTransport);
  // presence both ways
  await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'online' && e.data.includes(go), `online [${go}]`);
  await gopher.waitEvent((e) => e.ev === 'online' && e.peer === go && e.peers.includes(web), 10000, 'gopher sees page online');

  // page → Go, persistent
  const sent = await call('web1', 'send', go, `hello ${go} over ${expectTransport}`);
  assert.match(sent.id, /^[0-9A-Za-z]{14}$/);
  const gm = await gopher.waitEvent((e) => e.ev === 'message' && e.text === `hello ${go} over ${expectTransport}`);
  assert.equal(gm.id, sent.id);
  assert.equal(gm.from, web);

  // Go → page, persistent
  const gs = await gopher.call('send', { peer: go, to: [web], text: `hello ${web} from Go` });
  const pm = await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'message' && e.data.text === `hello ${web} from Go`, 'message from Go');
  assert.equal(pm.id, gs.id);
  assert.equal(pm.from, go);
  assert.ok(!pm.offline);

  // receipts both ways: the page asks for one, the Go SDK acknowledges;
  // the Go peer asks for one, the JS SDK acknowledges.
  const rs = await call('web1', 'send', go, 'receipt please', { receipt: true });
  const rc = await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'receipt' && e.data.id === rs.id, 'receipt');
  assert.ok(rc.timestamp > 0);
  const gr = await gopher.call('send', { peer: go, to: [web], text: 'receipt please, page', receipt: true });
  await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'message' && e.data.text === 'receipt please, page', 'message with receipt');
  await gopher.waitEvent((e) => e.ev === 'receipt' && e.id === gr.id, 10000, 'gopher receipt');

  // Go → page, transient
  await gopher.call('send', { peer: go, to: [web], text: 'transient ping', transient: true });
  const tm = await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'message' && e.data.text === 'transient ping', 'transient message');
  assert.equal(tm.transient, true);

  // group: the page creates it, Go joins, both send
  const gid = await call('web1', 'createGroup');
  assert.ok(gid);
  await gopher.call('joinGroup', { peer: go, room: gid });
  await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'membersJoined' && e.data.group === gid && e.data.peers.includes(go), 'membersJoined');
  const gsent = await gopher.call('sendGroup', { peer: go, room: gid, text: 'hello group from Go' });
  const gmsg = await waitEvent(page, (e) => e.client === 'web1' && e.ev === 'message' && e.data.text === 'hello group from Go', 'group message');
  assert.equal(gmsg.group, gid);
  assert.equal(gmsg.id, gsent.id);
  await call('web1', 'sendToGroup', gid, 'hello group from the page');
  const ggm = await gopher.waitEvent((e) => e.ev === 'message' && e.text === 'hello group from the page');
  assert.equal(ggm.room, gid);

  // offline redelivery: the page leaves, Go sends, the page comes back
  await call('web1', 'close');
  await gopher.waitEvent((e) => e.ev === 'offline' && e.peer === go && e.peers.includes(web), 10000, 'gopher sees page offline');
  const away = await gopher.call('send', { peer: go, to: [web], text: 'sent while you were away' });
  const c2 = await page.evaluate(([o]) => S.connect('web2', o), [base]);
  assert.equal(c2.transport, expectTransport);
  const om = await waitEvent(page, (e) => e.client === 'web2' && e.ev === 'message' && e.data.text === 'sent while you were away', 'offline redelivery');
  assert.equal(om.id, away.id);
  assert.equal(om.offline, true);
  // acknowledged by the SDK: the message does not come back on a third open
  await sleep(300);
  await call('web2', 'close');
  const c3 = await page.evaluate(([o]) => S.connect('web3', o), [base]);
  assert.equal(c3.transport, expectTransport);
  await sleep(700);
  const again = await page.evaluate(() => S.events.filter((e) => e.client === 'web3' && e.ev === 'message'));
  assert.deepEqual(again, [], 'the redelivered message was acknowledged');
  await call('web3', 'close');
  return { c1, c2, c3 };
}

const variants = [
  { transport: 'webtransport', name: 'webtransport' },
  { transport: 'websocket', name: 'websocket' }, // msgpack, the default dialect
  { transport: 'websocket', name: 'websocket-json', opts: { wsDialect: 'json' }, dialect: 'json' },
  { transport: 'websocket', name: 'websocket-v1', opts: { wsDialect: 'v1' }, dialect: 'v1' },
  { transport: 'longpoll', name: 'longpoll' },
  { transport: 'longpoll', name: 'longpoll-v1', opts: { longpollDialect: 'v1' }, dialect: 'v1' },
];

for (const v of variants) {
  test(`rtgate-js forced onto ${v.name} with a Go SDK peer`, { timeout: 120000 }, async () => {
    const { ctx, page, errors } = await newPage();
    const gopher = await startGoPeer(`ws://${server.addr}/`);
    try {
      const seen = await conversation(page, gopher, {
        web: 'web-' + v.name, go: 'go-' + v.name, expectTransport: v.transport,
        opts: { transports: [v.transport], ...v.opts },
      });
      if (v.dialect) assert.equal(seen.c1.dialect, v.dialect);
      await screenshot(page, 'sdk-' + v.name);
      assert.deepEqual(errors, []);
    } finally {
      await gopher.stop();
      await ctx.close().catch(() => {});
    }
  });
}

test('rtgate-js falls back to long-poll when WebTransport and WebSocket are unavailable', { timeout: 120000 }, async () => {
  // WebTransport absent (an older browser) and WebSocket blocked: the
  // constructor exists but every connection fails, as behind a proxy that
  // drops upgrades.
  const { ctx, page, errors } = await newPage(() => {
    delete window.WebTransport;
    class BlockedWebSocket extends EventTarget {
      constructor(url) {
        super();
        this.url = url;
        this.readyState = 0;
        window.__blockedWS = (window.__blockedWS || 0) + 1;
        setTimeout(() => {
          this.readyState = 3;
          const err = new Event('error');
          if (this.onerror) this.onerror(err);
          this.dispatchEvent(err);
          const close = new CloseEvent('close', { code: 1006, reason: '', wasClean: false });
          if (this.onclose) this.onclose(close);
          this.dispatchEvent(close);
        }, 50);
      }
      send() { throw new DOMException('blocked', 'InvalidStateError'); }
      close() {}
    }
    BlockedWebSocket.CONNECTING = 0; BlockedWebSocket.OPEN = 1; BlockedWebSocket.CLOSING = 2; BlockedWebSocket.CLOSED = 3;
    window.WebSocket = BlockedWebSocket;
  });
  assert.equal(await page.evaluate(() => typeof WebTransport), 'undefined');
  const gopher = await startGoPeer(`quic://${server.quicAddr}`, { pin: server.certinfo.sha256 });
  try {
    const t0 = Date.now();
    const seen = await conversation(page, gopher, {
      web: 'web-fallback', go: 'go-fallback', expectTransport: 'longpoll',
      opts: {}, // the default order: webtransport, websocket, longpoll
    });
    assert.ok(seen.c1.ms < 15000, `connected in ${seen.c1.ms} ms`);
    assert.ok(Date.now() - t0 < 60000);
    assert.ok(await page.evaluate(() => window.__blockedWS) >= 1, 'the SDK tried the WebSocket first');
    await screenshot(page, 'sdk-fallback');
    assert.deepEqual(errors, []);
  } finally {
    await gopher.stop();
    await ctx.close().catch(() => {});
  }
});
