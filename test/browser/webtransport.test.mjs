// WebTransport from a real page: headless Chromium connects to rtgate's
// https://ADDR/wt?datagrams=1 pinning the dev certificate with
// serverCertificateHashes (sha256 from GET /certinfo), opens a session on
// one bidirectional stream (varint length + msgpack), and talks to a Go SDK
// client connected over raw QUIC (gopeer/): presence, a persistent message
// each way (acks, ids), and a transient direct message from the Go peer
// that must reach the page as a WebTransport datagram.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, startStatic, launchBrowser, startGoPeer, screenshot, suiteDir, sleep } from './lib/harness.mjs';

let server, web, chrome, ctx, gopher;

before(async () => {
  server = await startServer();
  web = await startStatic({
    '/': { type: 'text/html; charset=utf-8', body: fs.readFileSync(path.join(suiteDir, 'pages', 'wt.html')) },
    '/wt-page.js': { type: 'application/javascript', body: fs.readFileSync(path.join(suiteDir, 'pages', 'wt-page.js')) },
  });
  chrome = await launchBrowser();
  ctx = await chrome.browser.newContext({ viewport: { width: 1100, height: 700 } });
  ctx.setDefaultTimeout(10000);
});

after(async () => {
  if (gopher) await gopher.stop();
  if (ctx) await ctx.close().catch(() => {});
  if (chrome) await chrome.close();
  if (web) await web.close();
  if (server) await server.stop();
});

// waitFrame polls the page's record for a frame matching pred.
async function waitFrame(page, pred, what) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const events = await page.evaluate(() => W.events);
    const found = events.find((e) => pred(e));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`page: no ${what}; frames: ${JSON.stringify(events)}`);
    await sleep(50);
  }
}

