'use strict';
// A Go program using only the Go SDK (client/, driven through the JSON-lines
// peer test/browser/gopeer) and the unmodified lean-cloud-chat@1.0.4 chat.js
// talk over WebSocket: presence both ways and direct messages both ways.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { startTarget, loadChat, Peer, uid, withTimeout } = require('./lib/harness');

const repoRoot = path.resolve(__dirname, '..', '..');
let server;
let AVChatClient;
let binDir;

// goPeer runs test/browser/gopeer: call(op, args) sends one JSON line and
// resolves with its reply; event(pred) waits for a matching event line.
function goPeer(url, app) {
  const bin = path.join(binDir, 'gopeer');
  const child = spawn(bin, ['-url', url, '-app', app], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const pending = new Map();
  const events = [];
  const waiters = [];
  let seq = 0;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line);
    if (m.seq && pending.has(m.seq)) {
      const p = pending.get(m.seq);
      pending.delete(m.seq);
      if (m.error) p.reject(new Error(m.error)); else p.resolve(m);
      return;
    }
    events.push(m);
    for (const w of waiters.splice(0)) if (!w(m)) waiters.push(w);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    call(op, args = {}) {
      const n = ++seq;
      const p = new Promise((resolve, reject) => {
        pending.set(n, { resolve, reject });
        child.stdin.write(JSON.stringify({ seq: n, op, ...args }) + '\n');
      });
      return withTimeout(p, 15000, 'gopeer ' + op + ': ' + stderr);
    },
    event(pred, what) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      const p = new Promise((resolve) => waiters.push((m) => (pred(m) ? (resolve(m), true) : false)));
      return withTimeout(p, 10000, what + '; events: ' + JSON.stringify(events) + ' ' + stderr);
    },
    async stop() {
      child.stdin.end();
      await withTimeout(exited, 10000, 'gopeer exit').catch(() => child.kill('SIGKILL'));
    },
  };
}

before(async () => {
  binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtgate-gopeer-'));
  execFileSync('go', ['build', '-o', path.join(binDir, 'gopeer'), './test/browser/gopeer'],
    { cwd: repoRoot, stdio: 'inherit', timeout: 300000 });
  server = await startTarget(); // a cluster with RTGATE_CLUSTER
  AVChatClient = loadChat(server.base);
});

after(async () => {
  if (server && (await server.stop('SIGTERM')).code === 0) {
    for (const d of server.datas || [server.data]) fs.rmSync(d, { recursive: true, force: true });
  }
  if (binDir) fs.rmSync(binDir, { recursive: true, force: true });
});

test('Go SDK peer and lean-cloud-chat exchange messages over WebSocket', async () => {
  const appId = 'compat-gosdk';
  const gopher = uid('gopher');
  const js = new Peer(AVChatClient, { appId, peerId: uid('js'), watchingPeerIds: [gopher] });
  let go;
  try {
    await js.open();
    // On a cluster, the Go peer connects to another node than chat.js.
    let goAddr = server.addr;
    if (server.nodes) {
      const jsNode = server.nodeOf(js.socket.url);
      assert.ok(jsNode >= 0, js.socket.url);
      goAddr = server.nodes[(jsNode + 1) % server.nodes.length].addr;
    }
    go = goPeer('ws://' + goAddr + '/', appId);
    const opened = await go.call('open', { peer: gopher, watch: [js.peerId] });
    assert.deepEqual(opened.online, [js.peerId], 'the Go peer sees the JS peer online');
    assert.equal(opened.transport, 'ws');
    await js.next('online', (peers) => peers.includes(gopher));

    // JS -> Go (persistent: acked by the server).
    const ack = await js.send('hello from chat.js', gopher);
    const got = await go.event((m) => m.ev === 'message' && m.text === 'hello from chat.js', 'Go peer message');
    assert.equal(got.from, js.peerId);
    assert.equal(got.id, ack.uid);

    // Go -> JS.
    const sent = await go.call('send', { peer: gopher, to: [js.peerId], text: 'hello from Go' });
    const m = await js.message('hello from Go');
    assert.equal(m.fromPeerId, gopher);
    assert.equal(m.id, sent.id);

    // The Go peer leaves: the JS client sees it go offline.
    await go.call('close', { peer: gopher });
    await js.next('offline', (peers) => peers.includes(gopher));
  } finally {
    if (go) await go.stop();
    await js.close();
  }
});
