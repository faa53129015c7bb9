// js-sdk-peer drives the rtgate JS SDK (web/dist/rtgate.mjs, the browser
// SDK) in node for the Java interop tests, over long-poll (what a browser
// without WebSocket uses), speaking JSON lines like legacy-peer.js.
// Usage: node js-sdk-peer.mjs REPO BASE APPID
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const [, , repo, base, appId] = process.argv;
const sdk = await import(pathToFileURL(path.join(repo, 'web', 'dist', 'rtgate.mjs')).href);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const EVENTS = ['message', 'online', 'offline', 'joined', 'left', 'membersJoined', 'membersLeft'];

let client = null;
const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => { queue = queue.then(() => handle(JSON.parse(line))); });
rl.on('close', () => {
  queue.then(async () => {
    if (client) {
      try { await client.close(); } catch { /* already closed */ }
    }
    process.exit(0);
  });
});

async function handle(r) {
  try {
    let res;
    switch (r.op) {
      case 'open':
        client = new sdk.Client({ url: base, appId, peerId: r.peer, watch: r.watch || [], transports: ['longpoll'] });
        for (const ev of EVENTS) client.on(ev, (data) => out({ ev, data }));
        await client.connect();
        res = { transport: client.transport };
        break;
      case 'send':
        res = await client.send(r.to, r.text);
        break;
      case 'joinGroup':
        res = await client.joinGroup(r.room);
        break;
      case 'sendGroup':
        res = await client.sendToGroup(r.room, r.text);
        break;
      default:
        throw new Error('unknown op ' + r.op);
    }
    out({ seq: r.seq, reply: res === undefined ? null : res });
  } catch (e) {
    out({ seq: r.seq, error: String((e && e.message) || e) });
  }
}