test('a page on WebTransport (serverCertificateHashes) and a Go SDK peer on raw QUIC', { timeout: 90000 }, async () => {
  // GET /certinfo agrees with the startup line.
  assert.equal(server.certinfo.sha256, server.sha256);
  assert.equal(server.certinfo.sha256Base64, server.sha256Base64);
  assert.equal(Buffer.from(server.sha256, 'hex').toString('base64'), server.sha256Base64);

  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(web.base + '/');
  assert.equal(await page.evaluate(() => typeof WebTransport), 'function', 'WebTransport is available on a loopback origin');
  // The inline msgpack: the keepalive is 80, and a round trip keeps a wide int.
  assert.deepEqual(await page.evaluate(() => W.encode({})), [0x80]);
  assert.deepEqual(await page.evaluate(() => W.decode(W.encode({ t: 1795640956849, s: 'é', a: [1, -5, true, null] }))),
    { t: 1795640956849, s: 'é', a: [1, -5, true, null] });

  const url = `https://${server.quicAddr}/wt?datagrams=1`;
  const info = await page.evaluate(([u, h]) => W.connect(u, h), [url, server.certinfo.sha256]);
  assert.ok(info.maxDatagramSize > 0);

  // session open → opened (modern dialect: `i` echoed).
  await page.evaluate(() => W.send({ cmd: 'session', op: 'open', peerId: 'webpage', appId: 'dev', sessionPeerIds: ['gopher'], i: 1 }));
  const opened = await waitFrame(page, (e) => e.via === 'stream' && e.cmd.cmd === 'session' && e.cmd.op === 'opened', 'session opened');
  assert.equal(opened.cmd.peerId, 'webpage');
  assert.equal(opened.cmd.i, 1);
  assert.deepEqual(opened.cmd.onlineSessionPeerIds, []);

  // The Go SDK peer over raw QUIC, pinning the same certificate hash.
  gopher = await startGoPeer(`quic://${server.quicAddr}`, { pin: server.certinfo.sha256 });
  const gOpen = await gopher.call('open', { peer: 'gopher', watch: ['webpage'] });
  assert.equal(gOpen.transport, 'quic');
  assert.deepEqual(gOpen.online, ['webpage'], 'the Go peer sees the page online');
  const pres = await waitFrame(page, (e) => e.via === 'stream' && e.cmd.cmd === 'presence', 'presence');
  assert.equal(pres.cmd.status, 'on');
  assert.deepEqual(pres.cmd.sessionPeerIds, ['gopher']);
  assert.equal(pres.cmd.peerId, 'webpage');

  // page → Go, persistent: ack with uid; the Go peer gets that id.
  await page.evaluate(() => W.send({ cmd: 'direct', peerId: 'webpage', toPeerIds: ['gopher'], msg: 'hello from the page over WebTransport', i: 2 }));
  const ack = await waitFrame(page, (e) => e.via === 'stream' && e.cmd.cmd === 'ack' && e.cmd.i === 2, 'ack');
  assert.match(ack.cmd.uid, /^[0-9A-Za-z]{14}$/);
  assert.ok(ack.cmd.t > 0);
  const gMsg = await gopher.waitEvent((e) => e.ev === 'message' && e.text === 'hello from the page over WebTransport');
  assert.equal(gMsg.id, ack.cmd.uid);
  assert.equal(gMsg.from, 'webpage');
  assert.equal(gMsg.transient, false);

  // Go → page, persistent: on the stream, with the id the Go SDK got back.
  const sent = await gopher.call('send', { peer: 'gopher', to: ['webpage'], text: 'hello page, from Go over QUIC' });
  assert.match(sent.id, /^[0-9A-Za-z]{14}$/);
  const pMsg = await waitFrame(page, (e) => e.cmd.cmd === 'direct' && e.cmd.msg === 'hello page, from Go over QUIC', 'persistent direct');
  assert.equal(pMsg.via, 'stream', 'persistent messages travel on the stream');
  assert.equal(pMsg.cmd.id, sent.id);
  assert.equal(pMsg.cmd.fromPeerId, 'gopher');
  assert.equal(pMsg.cmd.peerId, 'webpage');
  assert.ok(!pMsg.cmd.transient);
  await page.evaluate((id) => W.send({ cmd: 'ack', peerId: 'webpage', ids: [id] }), pMsg.cmd.id);

  // Go → page, transient: as a datagram (wt.datagrams.readable), not on the stream.
  await gopher.call('send', { peer: 'gopher', to: ['webpage'], text: 'transient via datagram', transient: true });
  const dg = await waitFrame(page, (e) => e.cmd.cmd === 'direct' && e.cmd.msg === 'transient via datagram', 'transient direct');
  assert.equal(dg.via, 'datagram', 'the transient message arrived as a WebTransport datagram');
  assert.equal(dg.cmd.transient, true);
  assert.equal(dg.cmd.fromPeerId, 'gopher');
  await sleep(200);
  const all = await page.evaluate(() => W.events);
  assert.equal(all.filter((e) => e.cmd.msg === 'transient via datagram').length, 1, 'delivered once, not also on the stream');

  // Keepalive round trip on the stream still works after all that.
  await page.evaluate(() => W.send({}));
  await waitFrame(page, (e) => e.via === 'stream' && e.cmd && Object.keys(e.cmd).length === 0, 'keepalive reply');

  // The page leaves: the Go peer sees it go offline.
  await page.evaluate(() => W.send({ cmd: 'session', op: 'close', peerId: 'webpage', i: 3 }));
  await waitFrame(page, (e) => e.via === 'stream' && e.cmd.op === 'closed' && e.cmd.i === 3, 'session closed');
  const off = await gopher.waitEvent((e) => e.ev === 'offline' && e.peers.includes('webpage'));
  assert.equal(off.peer, 'gopher');

  await screenshot(page, 'webtransport');
  assert.deepEqual(await page.evaluate(() => W.errors), []);
  assert.deepEqual(pageErrors, []);
  await page.evaluate(() => W.close());
});
