'use strict';
// Test harness for the Node compatibility suite: starts the real rtgate
// binary on a free loopback port and points the 2014 lean-cloud-chat client
// at it (its router host is hard-coded; we rewrite it in a small
// XMLHttpRequest stand-in, and give it a modern WebSocket).

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const net = require('node:net');
const { before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
// Real timers, captured before any test mocks them (keepalive.test.js
// enables node:test's MockTimers; our own timeouts must keep working).
const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = require('node:timers');

const repoRoot = path.resolve(__dirname, '..', '..', '..');

// Router hosts the v1 clients hard-code (protocol-v1.md §1.1).
const ROUTER_HOST = /^router[-.](g0|a0)[-.]push\.(avoscloud\.com|avoscloud\.us|leancloud\.cn)$/;

let builtBinary = null;

// binary returns the rtgate binary: $RTGATE_BIN, or one built once with go.
function binary() {
  if (process.env.RTGATE_BIN) return process.env.RTGATE_BIN;
  if (builtBinary) return builtBinary;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtgate-js-bin-'));
  builtBinary = path.join(dir, 'rtgate');
  execFileSync('go', ['build', '-o', builtBinary, './cmd/rtgate'], { cwd: repoRoot, stdio: 'inherit' });
  return builtBinary;
}

// RTGATE_CLUSTER=N (N >= 2) runs every file against a cluster of N rtgate
// nodes (embedded NATS, R3) instead of one server: see startCluster.
const CLUSTER = Number(process.env.RTGATE_CLUSTER || 0) >= 2 ? Number(process.env.RTGATE_CLUSTER) : 0;

// startServer runs rtgate on 127.0.0.1 with a fresh data dir (unless
// opts.data is given) and resolves once it listens (opts.startMs, default
// 30 s):
// { base: 'http://127.0.0.1:PORT', addr, data, output(), stop(), restart() }.
// opts.listen fixes the address (default 127.0.0.1:0, a free port); opts.args
// are extra flags (e.g. ['--app', 'id:key:master', '--signatures']).
// restart(signal = 'SIGKILL') stops the process and starts a new one on the
// same address and data dir, resolving with the new server object.
function startServer(opts = {}) {
  const data = opts.data || fs.mkdtempSync(path.join(os.tmpdir(), 'rtgate-js-data-'));
  const listen = opts.listen || '127.0.0.1:0';
  const args = ['--listen', listen, '--quic', 'off', '--data', data, ...(opts.args || [])];
  const child = spawn(binary(), args, {
    env: { ...process.env, RTGATE_CONFIG: '', RTGATE_APPS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // The output also goes to <data>/rtgate.log, to read after a failure.
  const logFile = fs.createWriteStream(path.join(data, 'rtgate.log'), { flags: 'a' });
  child.stdout.on('data', (c) => logFile.write(c));
  child.stderr.on('data', (c) => logFile.write(c));
  child.on('exit', () => logFile.end());
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('rtgate did not start:\n' + out));
    }, opts.startMs || 30000);
    const onData = (chunk) => {
      out += chunk;
      const m = /rtgate listening on http:\/\/(\S+)/.exec(out);
      if (m && timer) {
        clearTimeout(timer);
        resolve({
          addr: m[1],
          base: 'http://' + m[1],
          data,
          output: () => out,
          pid: child.pid,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
          async restart(signal = 'SIGKILL') {
            const res = await this.stop(signal);
            const next = await startServer({ ...opts, data, listen: m[1] });
            next.previousExit = res;
            return next;
          },
        });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then(({ code }) => reject(new Error(`rtgate exited (${code}) before listening:\n${out}`)));
  });
}

// freePorts returns n distinct free loopback TCP ports (bound, then released).
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(0, '127.0.0.1', resolve); });
      servers.push(srv);
    }
    return servers.map((srv) => srv.address().port);
  } finally {
    await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  }
}

