// Client: one peer's session on an rtgate server, over the best transport
// that works (WebTransport, then WebSocket, then long-poll), with requests
// matched by `i`, acks for every message received, de-duplication by id,
// keepalives, and automatic reconnection that re-opens the session with
// the watch list.

import { Emitter, Dedupe, backoff, clientId, convId, sleep } from './util.js'
import { openWebSocket, openWebTransport, openLongPoll, fetchJSON } from './transports.js'

export const TRANSPORTS = ['webtransport', 'websocket', 'longpoll']
const TIMEOUTS = { webtransport: 3000, websocket: 5000, longpoll: 10000 }
const FATAL = [4100, 4103, 4108] // unknown app, bad peer id, refused signature
const REPLY = 'sessionopened sessionadded sessionremoved sessionquery-result sessionclosed ack roomjoined roominvited roomkicked roomleft roomreject error'.split(' ')

const list = (x) => x == null ? [] : [].concat(x)
const noAuth = () => Promise.resolve({})

export class Client extends Emitter {
  // See README.md for every option.
  constructor (opts) {
    super()
    if (!opts || !opts.appId) throw new Error('appId is required')
    if (!opts.peerId) throw new Error('peerId is required')
    this.opts = {
      transports: TRANSPORTS,
      wsDialect: 'msgpack',
      longpollDialect: 'json',
      requestTimeout: 10000,
      keepAlive: 25000,
      reconnect: true,
      backoff: {},
      datagrams: true,
      ...opts
    }
    this.appId = opts.appId
    this.peerId = opts.peerId
    this.auth = opts.auth || noAuth
    this.groupAuth = opts.groupAuth || noAuth
    this.watching = new Set(list(opts.watch || opts.watchingPeerIds))
    this.online = new Set() // watched peers online now
    this.groups = new Set() // groups joined during this client's life
    this.state = 'idle' // idle | connecting | open | reconnecting | closed
    this.conn = null
    this.lastError = null
    this._seq = 0
    this._pending = new Map() // i -> {resolve, reject, timer}
    this._acks = []
    this._held = [] // messages received before a 'message' listener
    this._early = [] // frames of messages received before the session opened
    this._dedupe = new Dedupe(opts.dedupeSize || 1000)
    this._attempt = 0
  }

  // transport is the name of the transport in use, or null.
  get transport () { return this.conn && !this.conn.closed ? this.conn.name : null }

  // connect opens a transport and the session; it rejects when no
  // transport works or the server refuses the session.
  async connect () {
    if (this.state === 'open') return this
    this.state = 'connecting'
    try {
      await this._connectOnce()
    } catch (e) {
      this.state = 'closed'
      throw e
    }
    return this
  }

  // endpoints resolves the URLs of every transport (through the router
  // when opts.router is set) and the WebTransport certificate hashes.
  async _endpoints () {
    const o = this.opts
    let base = o.url || (globalThis.location && globalThis.location.origin)
    if (o.router) {
      if (!this._route || Date.now() > this._route.expires) {
        const secure = o.secure || (globalThis.location && globalThis.location.protocol === 'https:')
        const r = await fetchJSON(o.router.replace(/\/$/, '') + '/v1/route?appId=' + encodeURIComponent(this.appId) + (secure ? '&secure=1' : ''), {}, 10000, o.fetch)
        this._route = { ...r, expires: Date.now() + (r.ttl || 3600) * 1000 }
      }
      base = this._route.server
    }
    if (!base) throw new Error('url is required outside a browser page')
    const u = new URL(base)
    const secure = u.protocol === 'https:' || u.protocol === 'wss:'
    const e = {
      http: (secure ? 'https://' : 'http://') + u.host,
      ws: u.protocol.startsWith('ws') ? u.href : (secure ? 'wss://' : 'ws://') + u.host + '/',
      wt: o.webtransport || (secure ? 'https://' + u.host + '/wt' : null),
      hashes: o.serverCertificateHashes
    }
    if (o.devCertificate && !e.hashes && this.opts.transports.includes('webtransport')) {
      try {
        const info = await fetchJSON(o.certinfo || e.http + '/certinfo', {}, 5000, o.fetch)
        e.hashes = [info.sha256Base64 || info.sha256]
        e.wt = e.wt || info.webtransport || null
      } catch (err) {}
    }
    return e
  }

