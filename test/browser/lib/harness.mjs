// Harness for the browser suite: the real rtgate binary, a tiny static file
// server, headless Debian Chromium driven by playwright-core over CDP, and
// the Go SDK peer (gopeer/). Everything listens on 127.0.0.1 only and every
// wait is bounded.
//
// Chromium: we spawn /usr/bin/chromium ourselves (the flag list of
// reference/transports.md §3, a fresh --user-data-dir) and attach with
// chromium.connectOverCDP, so we own its PID: close() kills that PID, waits
// for the exit and only then removes the profile, with retries (pitfall
// #13: helper processes still write to it right after the main process
// exits). playwright-core never downloads a browser.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const suiteDir = path.resolve(here, '..');
export const repoRoot = path.resolve(suiteDir, '..', '..');
export const artifactsDir = path.join(suiteDir, 'artifacts');
export const CHROMIUM = process.env.RTGATE_CHROMIUM || '/usr/bin/chromium';

// withTimeout rejects after ms with a message naming what was awaited.
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// rmrf removes dir, retrying while files still appear in it.
export async function rmrf(dir) {
  for (let i = 0; i < 20; i++) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      return;
    } catch (err) {
      if (i === 19) throw err;
      await sleep(250);
    }
  }
}

let builtBinary = null;

// binary returns the rtgate binary: $RTGATE_BIN (test.sh builds it), or one
// built once with go.
export function binary() {
  if (process.env.RTGATE_BIN) return process.env.RTGATE_BIN;
  if (!builtBinary) {
    builtBinary = path.join(tmpDir('rtgate-browser-bin-'), 'rtgate');
    execFileSync('go', ['build', '-o', builtBinary, './cmd/rtgate'], { cwd: repoRoot, stdio: 'inherit', timeout: 300000 });
  }
  return builtBinary;
}

