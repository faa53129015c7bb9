// js-browser-peer drives the rtgate JS SDK inside headless Debian Chromium
// (test/browser's harness: playwright-core over CDP, never a downloaded
// browser) for the Java interop tests, speaking the JSON lines of
// line-peer.mjs. The page is a document of the server's own origin that
// imports /sdk/rtgate.mjs; the SDK picks its transport as in any browser
// (the Java tests' servers run without QUIC, so WebSocket).
// Usage: node js-browser-peer.mjs REPO BASE APPID
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { out, serve } from './line-peer.mjs';

const [, , repo, base, appId] = process.argv;
const harness = await import(pathToFileURL(path.join(repo, 'test', 'browser', 'lib', 'harness.mjs')).href);

const chrome = await harness.launchBrowser();
const context = chrome.browser.contexts()[0] || (await chrome.browser.newContext());
const page = await context.newPage();
await page.exposeFunction('rtgateEmit', (o) => out(o));
await page.goto(base + '/healthz');
await page.evaluate(async (base) => { window.sdk = await import(base + '/sdk/rtgate.mjs'); }, base);

serve(async (r) => {
  const res = await page.evaluate(async ({ r, base, appId }) => {
    const EVENTS = ['message', 'online', 'offline', 'joined', 'left', 'membersJoined', 'membersLeft'];
    switch (r.op) {
      case 'open': {
        const c = new window.sdk.Client({ url: base, appId, peerId: r.peer, watch: r.watch || [] });
        for (const ev of EVENTS) c.on(ev, (data) => window.rtgateEmit({ ev, data: JSON.parse(JSON.stringify(data)) }));
        await c.connect();
        window.client = c;
        return { transport: c.transport };
      }
      case 'send': return await window.client.send(r.to, r.text);
      case 'joinGroup': return await window.client.joinGroup(r.room);
      case 'sendGroup': return await window.client.sendToGroup(r.room, r.text);
      default: throw new Error('unknown op ' + r.op);
    }
  }, { r, base, appId });
  return res === undefined ? undefined : JSON.parse(JSON.stringify(res));
}, async () => {
  try { await page.evaluate(async () => { if (window.client) await window.client.close(); }); } catch { /* gone */ }
  await chrome.close();
});
