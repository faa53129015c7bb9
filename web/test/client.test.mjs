// Client behaviour without a server: a fake WebSocket plays the server.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '../src/client.js'
import { encode, decode } from '../src/msgpack.js'

// FakeWS answers session open and records what the client sends. With
// inbox, the offline messages follow the open reply in the same task, as
// a long-poll batch or one WebTransport read of several frames brings them.
function fakeServer ({ neverOpen = false, inbox = [] } = {}) {
  const sockets = []
  class FakeWS {
    constructor (url, proto) {
      this.url = url
      this.protocol = proto || ''
      this.readyState = 0
      this.sent = []
      sockets.push(this)
      if (!neverOpen) setTimeout(() => { this.readyState = 1; this.onopen() }, 1)
    }

    send (data) {
      const cmd = typeof data === 'string' ? JSON.parse(data) : decode(data)
      this.sent.push(cmd)
      if (cmd.cmd === 'session' && cmd.op === 'open') this.push({ cmd: 'session', op: 'opened', peerId: cmd.peerId, onlineSessionPeerIds: [], i: cmd.i }, ...inbox)
    }

    push (...cmds) { // server -> client, in one task
      setTimeout(() => {
        for (const cmd of cmds) this.onmessage({ data: this.protocol === 'rtgate.msgpack.1' ? encode(cmd).slice().buffer : JSON.stringify(cmd) })
      }, 0)
    }

    close (code = 1000) {
      if (this.readyState === 3) return
      this.readyState = 3
      setTimeout(() => this.onclose && this.onclose({ code, reason: '' }), 0)
    }
  }
  return { FakeWS, sockets }
}

const tick = (ms = 10) => new Promise(resolve => setTimeout(resolve, ms))

test('falls back past an unavailable transport and a connect timeout', async () => {
  const never = fakeServer({ neverOpen: true })
  const c = new Client({ url: 'http://x.invalid', appId: 'a', peerId: 'p', transports: ['webtransport', 'websocket'], WebSocket: never.FakeWS, connectTimeout: 50 })
  const t0 = Date.now()
  await assert.rejects(c.connect(), /webtransport: .*websocket: no connection within 50 ms/)
  assert.ok(Date.now() - t0 < 1000)
  assert.equal(c.state, 'closed')
})

for (const dialect of ['msgpack', 'json', 'v1']) {
  test(dialect + ': requests match by i, messages are acked once per tick and de-duplicated', async () => {
    const s = fakeServer()
    const c = new Client({ url: 'ws://x.invalid/', appId: 'a', peerId: 'p', watch: ['w'], transports: ['websocket'], wsDialect: dialect, WebSocket: s.FakeWS })
    await c.connect()
    const ws = s.sockets[0]
    assert.equal(c.transport, 'websocket')
    assert.equal(ws.url, 'ws://x.invalid/')
    assert.deepEqual(ws.sent[0].sessionPeerIds, ['w'])

    // replies out of order still resolve the right request
    const q1 = c.query(['a1'])
    const q2 = c.query(['a2'])
    await tick()
    const [r1, r2] = ws.sent.slice(1)
    ws.push({ cmd: 'session', op: 'query-result', peerId: 'p', onlineSessionPeerIds: ['two'], i: r2.i })
    ws.push({ cmd: 'session', op: 'query-result', peerId: 'p', onlineSessionPeerIds: ['one'], i: r1.i })
    assert.deepEqual(await q1, ['one'])
    assert.deepEqual(await q2, ['two'])

    const got = []
    c.on('message', m => got.push(m.id))
    for (const id of ['m1', 'm2', 'm1']) ws.push({ cmd: 'direct', peerId: 'p', fromPeerId: 'q', msg: 'x', id, timestamp: 1 })
    ws.push({ cmd: 'direct', peerId: 'p', fromPeerId: 'q', msg: 'typing', transient: true })
    await tick(30)
    assert.deepEqual(got, ['m1', 'm2', undefined])
    const acks = ws.sent.filter(x => x.cmd === 'ack').flatMap(x => x.ids)
    assert.deepEqual(acks, ['m1', 'm2', 'm1']) // duplicates are acked again, transient never

    // an error reply rejects with its code
    const bad = c.send('q', 'x'.repeat(10))
    await tick()
    ws.push({ cmd: 'error', code: 4109, reason: 'too long', i: ws.sent.at(-1).i })
    await assert.rejects(bad, e => e.code === 4109)
    await c.close()
  })
}