  async _connectOnce () {
    const o = this.opts
    const e = await this._endpoints()
    const errors = []
    for (const name of o.transports) {
      const timeout = typeof o.connectTimeout === 'number' ? o.connectTimeout : ((o.connectTimeout || {})[name] || TIMEOUTS[name])
      let conn
      try {
        if (name === 'webtransport') {
          if (!e.wt) throw new Error('no WebTransport URL (set webtransport, or use an https url)')
          conn = await openWebTransport({ url: e.wt, hashes: e.hashes, timeout, datagrams: o.datagrams })
        } else if (name === 'websocket') {
          conn = await openWebSocket({ url: e.ws, dialect: o.wsDialect, timeout, WebSocket: o.WebSocket })
        } else if (name === 'longpoll') {
          conn = await openLongPoll({ url: e.http, dialect: o.longpollDialect, timeout, fetch: o.fetch })
        } else throw new Error('unknown transport ' + name)
      } catch (err) {
        errors.push(name + ': ' + err.message)
        continue
      }
      try {
        await this._open(conn)
        return
      } catch (err) {
        conn.close()
        if (err.fatal) throw err
        errors.push(name + ': ' + err.message)
      }
    }
    const err = new Error('rtgate: no transport could connect (' + errors.join('; ') + ')')
    this.lastError = err
    throw err
  }

  // _open runs the session open on conn and makes it the current one.
  async _open (conn) {
    this.conn = conn
    let closedEarly
    conn.onframe = (cmd) => this._frame(cmd)
    conn.onclose = (ev) => { closedEarly = ev; this._dropped(conn, ev) }
    const sig = await this.auth(this.peerId, [...this.watching], !!this.opts.sp)
    if (sig && sig.watchingPeerIds) this.watching = new Set(list(sig.watchingPeerIds))
    let reply
    try {
      reply = await this._request({ cmd: 'session', op: 'open', sessionPeerIds: [...this.watching], sp: this.opts.sp || undefined, ...signature(sig) }, true)
    } catch (err) {
      if (closedEarly && FATAL.includes(closedEarly.code)) err.fatal = true
      throw err
    }
    this.state = 'open'
    this.opened = reply
    this._attempt = 0
    const now = new Set(reply.onlineSessionPeerIds)
    const gone = [...this.online].filter(p => !now.has(p))
    this.online = now
    this._keepAlive()
    this.emit('open', { transport: conn.name, dialect: conn.dialect, online: [...now] })
    if (gone.length) this.emit('offline', gone)
    this.emit('online', [...now])
    // The offline inbox that came with the open reply (a long-poll batch,
    // several frames in one read) follows the open event.
    const early = this._early
    this._early = []
    for (const cmd of early) this._message(cmd)
    return reply
  }

  // _dropped handles the end of a transport: pending requests fail, and
  // the client reconnects unless it was closed or the close is fatal.
  _dropped (conn, ev) {
    if (conn !== this.conn) return
    clearTimeout(this._kaTimer)
    this._early = [] // unacknowledged: the inbox sends them again
    // The message carries the server's close code and reason, e.g.
    // 'connection closed: 4100 unknown app "demo"'.
    const why = 'connection closed: ' + ev.code + (ev.reason ? ' ' + ev.reason : '')
    for (const [, p] of this._pending) p.reject(Object.assign(new Error(why), { code: ev.code, reason: ev.reason, lost: true, dialect: conn.dialect }))
    this._pending.clear()
    if (this.state !== 'open') return // a failed attempt: _connectOnce goes on
    this.emit('disconnect', ev)
    if (!this.opts.reconnect || FATAL.includes(ev.code)) {
      this.state = 'closed'
      this.emit('close', ev)
      return
    }
    this._reconnect()
  }