// startCluster runs n rtgate nodes that form one cluster (each with an
// embedded nats-server, JetStream R3, routes to the others, all on
// 127.0.0.1; node 0 also runs the history indexer) and resolves once every
// node listens, /healthz reports the cluster on each under distinct node
// names, and node 0's router hands out all n nodes. It resolves with
// { nodes, base, addr (node 0's), names, nodeOf(url), output(), stop(signal),
// restart(signal = 'SIGKILL') }. opts.args go to every node. restart stops
// every node with signal and starts them again on the same addresses, data
// dirs and route ports; its result has previousExit (node 0's).
async function startCluster(n, opts = {}) {
  const routePorts = opts.routePorts || await freePorts(n);
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const datas = opts.datas || routePorts.map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'rtgate-js-data-')));
  const listens = opts.listens || routePorts.map(() => '127.0.0.1:0');
  const started = await Promise.allSettled(routePorts.map((p, i) => startServer({
    data: datas[i],
    listen: listens[i],
    startMs: 120000,
    args: ['--node-name', `js${i}`, '--nats-embed', '--nats-listen', '127.0.0.1:0',
      '--nats-cluster', `127.0.0.1:${p}`, '--nats-routes', routes,
      ...(i === 0 ? ['--history-indexer'] : []), ...(opts.args || [])],
  })));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.filter((r) => r.status === 'fulfilled').map((r) => r.value.stop('SIGKILL')));
    throw failed.reason;
  }
  const nodes = started.map((r) => r.value);
  const args = opts.args || [];
  const app = args.includes('--app') ? args[args.indexOf('--app') + 1].split(':')[0] : 'harness';
  const c = {
    cluster: true,
    nodes,
    base: nodes[0].base,
    addr: nodes[0].addr,
    data: datas[0],
    datas,
    names: [],
    // nodeOf returns the index of the node a ws:// or http:// URL points at (-1: none).
    nodeOf(url) {
      const host = new URL(url).host;
      return nodes.findIndex((s) => s.addr === host);
    },
    output: () => nodes.map((s, i) => `--- node ${i} ---\n${s.output()}`).join('\n'),
    // stop stops every node; the result is the first exit that is not 0,
    // not counting the nodes kill() stopped on purpose.
    async stop(signal = 'SIGTERM') {
      const res = await Promise.all(nodes.map((s) => s.stop(signal)));
      const up = res.filter((_, i) => !c.down.has(i));
      return up.find((r) => r.code !== 0) || up[0] || res[0];
    },
    down: new Set(), // indexes of nodes killed by kill() and not revived yet
    // kill stops node i with SIGKILL (its lease then expires on the others).
    async kill(i) {
      c.down.add(i);
      return nodes[i].stop('SIGKILL');
    },
    // revive starts node i again (same address, data dir and routes) and
    // waits until node 0's router hands it out again.
    async revive(i) {
      nodes[i] = await nodes[i].restart('SIGKILL');
      c.down.delete(i);
      await routerHandsOut(c, nodes.map((s) => `ws://${s.addr}/`), app);
    },
    async restart(signal = 'SIGKILL') {
      const res = await Promise.all(nodes.map((s) => s.stop(signal)));
      const next = await startCluster(n, { ...opts, routePorts, datas, listens: nodes.map((s) => s.addr) });
      next.previousExit = res[0];
      return next;
    },
  };
  try {
    for (const s of nodes) {
      const h = await rest(s.base, '/healthz');
      assert.equal(h.status, 200, `healthz of ${s.addr}: ${h.text}`);
      assert.equal(h.body.cluster, 'ok', `healthz of ${s.addr}: ${h.text}`);
      c.names.push(h.body.node);
    }
    assert.equal(new Set(c.names).size, n, `distinct node names: ${c.names}`);
    // The leases that advertise the nodes' URLs reach node 0's router.
    await routerHandsOut(c, nodes.map((s) => `ws://${s.addr}/`), app);
  } catch (err) {
    await c.stop('SIGKILL');
    throw new Error(`${err.message}\n${c.output()}`);
  }
  latestCluster = c;
  return c;
}

// The cluster started last: the one whose node 0 answers chat.js's router
// requests (a restart keeps node 0's address).
let latestCluster = null;

