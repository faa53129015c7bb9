// The 2014 lean-cloud-chat client (npm lean-cloud-chat@1.0.4, unmodified)
// against rtgate, in Node: bob opens a session, alice opens one watching
// bob and sends him "hello bob", bob prints it, both close.
//
//   cd examples && npm ci --ignore-scripts && node lean-cloud-chat.js
//
// RTGATE_URL is the server (default http://127.0.0.1:8080, what
// `go run ./cmd/rtgate` listens on). The client asks the hard-coded router
// host router-g0-push.avoscloud.com for its WebSocket URL; the small
// XMLHttpRequest below sends that request to rtgate instead. In a browser
// you would point that host at rtgate (DNS or /etc/hosts) instead.
'use strict';
const http = require('http');
const https = require('https');

const RTGATE = new URL(process.env.RTGATE_URL || 'http://127.0.0.1:8080');

// RouterXHR is just enough XMLHttpRequest for the client's router GET:
// requests to *.avoscloud.com go to rtgate.
class RouterXHR {
  open(method, url) {
    this.method = method;
    this.url = new URL(url);
    if (this.url.hostname.endsWith('avoscloud.com')) {
      this.url.protocol = RTGATE.protocol;
      this.url.host = RTGATE.host;
    }
  }
  setRequestHeader() {}
  send(body) {
    const lib = this.url.protocol === 'https:' ? https : http;
    const req = lib.request(this.url, { method: this.method }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        this.status = res.statusCode;
        this.responseText = text;
        this.readyState = 4;
        if (this.onreadystatechange) this.onreadystatechange();
        if (this.onload) this.onload();
      });
    });
    req.on('error', (err) => { if (this.onerror) this.onerror(err); });
    req.end(body);
  }
}

// chat.js uses these globals when they exist.
globalThis.XMLHttpRequest = RouterXHR;
globalThis.WebSocket = require('ws');
const AVChatClient = require('lean-cloud-chat');

async function main() {
  const appId = 'demo'; // any app id works in dev mode (no config file)
  const bob = new AVChatClient({ appId, peerId: 'bob', watchingPeerIds: [] });
  const alice = new AVChatClient({ appId, peerId: 'alice', watchingPeerIds: ['bob'] });
  // bob prints every message, also those stored for him while he was
  // offline (they come first, with m.offline set), until alice's arrives.
  const received = new Promise((resolve) => bob.on('message', (m) => {
    console.log(`bob got "${m.msg}" from ${m.fromPeerId}${m.offline ? ' (sent while he was offline)' : ''}`);
    if (m.fromPeerId === 'alice' && m.msg === 'hello bob' && !m.offline) resolve();
  }));
  await bob.open();
  await alice.open(); // v1 rule: alice may message bob because she watches him
  await alice.send('hello bob', 'bob');
  await received;
  await alice.close();
  await bob.close();
}

const timer = setTimeout(() => {
  console.error(`no message within 10 s: is rtgate running at ${RTGATE.origin}? (go run ./cmd/rtgate)`);
  process.exit(1);
}, 10000);
main().then(() => { clearTimeout(timer); process.exit(0); }, (err) => {
  console.error('failed:', err && err.message ? err.message : err);
  process.exit(1);
});
