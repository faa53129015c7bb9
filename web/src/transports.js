// The three transports. Each open* function resolves to a Conn once the
// transport is usable (or rejects within its timeout):
//
//   conn.name      'webtransport' | 'websocket' | 'longpoll'
//   conn.dialect   'msgpack' | 'json' | 'v1' (what the server agreed to)
//   conn.send(cmd) writes one command (fire and forget, in order)
//   conn.close()   ends it; onclose still fires, once
//   conn.onframe   = (cmd) => ...       every valid inbound command
//   conn.onclose   = ({code, reason}) => ...

import { encode, decode } from './msgpack.js'
import { encodeFrame, FrameReader } from './frame.js'
import { check, ordered } from './command.js'
import { withTimeout, sleep } from './util.js'

class Conn {
  constructor (name) {
    this.name = name
    this.dialect = 'json'
    this.closed = false
    this.onframe = () => {}
    this.onclose = () => {}
  }

  deliver (raw) {
    let cmd
    try { cmd = check(typeof raw === 'string' ? JSON.parse(raw) : raw) } catch (e) { return } // malformed or unknown: ignored
    if (!this.closed) this.onframe(cmd)
  }

  finish (code, reason = '') {
    if (this.closed) return
    this.closed = true
    this.onclose({ code, reason })
  }
}

const WS_PROTOCOLS = { msgpack: 'rtgate.msgpack.1', json: 'rtgate.json.1' }

// openWebSocket: o.url (ws:// or wss://), o.dialect ('msgpack', 'json',
// 'v1'), o.timeout, o.WebSocket (a constructor; default the global).
export function openWebSocket (o) {
  return new Promise((resolve, reject) => {
    const WS = o.WebSocket || globalThis.WebSocket
    if (!WS) return reject(new Error('WebSocket is not available here'))
    const proto = WS_PROTOCOLS[o.dialect || 'msgpack']
    const ws = proto ? new WS(o.url, proto) : new WS(o.url)
    ws.binaryType = 'arraybuffer'
    const c = new Conn('websocket')
    let opened = false
    const timer = setTimeout(() => { ws.onclose = null; ws.close(); reject(new Error('websocket: no connection within ' + o.timeout + ' ms')) }, o.timeout)
    ws.onopen = () => {
      clearTimeout(timer)
      opened = true
      c.dialect = ws.protocol === WS_PROTOCOLS.msgpack ? 'msgpack' : ws.protocol === WS_PROTOCOLS.json ? 'json' : 'v1'
      resolve(c)
    }
    ws.onerror = () => {}
    ws.onclose = (e) => {
      clearTimeout(timer)
      if (!opened) reject(new Error('websocket: closed before opening (' + e.code + ')'))
      else c.finish(e.code, e.reason)
    }
    ws.onmessage = (e) => {
      c.deliver(typeof e.data === 'string' ? e.data : safeDecode(new Uint8Array(e.data)))
    }
    c.send = (cmd) => {
      if (ws.readyState !== 1) return
      ws.send(c.dialect === 'msgpack' ? encode(ordered(cmd)) : JSON.stringify(ordered(cmd)))
    }
    c.close = () => { try { ws.close(1000) } catch (e) {} c.finish(1000, 'closed by the client') }
  })
}

function safeDecode (b) {
  try { return decode(b) } catch (e) { return null }
}

// certificateHashes turns hex or base64 strings (or ready objects) into
// the serverCertificateHashes option of WebTransport.
export function certificateHashes (list) {
  return list.map(h => {
    if (typeof h !== 'string') return h
    const bytes = /^[0-9a-f]{64}$/i.test(h)
      ? Uint8Array.from(h.match(/../g), x => parseInt(x, 16))
      : Uint8Array.from(atob(h), ch => ch.charCodeAt(0))
    return { algorithm: 'sha-256', value: bytes }
  })
}

// openWebTransport: o.url (https://host:port/wt), o.hashes (strings for
// serverCertificateHashes, optional), o.datagrams (receive transient
// messages as datagrams), o.timeout.
export async function openWebTransport (o) {
  const WT = globalThis.WebTransport
  if (!WT) throw new Error('WebTransport is not available here')
  const url = o.url + (o.datagrams === false ? '' : (o.url.includes('?') ? '&' : '?') + 'datagrams=1')
  const wt = new WT(url, o.hashes && o.hashes.length ? { serverCertificateHashes: certificateHashes(o.hashes) } : {})
  wt.closed.catch(() => {})
  let stream
  try {
    await withTimeout(wt.ready, o.timeout, 'webtransport')
    stream = await withTimeout(wt.createBidirectionalStream(), o.timeout, 'webtransport stream')
  } catch (e) {
    try { wt.close() } catch (e2) {}
    throw e
  }
  const c = new Conn('webtransport')
  c.dialect = 'msgpack'
  const writer = stream.writable.getWriter()
  c.send = (cmd) => { if (!c.closed) writer.write(encodeFrame(ordered(cmd))).catch(() => {}) }
  c.close = () => { try { wt.close({ closeCode: 1000, reason: 'closed by the client' }) } catch (e) {} c.finish(1000, 'closed by the client') }

  const end = async (fallback) => {
    // The session's close code may arrive after the stream's FIN.
    const info = await Promise.race([
      wt.closed.then(i => ({ code: i.closeCode, reason: i.reason }), e => ({ code: 1006, reason: e.message })),
      sleep(1000).then(() => fallback)
    ])
    try { wt.close() } catch (e) {}
    c.finish(info.code || fallback.code, info.reason || fallback.reason)
  }
  ;(async () => {
    const reader = stream.readable.getReader()
    const frames = new FrameReader(o.maxFrame)
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        for (const cmd of frames.push(value)) c.deliver(cmd)
      }
      end({ code: frames.pending ? 1006 : 1000, reason: '' })
    } catch (e) {
      end({ code: 1006, reason: String(e && e.message) })
    }
  })()
  ;(async () => {
    try {
      const dr = wt.datagrams.readable.getReader()
      for (;;) {
        const { value, done } = await dr.read()
        if (done) return
        c.deliver(safeDecode(value))
      }
    } catch (e) {}
  })()
  return c
}

