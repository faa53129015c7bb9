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

// startServer runs rtgate on 127.0.0.1 with a fresh data dir (unless
// opts.data is given) and resolves once it listens:
// { base: 'http://127.0.0.1:PORT', addr, data, output(), stop() }.
function startServer(opts = {}) {
  const data = opts.data || fs.mkdtempSync(path.join(os.tmpdir(), 'rtgate-js-data-'));
  const args = ['--listen', '127.0.0.1:0', '--quic', '127.0.0.1:0', '--data', data, ...(opts.args || [])];
  const child = spawn(binary(), args, {
    env: { ...process.env, RTGATE_CONFIG: '', RTGATE_APPS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('rtgate did not start:\n' + out));
    }, 30000);
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
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then(({ code }) => reject(new Error(`rtgate exited (${code}) before listening:\n${out}`)));
  });
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

// loadChat installs the globals chat.js looks for (a redirecting
// XMLHttpRequest and ws@8 as WebSocket) and returns AVChatClient. chat.js
// reads the globals on every call, so a later loadChat(base) re-points it.
function loadChat(base) {
  globalThis.XMLHttpRequest = routerXHR(base);
  globalThis.WebSocket = require('ws');
  return require('lean-cloud-chat');
}

// once resolves with the first emission of event on a chat client.
function once(client, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout waiting for ' + event)), ms);
    client.on(event, (v) => { clearTimeout(t); resolve(v); });
  });
}

module.exports = { startServer, loadChat, routerXHR, once, binary };