// startServer runs rtgate on free loopback ports (HTTP and QUIC) with a
// fresh data dir and resolves once both listen:
// { addr, base, quicAddr, certinfo: {sha256, sha256Base64, ...}, output(), stop() }.
export async function startServer(extraArgs = []) {
  const data = tmpDir('rtgate-browser-data-');
  const args = ['--listen', '127.0.0.1:0', '--quic', '127.0.0.1:0', '--data', data, ...extraArgs];
  const child = spawn(binary(), args, {
    env: { ...process.env, RTGATE_CONFIG: '', RTGATE_APPS: '', RTGATE_PUBLIC_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      out += chunk;
      const h = /rtgate listening on http:\/\/(\S+)/.exec(out);
      const q = /rtgate QUIC on (\S+) .*certificate sha256 ([0-9a-f]+) \(base64 (\S+);/.exec(out);
      if (h && q) resolve({ addr: h[1], quicAddr: q[1], sha256: q[2], sha256Base64: q[3] });
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then(({ code, signal }) => reject(new Error(`rtgate exited (${code ?? signal}) before listening:\n${out}`)));
  });
  let info;
  try {
    info = await withTimeout(ready, 30000, 'rtgate to listen');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const base = 'http://' + info.addr;
  const res = await withTimeout(fetch(base + '/certinfo'), 5000, 'GET /certinfo');
  const certinfo = await res.json();
  return {
    ...info,
    base,
    data,
    certinfo,
    pid: child.pid,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      try {
        await withTimeout(exited, 20000, 'rtgate to exit');
      } catch {
        child.kill('SIGKILL');
        await withTimeout(exited, 5000, 'rtgate to die');
      }
      await rmrf(data);
    },
  };
}

// startStatic serves files ({'/path': {body, type}} or a function(url) that
// returns one or null) on 127.0.0.1:0. Resolves { base, close() }.
export async function startStatic(files) {
  const lookup = typeof files === 'function' ? files : (p) => files[p] || null;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const f = lookup(u.pathname);
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' });
    res.end(f.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// Loopback only: every host name fails to resolve (IP literals such as
// 127.0.0.1 are not names). A test that maps a name passes its own
// --host-resolver-rules, which replaces this one.
export const LOOPBACK_ONLY = '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1';

// launchBrowser starts headless Chromium with a fresh profile and attaches
// playwright-core to it: { browser, pid, close() }.
export async function launchBrowser(extraFlags = []) {
  const profile = tmpDir('rtgate-browser-profile-');
  const resolver = extraFlags.some((f) => f.startsWith('--host-resolver-rules=')) ? [] : [LOOPBACK_ONLY];
  const child = spawn(CHROMIUM, [
    ...CHROMIUM_FLAGS, ...resolver, ...extraFlags,
    '--user-data-dir=' + profile,
    '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0',
    'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const endpoint = new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    exited.then(({ code, signal }) => reject(new Error(`chromium exited (${code ?? signal}):\n${err}`)));
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    try {
      await withTimeout(exited, 10000, 'chromium to exit');
    } catch {
      child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'chromium to die');
    }
    await sleep(500); // helpers may still write to the profile (pitfall #13)
    await rmrf(profile);
  };
  let browser;
  try {
    const ws = await withTimeout(endpoint, 30000, 'chromium DevTools endpoint');
    browser = await withTimeout(chromium.connectOverCDP(ws), 30000, 'connectOverCDP');
  } catch (e) {
    await kill();
    throw e;
  }
  return {
    browser,
    pid: child.pid,
    stderr: () => err,
    async close() {
      try { await withTimeout(browser.close(), 5000, 'browser.close'); } catch {}
      await kill();
    },
  };
}

// screenshot saves a full-page PNG to artifacts/NAME.png and returns its path.
export async function screenshot(page, name) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  // A background tab produces no frames in headless Chromium: bring it to
  // the front first, or the screenshot waits forever.
  await withTimeout(page.bringToFront(), 5000, 'bringToFront ' + name);
  const file = path.join(artifactsDir, name + '.png');
  await withTimeout(page.screenshot({ path: file, fullPage: true }), 15000, 'screenshot ' + name);
  return file;
}

let builtPeer = null;

// The binaries this process built live in temp dirs removed at exit.
process.on('exit', () => {
  for (const f of [builtPeer, builtBinary]) {
    if (f) try { fs.rmSync(path.dirname(f), { recursive: true, force: true }); } catch {}
  }
});

// goPeerBinary builds gopeer/ once.
export function goPeerBinary() {
  if (!builtPeer) {
    builtPeer = path.join(tmpDir('rtgate-gopeer-'), 'gopeer');
    execFileSync('go', ['build', '-o', builtPeer, './test/browser/gopeer'], { cwd: repoRoot, stdio: 'inherit', timeout: 300000 });
  }
  return builtPeer;
}

// startGoPeer runs the Go SDK peer connected to url (pin: hex sha256 of the
// server certificate for quic:// and https:// URLs). It speaks JSON lines:
// call(op, args) sends {seq, op, ...args} and resolves with the reply;
// events are collected in peer.events and waitEvent(pred) waits for one.
export async function startGoPeer(url, { pin = '', app = 'dev' } = {}) {
  const child = spawn(goPeerBinary(), ['-url', url, '-pin', pin, '-app', app], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const events = [];
  const waiters = new Set();
  const pending = new Map();
  let seq = 0;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let m;
    try { m = JSON.parse(line); } catch { stderr += 'bad line: ' + line + '\n'; return; }
    if (m.seq && pending.has(m.seq)) {
      const p = pending.get(m.seq);
      pending.delete(m.seq);
      if (m.error) p.reject(new Error(`gopeer ${p.op}: ${m.error}`)); else p.resolve(m);
      return;
    }
    events.push(m);
    for (const w of waiters) if (w.pred(m)) { waiters.delete(w); w.resolve(m); }
  });
  exited.then(({ code, signal }) => {
    for (const p of pending.values()) p.reject(new Error(`gopeer exited (${code ?? signal}): ${stderr}`));
    pending.clear();
  });
  const peer = {
    events,
    stderr: () => stderr,
    call(op, args = {}, ms = 15000) {
      const n = ++seq;
      const p = new Promise((resolve, reject) => {
        pending.set(n, { resolve, reject, op });
        child.stdin.write(JSON.stringify({ seq: n, op, ...args }) + '\n');
      });
      return withTimeout(p, ms, 'gopeer ' + op + '\n' + stderr);
    },
    waitEvent(pred, ms = 10000, what = 'gopeer event') {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      let w;
      const p = new Promise((resolve) => { w = { pred, resolve }; waiters.add(w); });
      return withTimeout(p, ms, what + '; events so far: ' + JSON.stringify(events)).finally(() => waiters.delete(w));
    },
    async stop() {
      try { child.stdin.end(); } catch {}
      try {
        await withTimeout(exited, 10000, 'gopeer to exit');
      } catch {
        child.kill('SIGKILL');
        await withTimeout(exited, 5000, 'gopeer to die');
      }
    },
  };
  await peer.call('hello', {}, 20000); // connected (the client dials lazily; hello just checks the process)
  return peer;
}