class HTTPError extends Error {
  constructor (status, body) {
    super('HTTP ' + status + (body && body.error ? ': ' + body.error : ''))
    this.status = status
    this.body = body
  }
}

// fetchJSON fetches url and parses its JSON answer; non-2xx throws an
// HTTPError, no answer within ms an Error.
export async function fetchJSON (url, init = {}, ms = 10000, f = globalThis.fetch) {
  const ac = new AbortController()
  const t = setTimeout(() => ac.abort(), ms)
  if (init.signal) init.signal.addEventListener('abort', () => ac.abort())
  try {
    const res = await f(url, { ...init, signal: ac.signal, cache: 'no-store' })
    const text = await res.text()
    let body = null
    try { body = text ? JSON.parse(text) : null } catch (e) {}
    if (!res.ok) throw new HTTPError(res.status, body)
    return body
  } finally {
    clearTimeout(t)
  }
}

// openLongPoll: o.url (http(s)://host:port, the /lp/ endpoints under it),
// o.dialect ('json' or 'v1'), o.timeout, o.fetch. Frames carry sequence
// numbers the polls acknowledge; sends carry cseq numbers and are
// retried until acknowledged, so nothing is lost or applied twice.
export async function openLongPoll (o) {
  const f = o.fetch || globalThis.fetch
  if (!f) throw new Error('fetch is not available here')
  const base = o.url.replace(/\/$/, '') + '/lp/'
  const post = { method: 'POST', headers: { 'Content-Type': 'application/json' } }
  const info = await fetchJSON(base + 'open', { ...post, body: JSON.stringify({ dialect: o.dialect === 'v1' ? 'v1' : 'rtgate.json.1' }) }, o.timeout, f)
  const sid = encodeURIComponent(info.sid)
  const hold = (info.pingInterval || 25000) + 10000
  const grace = info.pingTimeout || 20000
  const c = new Conn('longpoll')
  c.dialect = info.dialect === 'v1' ? 'v1' : 'json'
  c.sid = info.sid
  const stop = new AbortController()
  let seq = 0 // last frame received
  let cseq = 0 // last command queued
  let queue = [] // [{cseq, d}] not yet acknowledged
  let sending = false

  const finish = (code, reason) => { stop.abort(); c.finish(code, reason) }
  c.send = (cmd) => {
    if (c.closed) return
    queue.push({ cseq: ++cseq, d: ordered(cmd) })
    flush()
  }
  c.close = () => {
    if (c.closed) return
    f(base + 'close?sid=' + sid, { method: 'POST' }).catch(() => {})
    finish(1000, 'closed by the client')
  }

  // retry runs fn until it succeeds, for at most grace ms of failures.
  async function retry (fn) {
    let since = 0
    for (;;) {
      try {
        return await fn()
      } catch (e) {
        if (c.closed) throw e
        if (e.status === 404) return finish(4107, 'long-poll session expired')
        if (e.status === 410) return null // closed: the poll reads the code
        if (e.status >= 400 && e.status < 500) return finish(1007, e.message)
        since = since || Date.now()
        if (Date.now() - since > grace) return finish(1006, 'long-poll server unreachable')
        await sleep(500)
      }
    }
  }

  async function flush () {
    if (sending || c.closed || !queue.length) return
    sending = true
    const batch = queue.slice(0, 64)
    const res = await retry(() => fetchJSON(base + 'send?sid=' + sid, { ...post, body: JSON.stringify(batch), signal: stop.signal }, 15000, f)).catch(() => null)
    const ack = res ? res.ack : batch[batch.length - 1].cseq
    queue = queue.filter(x => x.cseq > ack)
    sending = false
    flush()
  }

  ;(async () => {
    while (!c.closed) {
      const r = await retry(() => fetchJSON(base + 'poll?sid=' + sid + '&ack=' + seq, { signal: stop.signal }, hold, f)).catch(() => null)
      if (!r) continue
      for (const fr of r.frames || []) {
        if (fr.seq > seq) { seq = fr.seq; c.deliver(fr.d) }
      }
      if (r.close) finish(r.close.code, r.close.reason)
    }
  })()
  return c
}