// routerHandsOut waits (at most 30 s) until 2 × want.length requests to
// node 0's router name exactly the URLs of want.
async function routerHandsOut(c, want, app, ms = 30000) {
  want = [...want].sort();
  const deadline = Date.now() + ms;
  for (;;) {
    const seen = new Set();
    for (let i = 0; i < 2 * want.length; i++) {
      const r = await rest(c.base, `/v1/route?appId=${encodeURIComponent(app)}`);
      seen.add(r.body && r.body.server);
    }
    if (JSON.stringify([...seen].sort()) === JSON.stringify(want)) return;
    if (Date.now() > deadline) throw new Error(`node 0's router hands out ${[...seen]}, want ${want}`);
    await new Promise((r) => realSetTimeout(r, 100));
  }
}

// startTarget starts what this run tests: startCluster(RTGATE_CLUSTER, opts)
// when RTGATE_CLUSTER >= 2, else startServer(opts).
function startTarget(opts = {}) {
  return CLUSTER ? startCluster(CLUSTER, opts) : startServer(opts);
}

// Every Peer built in this process, in order (the cluster checks of useServer).
const allPeers = [];

// useServer is the per-file setup of the suite: it registers node:test
// before/after hooks that start one server (startServer(opts)) and point
// chat.js at it (loadChat), then stop it with SIGTERM and assert it exits 0.
// It returns { server, AVChatClient, peer(peerId, settings) }: server and
// AVChatClient are set once before() ran; a test that restarts the server
// assigns the new one to .server so that after() stops it. peer builds a
// Peer with { appId, peerId, ...settings }.
function useServer({ appId, ...opts } = {}) {
  const ctx = {
    server: undefined,
    AVChatClient: undefined,
    peer: (peerId, settings = {}) => new Peer(ctx.AVChatClient, { appId, peerId, ...settings }),
  };
  before(async () => {
    ctx.server = await startTarget(opts);
    ctx.AVChatClient = loadChat(ctx.server.base);
  });
  if (CLUSTER) {
    // On a cluster, chat.js asks node 0's router, which hands out the
    // nodes in turn: the clients a test opened must be on as many
    // different nodes as possible (each client asks once, at its first
    // open). Otherwise the run would prove nothing about the cluster.
    let mark = 0;
    beforeEach(() => { mark = allPeers.length; });
    afterEach(() => { assertSpread(allPeers.slice(mark)); });
  }
  after(async () => {
    if (ctx.server) {
      const { code } = await ctx.server.stop('SIGTERM');
      assert.equal(code, 0, 'rtgate exit code after SIGTERM');
      // Kept (with rtgate.log) only when something went wrong.
      for (const d of ctx.server.datas || [ctx.server.data]) fs.rmSync(d, { recursive: true, force: true });
    }
  });
  return ctx;
}

// assertSpread asserts that the clients of peers that opened landed on
// min(count, nodes) different cluster nodes, for each cluster they first
// opened on (a restarted cluster's router starts its turn anew); a client
// that opened while some node was killed, on a live node. A client
// that re-opens reuses the node the router gave it, so only each client's
// first socket counts.
function assertSpread(peers) {
  const byCluster = new Map();
  for (const p of peers) {
    if (!p.firstOpen) continue;
    if (p.firstOpen.down.length > 0) {
      // Opened while nodes were down (cluster.kill): on a live node.
      assert.ok(p.firstOpen.node >= 0 && !p.firstOpen.down.includes(p.firstOpen.node),
        `${p.peerId} opened on node ${p.firstOpen.node} while nodes ${p.firstOpen.down} were down`);
      continue;
    }
    const list = byCluster.get(p.firstOpen.cluster) || [];
    list.push(p.firstOpen.node);
    byCluster.set(p.firstOpen.cluster, list);
  }
  for (const [cluster, on] of byCluster) {
    assert.ok(on.every((i) => i >= 0), `every client is on a cluster node: ${on}`);
    const want = Math.min(on.length, cluster.nodes.length);
    assert.equal(new Set(on).size, want, `clients on nodes ${on}: want ${want} different nodes`);
  }
}

