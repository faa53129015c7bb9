'use strict';
// legacy-peer drives the unmodified lean-cloud-chat@1.0.4 client (installed
// in test/js by `npm ci`) for the Java interop tests, over JSON lines like
// test/browser/gopeer: each stdin line {"seq":N,"op":..,...} gets one stdout
// line {"seq":N,...} or {"seq":N,"error":".."}; chat.js events are lines
// {"ev":<name>,"data":<payload>}. Usage: node legacy-peer.js REPO BASE APPID
const path = require('node:path');
const readline = require('node:readline');

const [, , repo, base, appId] = process.argv;
const { loadChat } = require(path.join(repo, 'test', 'js', 'lib', 'harness.js'));
const AVChatClient = loadChat(base);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const EVENTS = ['message', 'online', 'offline', 'joined', 'left', 'membersJoined', 'membersLeft', 'close'];

let chat = null;
const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(() => handle(JSON.parse(line)));
});
rl.on('close', () => {
  queue.then(async () => {
    if (chat) {
      try { await chat.close(); } catch { /* already closed */ }
    }
    process.exit(0);
  });
});

async function handle(r) {
  try {
    let res;
    switch (r.op) {
      case 'open':
        chat = new AVChatClient({ appId, peerId: r.peer, watchingPeerIds: r.watch || [] });
        for (const ev of EVENTS) chat.on(ev, (data) => out({ ev, data: ev === 'close' ? { code: data && data.code } : data }));
        res = await chat.open();
        break;
      case 'send':
        res = await chat.send(r.text, r.to, !!r.transient);
        break;
      case 'joinGroup':
        res = await chat.joinGroup(r.room || undefined);
        break;
      case 'invite':
        res = await chat.inviteToGroup(r.room, r.to);
        break;
      case 'sendGroup':
        res = await chat.sendToGroup(r.text, r.room, !!r.transient);
        break;
      default:
        throw new Error('unknown op ' + r.op);
    }
    out({ seq: r.seq, reply: res === undefined ? null : res });
  } catch (e) {
    out({ seq: r.seq, error: String((e && e.message) || e) });
  }
}