test('reconnects with backoff and re-opens the session with the watch list', async () => {
  const s = fakeServer()
  const c = new Client({ url: 'ws://x.invalid/', appId: 'a', peerId: 'p', watch: ['w'], transports: ['websocket'], WebSocket: s.FakeWS, backoff: { base: 20, max: 40 } })
  await c.connect()
  const events = []
  for (const e of ['disconnect', 'reconnecting', 'reconnect', 'open']) c.on(e, () => events.push(e))
  s.sockets[0].close(1006)
  await tick(150)
  assert.deepEqual(events, ['disconnect', 'reconnecting', 'open', 'reconnect'])
  assert.equal(s.sockets.length, 2)
  assert.deepEqual(s.sockets[1].sent[0].sessionPeerIds, ['w'])
  // a fatal close (unknown app) ends it
  const closed = new Promise(resolve => c.on('close', resolve))
  s.sockets[1].close(4100)
  assert.equal((await closed).code, 4100)
  assert.equal(c.state, 'closed')
})

test('messages received before the first listener are held for it', async () => {
  const s = fakeServer()
  const c = new Client({ url: 'ws://x.invalid/', appId: 'a', peerId: 'p', transports: ['websocket'], WebSocket: s.FakeWS })
  await c.connect()
  s.sockets[0].push({ cmd: 'direct', peerId: 'p', fromPeerId: 'q', msg: 'early', id: 'e1', timestamp: 1, offline: true })
  await tick()
  const m = await new Promise(resolve => c.on('message', resolve))
  assert.equal(m.text, 'early')
  assert.equal(m.offline, true)
  await c.close()
})

test('offline messages that come with the open reply follow the open event', async () => {
  const s = fakeServer({ inbox: [{ cmd: 'direct', peerId: 'p', fromPeerId: 'q', msg: 'waiting', id: 'o1', timestamp: 1, offline: true }] })
  const c = new Client({ url: 'ws://x.invalid/', appId: 'a', peerId: 'p', transports: ['websocket'], WebSocket: s.FakeWS })
  const events = []
  c.on('open', () => events.push('open'))
  c.on('message', m => events.push('message ' + m.id + ' ' + c.state))
  await c.connect()
  await tick()
  assert.deepEqual(events, ['open', 'message o1 open'])
  assert.deepEqual(s.sockets[0].sent.filter(x => x.cmd === 'ack').flatMap(x => x.ids), ['o1'])
  await c.close()
})

for (const dialect of ['msgpack', 'json', 'v1']) {
  test(dialect + ': a persistent send whose ack is lost with the connection is sent again with the same id (modern) or rejects (v1)', { timeout: 5000 }, async () => {
    const s = fakeServer()
    const c = new Client({ url: 'ws://x.invalid/', appId: 'a', peerId: 'p', transports: ['websocket'], wsDialect: dialect, WebSocket: s.FakeWS, backoff: { base: 20, max: 40 } })
    await c.connect()
    try {
      const sent = c.send('q', 'once')
      await tick()
      const first = s.sockets[0].sent.at(-1)
      assert.equal(first.cmd, 'direct')
      assert.ok(typeof first.id === 'string' && first.id.length >= 16, 'client id ' + first.id)
      s.sockets[0].close(1006) // the server stored it; its ack is lost
      if (dialect === 'v1') {
        await assert.rejects(sent, e => e.lost)
        return
      }
      await tick(150)
      assert.equal(s.sockets.length, 2)
      const again = s.sockets[1].sent.find(x => x.cmd === 'direct')
      assert.ok(again, 'not sent again on the new connection')
      assert.equal(again.id, first.id)
      assert.equal(again.msg, 'once')
      s.sockets[1].push({ cmd: 'ack', peerId: 'p', i: again.i, id: again.id, uid: 'U1', t: 5 })
      assert.deepEqual(await sent, { id: 'U1', timestamp: 5 })
      // an id given by the app is kept
      const own = c.send('q', 'mine', { id: 'outbox-7' })
      await tick()
      const m = s.sockets[1].sent.at(-1)
      assert.equal(m.id, 'outbox-7')
      s.sockets[1].push({ cmd: 'ack', peerId: 'p', i: m.i, uid: 'U2', t: 6 })
      assert.equal((await own).id, 'U2')
    } finally {
      await c.close()
    }
  })
}