// routerXHR returns an XMLHttpRequest stand-in, just enough for chat.js's
// get(): open, send, onload, onerror, status, statusText, responseText.
// Requests to the v1 router hosts go to base instead.
function routerXHR(base) {
  const target = new URL(base);
  return class RedirectingXMLHttpRequest {
    constructor() {
      this.readyState = 0;
      this.status = 0;
      this.statusText = '';
      this.responseText = '';
      this.headers = {};
      this.onload = null;
      this.onerror = null;
      this.onreadystatechange = null;
    }
    open(method, url) {
      const u = new URL(url);
      if (ROUTER_HOST.test(u.hostname)) {
        u.protocol = target.protocol;
        u.host = target.host;
      }
      this.method = method;
      this.url = u;
      this.readyState = 1;
    }
    setRequestHeader(k, v) { this.headers[k] = v; }
    send(body) {
      const req = http.request(this.url, { method: this.method, headers: this.headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          this.status = res.statusCode;
          this.statusText = res.statusMessage;
          this.responseText = text;
          this.readyState = 4;
          if (this.onreadystatechange) this.onreadystatechange();
          if (this.onload) this.onload();
        });
      });
      req.on('error', (err) => {
        this.readyState = 4;
        if (this.onreadystatechange) this.onreadystatechange();
        if (this.onerror) this.onerror(err);
      });
      req.end(body == null ? undefined : body);
    }
    abort() {}
  };
}

// Every WebSocket chat.js creates, in creation order. chat.js keeps its
// socket in a closure; recording them lets a test read the raw frames (what
// chat.js does not surface, e.g. `room reject`) and check what it sent.
const sockets = [];

let RecordingWebSocket = null;
function recordingWebSocket() {
  if (RecordingWebSocket) return RecordingWebSocket;
  const WS = require('ws');
  RecordingWebSocket = class RecordingWebSocket extends WS {
    constructor(...args) {
      super(...args);
      this.rawIn = [];   // text frames received, in order
      this.rawOut = [];  // text frames sent, in order
      this.claimed = false;
      this.inWaiters = [];
      this.on('message', (data, isBinary) => {
        const text = isBinary ? data : data.toString('utf8');
        this.rawIn.push(text);
        for (const w of this.inWaiters.slice()) w();
      });
      sockets.push(this);
    }
    send(data, ...rest) {
      this.rawOut.push(typeof data === 'string' ? data : String(data));
      return super.send(data, ...rest);
    }
    // nextIn resolves with the first received frame (parsed JSON) at index
    // >= from matching pred: { frame, index }.
    nextIn(pred, { from = 0, ms = 5000, what = 'frame' } = {}) {
      return waitUntil(() => {
        for (let i = from; i < this.rawIn.length; i++) {
          let f;
          try { f = JSON.parse(this.rawIn[i]); } catch { continue; }
          if (pred(f)) return { frame: f, index: i };
        }
        return undefined;
      }, (wake) => { this.inWaiters.push(wake); return () => { this.inWaiters = this.inWaiters.filter((w) => w !== wake); }; }, ms, what);
    }
  };
  return RecordingWebSocket;
}

// waitUntil resolves with check()'s first non-undefined value, re-checking
// whenever subscribe's wake is called; rejects after ms.
function waitUntil(check, subscribe, ms, what) {
  return new Promise((resolve, reject) => {
    const first = check();
    if (first !== undefined) return resolve(first);
    let unsub = () => {};
    const t = realSetTimeout(() => { unsub(); reject(new Error(`timeout (${ms} ms) waiting for ${what}`)); }, ms);
    unsub = subscribe(() => {
      const v = check();
      if (v !== undefined) { realClearTimeout(t); unsub(); resolve(v); }
    });
  });
}

// loadChat installs the globals chat.js looks for (a redirecting
// XMLHttpRequest and ws@8 as WebSocket, recorded in `sockets`) and returns
// AVChatClient. chat.js reads the globals on every call, so a later
// loadChat(base) re-points it (clients created earlier keep the server the
// router gave them, chat.js caches it for the router's ttl).
function loadChat(base) {
  globalThis.XMLHttpRequest = routerXHR(base);
  globalThis.WebSocket = recordingWebSocket();
  return require('lean-cloud-chat');
}

// once resolves with the first emission of event on a chat client.
function once(client, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = realSetTimeout(() => reject(new Error('timeout waiting for ' + event)), ms);
    client.on(event, (v) => { realClearTimeout(t); resolve(v); });
  });
}

