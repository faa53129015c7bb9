// Runs an async JS expression in a page of headless Chromium and prints
// its result: a minimal CDP driver for manual checks of the SDK in a real
// browser (WebTransport included). Needs Node with a WebSocket global
// (Node 22, or Node 20 with --experimental-websocket).
//
//   [SCREENSHOT=out.png] node --experimental-websocket tools/chromium.mjs PAGE_URL 'EXPRESSION'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [page, expr] = process.argv.slice(2)
const chrome = spawn(process.env.CHROMIUM || '/usr/bin/chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--user-data-dir=' + mkdtempSync(join(tmpdir(), 'rtgate-chromium-')),
  '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank'
], { stdio: ['ignore', 'ignore', 'pipe'] })
const kill = () => { try { chrome.kill() } catch (e) {} }
const timer = setTimeout(() => { console.error('timed out'); kill(); process.exit(2) }, 60000)

const wsUrl = await new Promise((resolve, reject) => {
  let err = ''
  chrome.stderr.on('data', (d) => {
    err += d
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(err)
    if (m) resolve(m[1])
  })
  chrome.on('exit', () => reject(new Error('chromium exited: ' + err)))
})
const targets = await (await fetch(wsUrl.replace('ws://', 'http://').replace(/\/devtools\/.*/, '/json/list'))).json()
const ws = new WebSocket(targets.find(t => t.type === 'page').webSocketDebuggerUrl)
await new Promise(resolve => { ws.onopen = resolve })
let id = 0
const waiting = new Map()
ws.onmessage = (e) => {
  const m = JSON.parse(e.data)
  if (m.method === 'Runtime.consoleAPICalled') console.error('[page]', m.params.args.map(a => a.value).join(' '))
  if (m.id && waiting.has(m.id)) { waiting.get(m.id)(m); waiting.delete(m.id) }
}
const call = (method, params = {}) => new Promise(resolve => { waiting.set(++id, resolve); ws.send(JSON.stringify({ id, method, params })) })
await call('Runtime.enable')
await call('Page.enable')
await call('Page.navigate', { url: page })
await new Promise(resolve => setTimeout(resolve, 1000))
await call('Emulation.setDeviceMetricsOverride', { width: 1200, height: 760, deviceScaleFactor: 1, mobile: false })
const r = await call('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true })
if (process.env.SCREENSHOT) { // SCREENSHOT=file.png saves the page after the expression
  const shot = await call('Page.captureScreenshot', { format: 'png' })
  const { writeFileSync } = await import('node:fs')
  writeFileSync(process.env.SCREENSHOT, Buffer.from(shot.result.data, 'base64'))
}
clearTimeout(timer)
kill()
if (r.result.exceptionDetails) {
  console.error('exception:', r.result.exceptionDetails.exception?.description || JSON.stringify(r.result.exceptionDetails))
  process.exit(1)
}
console.log(typeof r.result.result.value === 'string' ? r.result.result.value : JSON.stringify(r.result.result.value, null, 1))
process.exit(0)
