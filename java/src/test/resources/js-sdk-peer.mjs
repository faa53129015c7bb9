// js-sdk-peer drives the rtgate JS SDK (web/dist/rtgate.mjs, the browser
// SDK) in node for the Java interop tests, over long-poll (what a browser
// without WebSocket uses), speaking the JSON lines of line-peer.mjs.
// Usage: node js-sdk-peer.mjs REPO BASE APPID
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { out, serve } from './line-peer.mjs';

const [, , repo, base, appId] = process.argv;
const sdk = await import(pathToFileURL(path.join(repo, 'web', 'dist', 'rtgate.mjs')).href);
const EVENTS = ['message', 'online', 'offline', 'joined', 'left', 'membersJoined', 'membersLeft'];

let client = null;
serve(async (r) => {
  switch (r.op) {
    case 'open':
      client = new sdk.Client({ url: base, appId, peerId: r.peer, watch: r.watch || [], transports: ['longpoll'] });
      for (const ev of EVENTS) client.on(ev, (data) => out({ ev, data }));
      await client.connect();
      return { transport: client.transport };
    case 'send': return client.send(r.to, r.text);
    case 'joinGroup': return client.joinGroup(r.room);
    case 'sendGroup': return client.sendToGroup(r.room, r.text);
    default: throw new Error('unknown op ' + r.op);
  }
}, async () => { if (client) await client.close(); });