// The events chat.js emits (see AVChatClient in chat.js).
const EVENTS = ['online', 'offline', 'message', 'close', 'joined', 'left', 'membersJoined', 'membersLeft'];

// Peer wraps one AVChatClient and records every event it emits from the
// start, so nothing is missed between an action and the wait for its event.
class Peer {
  constructor(AVChatClient, settings) {
    this.settings = settings;
    this.peerId = settings.peerId;
    this.chat = new AVChatClient(settings);
    allPeers.push(this);
    this.events = {};
    this.sequence = []; // [name, value] of every event, in emission order
    this.waiters = [];
    this.sockets = [];
    for (const name of EVENTS) {
      this.events[name] = [];
      this.chat.on(name, (v) => {
        this.events[name].push(v);
        this.sequence.push([name, v]);
        for (const w of this.waiters.slice()) w();
      });
    }
  }

  // open calls chat.open() and remembers the socket it created.
  async open() {
    const before = sockets.length;
    const p = this.chat.open();
    try {
      return await p;
    } finally {
      const s = sockets.slice(before).find((ws) => !ws.claimed && ws.rawOut.some((f) => {
        try { const c = JSON.parse(f); return c.cmd === 'session' && c.op === 'open' && c.peerId === this.peerId; } catch { return false; }
      }));
      if (s) {
        s.claimed = true;
        this.sockets.push(s);
        if (!this.firstOpen && latestCluster) {
          this.firstOpen = { cluster: latestCluster, node: latestCluster.nodeOf(s.url), down: [...latestCluster.down] };
        }
      }
    }
  }

  // The rest of AVChatClient's API, passed through unchanged.
  send(...a) { return this.chat.send(...a); }
  watch(...a) { return this.chat.watch(...a); }
  unwatch(...a) { return this.chat.unwatch(...a); }
  getStatus(...a) { return this.chat.getStatus(...a); }
  joinGroup(...a) { return this.chat.joinGroup(...a); }
  sendToGroup(...a) { return this.chat.sendToGroup(...a); }
  inviteToGroup(...a) { return this.chat.inviteToGroup(...a); }
  kickFromGroup(...a) { return this.chat.kickFromGroup(...a); }
  leaveGroup(...a) { return this.chat.leaveGroup(...a); }

  // socket is the WebSocket of the latest open.
  get socket() { return this.sockets[this.sockets.length - 1]; }

  // close calls chat.close() when this peer ever opened a socket (chat.js's
  // close() on a never-connected client throws and leaves its 60 s
  // keepalive timer armed, which would later throw on the missing socket).
  async close() {
    if (this.sockets.length === 0) return;
    await this.chat.close();
  }

  // next resolves with the first recorded `name` event matching pred that
  // an earlier next() did not already return; rejects after ms.
  next(name, pred = () => true, ms = 5000) {
    if (!this.events[name]) throw new Error('unknown event ' + name);
    this.taken = this.taken || {};
    const taken = (this.taken[name] = this.taken[name] || new Set());
    return waitUntil(() => {
      const list = this.events[name];
      for (let i = 0; i < list.length; i++) {
        if (!taken.has(i) && pred(list[i])) { taken.add(i); return list[i]; }
      }
      return undefined;
    }, (wake) => { this.waiters.push(wake); return () => { this.waiters = this.waiters.filter((w) => w !== wake); }; },
    ms, `${this.peerId}: ${name}`);
  }

  // until resolves once pred(this) holds (checked after every event).
  until(pred, ms = 5000, what = 'condition') {
    return waitUntil(() => (pred(this) ? true : undefined),
      (wake) => { this.waiters.push(wake); return () => { this.waiters = this.waiters.filter((w) => w !== wake); }; },
      ms, `${this.peerId}: ${what}`);
  }

  // message waits for a message event whose msg is text.
  message(text, ms) { return this.next('message', (m) => m.msg === text, ms); }

  // closed resolves with the CloseEvent of the chat's 'close' event.
  closed(ms) { return this.next('close', () => true, ms); }
}

