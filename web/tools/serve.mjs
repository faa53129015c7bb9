// A static server for working on the demo without rebuilding the Go
// server: /demo/ from demo/, /sdk/ from dist/. Point the demo's "Server"
// setting at a running rtgate (CORS is allowed by rtgate).
//
//   node tools/serve.mjs [port]     (default 8090, loopback only)
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css' }
const port = +(process.argv[2] || 8090)

createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
  const m = /^\/(demo|sdk)\/(.*)$/.exec(path)
  if (!m) { res.writeHead(302, { Location: '/demo/' }); return res.end() }
  const file = normalize(join(root, m[1] === 'sdk' ? 'dist' : 'demo', m[2] || 'index.html'))
  if (!file.startsWith(root)) { res.writeHead(403); return res.end() }
  try {
    const body = await readFile(file)
    res.writeHead(200, { 'Content-Type': (types[extname(file)] || 'application/octet-stream') + '; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(body)
  } catch (e) {
    res.writeHead(404); res.end('not found')
  }
}).listen(port, '127.0.0.1', () => console.log(`demo on http://127.0.0.1:${port}/demo/`))