  async _reconnect () {
    this.state = 'reconnecting'
    const max = this.opts.maxRetries ?? Infinity
    while (this.state === 'reconnecting') {
      if (this._attempt >= max) {
        this.state = 'closed'
        this.emit('close', { code: 1006, reason: 'gave up reconnecting' })
        return
      }
      const delay = backoff(this._attempt++, this.opts.backoff)
      this.emit('reconnecting', { attempt: this._attempt, delay })
      await sleep(delay)
      if (this.state !== 'reconnecting') return
      try {
        await this._connectOnce()
        this.emit('reconnect', { transport: this.transport })
        return
      } catch (err) {
        if (err.fatal) {
          this.state = 'closed'
          this.emit('close', { code: 4108, reason: err.message })
          return
        }
        this.state = 'reconnecting'
      }
    }
  }

  _keepAlive () {
    clearTimeout(this._kaTimer)
    const conn = this.conn
    const ms = this.opts.keepAlive
    if (!ms || conn.name === 'longpoll') return // polls are the keepalive
    this._lastRecv = Date.now()
    const tick = () => {
      if (conn.closed) return
      if (Date.now() - this._lastRecv > 2 * ms) { this._dropped(conn, { code: 4107, reason: 'no answer to keepalive' }); conn.close(); return }
      conn.send({})
      this._kaTimer = setTimeout(tick, ms)
    }
    this._kaTimer = setTimeout(tick, ms)
  }

  // _request sends cmd with a fresh i and resolves with its reply.
  _request (cmd, opening) {
    return new Promise((resolve, reject) => {
      const conn = this.conn
      if (!conn || conn.closed || (!opening && this.state !== 'open')) return reject(new Error('not connected'))
      const i = this._seq = this._seq % 0x7fffffff + 1
      const timer = setTimeout(() => {
        this._pending.delete(i)
        reject(new Error(kind(cmd) + ' timed out'))
      }, this.opts.requestTimeout)
      const done = (f) => (v) => { clearTimeout(timer); this._pending.delete(i); f(v) }
      this._pending.set(i, { resolve: done(resolve), reject: done(reject) })
      conn.send({ ...cmd, peerId: this.peerId, appId: this.appId, i })
    })
  }

  // request waits for the connection when it is being re-established.
  async request (cmd) {
    if (this.state === 'reconnecting' || this.state === 'connecting') await this._whenOpen()
    return this._request(cmd)
  }