// uid returns a peer id unique to this run: prefix + random suffix.
function uid(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

// Signatures (spec/groups-signatures.md): hex HMAC-SHA1(masterKey, fields.join(':')).
function hmac(masterKey, fields) {
  return crypto.createHmac('sha1', masterKey).update(fields.join(':')).digest('hex');
}
function nowSeconds() { return Math.floor(Date.now() / 1000); }
function signSession(appId, masterKey, peerId, watchIds, { t = nowSeconds(), n = crypto.randomBytes(6).toString('hex') } = {}) {
  const sorted = [...watchIds].sort();
  return { s: hmac(masterKey, [appId, peerId, sorted.join(':'), t, n]), t, n };
}
function signRoom(appId, masterKey, peerId, groupId, targets, action, { t = nowSeconds(), n = crypto.randomBytes(6).toString('hex') } = {}) {
  const sorted = [...targets].sort();
  return { s: hmac(masterKey, [appId, peerId, groupId || '', sorted.join(':'), t, n, action]), t, n };
}

// rest performs an HTTP request against base and resolves with
// { status, headers, body (parsed JSON when possible), text }.
function rest(base, pathAndQuery, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathAndQuery, base), { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed;
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)));
  });
}

// rawClient opens a plain ws@8 connection to the server's WebSocket (v1
// dialect: no subprotocol) and resolves with helpers: send(obj|string),
// next(pred, ms) over received JSON frames (each returned once, in order),
// closed (a promise of {code, reason}), close().
function rawClient(base) {
  const WS = require('ws');
  const url = base.replace(/^http/, 'ws') + '/';
  const ws = new WS(url);
  const frames = [];
  let waiters = [];
  let cursor = 0;
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString('utf8')));
    for (const w of waiters.slice()) w();
  });
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => resolve({
      ws,
      frames,
      closed,
      send(obj) { ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); },
      // next returns the next frame (after the previous next()) matching pred;
      // frames skipped over are not returned again.
      next(pred = () => true, ms = 5000) {
        return waitUntil(() => {
          while (cursor < frames.length) {
            const f = frames[cursor++];
            if (pred(f)) return f;
          }
          return undefined;
        }, (wake) => { waiters.push(wake); return () => { waiters = waiters.filter((w) => w !== wake); }; }, ms, 'raw frame');
      },
      close() { ws.close(); return closed; },
    }));
  });
}

// withTimeout rejects if p does not settle within ms.
function withTimeout(p, ms, what) {
  return new Promise((resolve, reject) => {
    const t = realSetTimeout(() => reject(new Error(`timeout (${ms} ms): ${what}`)), ms);
    Promise.resolve(p).then((v) => { realClearTimeout(t); resolve(v); }, (e) => { realClearTimeout(t); reject(e); });
  });
}

// settle resolves with {ok: true, value} or {ok: false, error} (never rejects
// itself), so a test can assert how a chat.js promise ended.
function settle(p) {
  return Promise.resolve(p).then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
}

// closeAll closes every peer, ignoring errors (for finally blocks).
// storeSettled resolves once the server's store has no delayed inbox
// entries (/metrics rtgate_store_inbox_delayed 0): a crash then cannot
// redeliver what was acknowledged (see storage.inboxDelay).
// On a cluster (RTGATE_CLUSTER) there is no such delay: the JetStream
// store deletes an acknowledged message from the R3 inbox stream before
// the ack command completes (storage/jetstream Remove), so a crash after
// that cannot bring it back; it returns at once.
async function storeSettled(base, ms = 10000) {
  if (CLUSTER) return;
  const deadline = Date.now() + ms;
  for (;;) {
    const { text } = await rest(base, '/metrics');
    if (/^rtgate_store_inbox_delayed 0$/m.test(text)) return;
    if (Date.now() > deadline) throw new Error('delayed inbox entries did not settle in ' + ms + ' ms');
    await new Promise((r) => realSetTimeout(r, 50));
  }
}

async function closeAll(...peers) {
  for (const p of peers.flat()) {
    try { await p.close(); } catch { /* already closed */ }
  }
}

module.exports = {
  startServer, startCluster, startTarget, CLUSTER, useServer, loadChat, routerXHR, once, binary, sockets, Peer, uid,
  hmac, signSession, signRoom, nowSeconds, rest, rawClient, withTimeout, settle, closeAll, storeSettled,
  realSetTimeout, realClearTimeout,
};