  _whenOpen () {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.off('open', ok); reject(new Error('not connected')) }, this.opts.requestTimeout)
      const ok = () => { clearTimeout(t); resolve() }
      this.once('open', ok)
    })
  }

  // write sends a command that gets no reply.
  write (cmd) {
    if (this.conn && !this.conn.closed) this.conn.send({ ...cmd, peerId: this.peerId, appId: this.appId })
  }

  _frame (cmd) {
    this._lastRecv = Date.now()
    const k = kind(cmd)
    if (k === 'direct') return this._message(cmd)
    const p = cmd.i != null && REPLY.includes(k) && this._pending.get(cmd.i)
    this.emit('command', cmd)
    if (p) {
      if (k === 'error') p.reject(Object.assign(new Error(cmd.reason || 'error ' + cmd.code), { code: cmd.code }))
      else if (k === 'roomreject') p.reject(Object.assign(new Error('rejected by the server'), { code: 'reject', peers: cmd.roomPeerIds }))
      else p.resolve(cmd)
    }
    const peers = cmd.sessionPeerIds || []
    const group = { group: cmd.roomId, by: cmd.byPeerId, peers: cmd.roomPeerIds || [] }
    switch (k) {
      case 'sessionadded':
        for (const x of cmd.onlineSessionPeerIds) this.online.add(x)
        this.emit('online', cmd.onlineSessionPeerIds)
        break
      case 'presence':
        for (const x of peers) cmd.status === 'on' ? this.online.add(x) : this.online.delete(x)
        this.emit(cmd.status === 'on' ? 'online' : 'offline', peers)
        break
      case 'rcp': this.emit('receipt', { id: cmd.id, timestamp: cmd.t, raw: cmd }); break
      case 'roomjoined': this.groups.add(cmd.roomId); this.emit('joined', group); break
      case 'roomleft': this.groups.delete(cmd.roomId); this.emit('left', group); break
      case 'roommembers-joined': this.emit('membersJoined', group); break
      case 'roommembers-left': this.emit('membersLeft', group); break
      case 'error': if (!p) this.emit('error', Object.assign(new Error(cmd.reason), { code: cmd.code })); break
    }
  }

  _message (cmd) {
    if (this.state !== 'open') { // before _open is done: neither acked nor shown yet
      if (this._early.push(cmd) > 1000) this._early.shift()
      return
    }
    if (cmd.id && !cmd.transient) this._ack(cmd.id) // duplicates too: the first ack may be lost
    if (cmd.id && this._dedupe.seen(cmd.id)) return
    this.emit('command', cmd)
    const m = {
      id: cmd.id,
      from: cmd.fromPeerId,
      text: cmd.msg,
      group: cmd.roomId,
      timestamp: cmd.timestamp,
      offline: !!cmd.offline,
      transient: !!cmd.transient,
      raw: cmd
    }
    // Messages that come before any 'message' listener (the offline inbox
    // arrives right after the session opens) wait for the first one.
    if (!(this._on.message || []).length) {
      if (this._held.push(m) > 1000) this._held.shift()
    } else this.emit('message', m)
  }

  on (name, fn) {
    super.on(name, fn)
    if (name === 'message' && this._held.length) {
      queueMicrotask(() => {
        const held = this._held
        this._held = []
        for (const m of held) this.emit('message', m)
      })
    }
    return this
  }

  // _ack acknowledges ids in one command per tick.
  _ack (id) {
    this._acks.push(id)
    if (this._acks.length > 1) return
    queueMicrotask(() => {
      const ids = this._acks
      this._acks = []
      this.write({ cmd: 'ack', ids })
    })
  }

  // send sends text to one peer or several. Persistent messages resolve
  // with {id, timestamp} once stored; transient ones resolve at once.
  // opts: {transient, receipt, id}. A persistent message carries a client
  // id (opts.id, random unless given); when the connection drops before
  // its ack, it is sent again on the next connection, and in the modern
  // dialects the server acks the repeat with the first message's id and
  // stores and delivers it once. In the v1 dialect (no de-duplication)
  // the send rejects instead.
  send (to, text, opts = {}) {
    return this._direct({ toPeerIds: list(to) }, text, opts)
  }

  sendToGroup (groupId, text, opts = {}) {
    return this._direct({ roomId: groupId }, text, opts)
  }

  async _direct (target, text, opts) {
    const cmd = { cmd: 'direct', ...target, msg: String(text), transient: opts.transient || undefined, r: opts.receipt || undefined }
    if (opts.transient) {
      if (this.state !== 'open') await this._whenOpen()
      this.write(cmd)
      return {}
    }
    cmd.id = opts.id || clientId()
    const deadline = Date.now() + this.opts.requestTimeout
    for (;;) {
      try {
        const ack = await this.request(cmd)
        return { id: ack.uid, timestamp: ack.t }
      } catch (err) {
        if (!err.lost || err.dialect === 'v1' || this.state === 'closed' || Date.now() > deadline) throw err
      }
    }
  }

  // watch adds peers to the watch list; resolves with those online.
  async watch (peers) {
    const sig = await this.auth(this.peerId, list(peers), !!this.opts.sp)
    const ids = list((sig && sig.watchingPeerIds) || peers)
    for (const p of ids) this.watching.add(p)
    const r = await this.request({ cmd: 'session', op: 'add', sessionPeerIds: ids, ...signature(sig) })
    return r.onlineSessionPeerIds
  }

  async unwatch (peers) {
    for (const p of list(peers)) { this.watching.delete(p); this.online.delete(p) }
    await this.request({ cmd: 'session', op: 'remove', sessionPeerIds: list(peers) })
  }

  // query resolves with the peers of the list that are online (they need
  // not be watched).
  async query (peers) {
    return (await this.request({ cmd: 'session', op: 'query', sessionPeerIds: list(peers) })).onlineSessionPeerIds
  }

  // createGroup creates a group (you are its first member); resolves with
  // its id. joinGroup joins an existing one.
  createGroup (opts = {}) { return this.joinGroup(undefined, opts) }

  async joinGroup (groupId, opts = {}) {
    const sig = await this.groupAuth(this.peerId, groupId || '', 'join', [])
    const r = await this.request({ cmd: 'room', op: 'join', roomId: groupId, transient: opts.open || undefined, ...signature(sig) })
    return r.roomId
  }

  async invite (groupId, peers) { return this._members('invite', groupId, peers) }
  async kick (groupId, peers) { return this._members('kick', groupId, peers) }

  async _members (op, groupId, peers) {
    const sig = await this.groupAuth(this.peerId, groupId, op, list(peers))
    const r = await this.request({ cmd: 'room', op, roomId: groupId, roomPeerIds: list((sig && sig.groupPeerIds) || peers), ...signature(sig) })
    return r.roomPeerIds
  }

  async leaveGroup (groupId) {
    await this.request({ cmd: 'room', op: 'leave', roomId: groupId })
  }

  // history returns stored messages, newest first, through the REST API:
  // target is a peer id (the conversation with it) or {group: id}.
  // opts: {limit, maxTs, msgId}.
  async history (target, opts = {}) {
    const e = await this._endpoints()
    const conv = typeof target === 'string' ? convId([this.peerId, target]) : target.group
    let q = 'convid=' + encodeURIComponent(conv)
    if (opts.limit) q += '&limit=' + opts.limit
    if (opts.maxTs) q += '&max_ts=' + opts.maxTs
    if (opts.msgId) q += '&msgid=' + encodeURIComponent(opts.msgId)
    const headers = { 'X-LC-Id': this.appId }
    if (this.opts.appKey) headers['X-LC-Key'] = this.opts.appKey
    const rows = await fetchJSON(e.http + '/1.1/rtm/messages/logs?' + q, { headers }, 10000, this.opts.fetch)
    return rows.map(r => ({ id: r['msg-id'], from: r.from, text: r.data, timestamp: r.timestamp, group: r['is-room'] ? r['conv-id'] : undefined, to: r.to }))
  }

  // close ends the session and the connection; no reconnection follows.
  async close () {
    const was = this.state
    this.state = 'closed'
    const conn = this.conn
    if (conn && !conn.closed) {
      conn.send({ cmd: 'session', op: 'close', peerId: this.peerId, appId: this.appId })
      await sleep(20) // let the close leave before the transport ends
      conn.close()
    }
    clearTimeout(this._kaTimer)
    if (was !== 'closed') this.emit('close', { code: 1000, reason: 'closed by the client' })
  }
}

function kind (c) {
  if (c.cmd == null) return '{}'
  return c.cmd === 'session' || c.cmd === 'room' ? c.cmd + c.op : c.cmd
}

function signature (sig) {
  if (!sig) return {}
  const out = {}
  if (sig.s != null) out.s = String(sig.s)
  if (sig.t != null) out.t = String(sig.t)
  if (sig.n != null) out.n = String(sig.n)
  return out
}

// connect creates a Client and connects it.
export function connect (opts) {
  return new Client(opts).connect()
}
