// End-to-end tests against a running rtgate (skipped unless RTGATE_URL is
// set), over every transport Node can speak:
//
//   RTGATE_URL=http://127.0.0.1:8080 node --experimental-websocket --test test/
//
// (Node 22+ has WebSocket without the flag; WebTransport is covered by the
// browser tests.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, AVChatClient } from '../src/index.js'

const url = process.env.RTGATE_URL
const skip = !url && 'set RTGATE_URL to run against a server'
const modes = [
  { name: 'longpoll json', transports: ['longpoll'] },
  { name: 'longpoll v1', transports: ['longpoll'], longpollDialect: 'v1' },
  ...(globalThis.WebSocket
    ? ['msgpack', 'json', 'v1'].map(d => ({ name: 'websocket ' + d, transports: ['websocket'], wsDialect: d }))
    : [])
]
const run = Math.random().toString(36).slice(2, 8)
const appId = 'webtest'

function next (emitter, event, pred = () => true, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no ' + event + ' within ' + ms + ' ms')), ms)
    const f = (v) => { if (pred(v)) { clearTimeout(t); emitter.off(event, f); resolve(v) } }
    emitter.on(event, f)
  })
}

for (const mode of modes) {
  const opts = (peerId, extra) => ({ url, appId, peerId: peerId + '-' + run + '-' + mode.name.replace(' ', '-'), ...mode, ...extra })

  test(mode.name + ': presence, direct messages, receipts, history', { skip }, async () => {
    const a = await connect(opts('alice'))
    assert.equal(a.transport, mode.transports[0])
    const bobId = opts('bob').peerId
    a.watch(bobId)
    const online = next(a, 'online', p => p.includes(bobId))
    const b = await connect(opts('bob', { watch: [a.peerId] }))
    await online
    assert.ok(a.online.has(bobId))
    assert.deepEqual(await b.query([a.peerId, 'nobody']), [a.peerId])

    const got = next(b, 'message')
    const receipt = next(a, 'receipt')
    const sent = await a.send(bobId, 'hi bob', { receipt: true })
    assert.match(sent.id, /^\w+$/)
    assert.ok(sent.timestamp > 0)
    const m = await got
    assert.equal(m.from, a.peerId)
    assert.equal(m.text, 'hi bob')
    assert.equal(m.id, sent.id)
    assert.equal((await receipt).id, sent.id)

    const tr = next(b, 'message', x => x.transient)
    assert.deepEqual(await a.send(bobId, 'typing', { transient: true }), {})
    assert.equal((await tr).text, 'typing')

    const h = await a.history(bobId)
    assert.equal(h[0].text, 'hi bob')
    assert.equal(h[0].from, a.peerId)

    const offline = next(a, 'offline', p => p.includes(bobId))
    await b.close()
    await offline
    await a.close()
  })

  test(mode.name + ': groups', { skip }, async () => {
    const a = await connect(opts('gale'))
    const b = await connect(opts('gbob'))
    const gid = await a.createGroup()
    assert.ok(gid)
    const joined = next(b, 'joined', g => g.group === gid)
    assert.deepEqual(await a.invite(gid, b.peerId), [b.peerId])
    assert.equal((await joined).by, a.peerId)
    const got = next(b, 'message', m => m.group === gid)
    await a.sendToGroup(gid, 'hello group')
    assert.equal((await got).text, 'hello group')
    const h = await b.history({ group: gid })
    assert.equal(h[0].text, 'hello group')
    const left = next(b, 'left', g => g.group === gid)
    await a.kick(gid, b.peerId)
    await left
    await assert.rejects(a.joinGroup('no-such-group-' + run))
    await a.leaveGroup(gid)
    await a.close(); await b.close()
  })

  test(mode.name + ': offline delivery, ack, no redelivery, reconnect', { skip }, async () => {
    const a = await connect(opts('oa', { backoff: { base: 50, max: 200 } }))
    const bobId = opts('ob').peerId
    await a.watch(bobId)
    const sent = await a.send(bobId, 'while you were away')
    const b = await connect(opts('ob'))
    const m = await next(b, 'message')
    assert.equal(m.id, sent.id)
    assert.equal(m.offline, true)
    await new Promise(resolve => setTimeout(resolve, 200)) // the ack leaves
    await b.close()
    const b2 = await connect(opts('ob'))
    let again = null
    b2.on('message', x => { again = x })
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(again, null, 'acked message delivered again')

    // drop a's transport: it reconnects and re-opens with its watch list
    const back = next(a, 'reconnect')
    const disc = next(a, 'disconnect')
    a.conn.close()
    await disc
    await back
    assert.equal(a.state, 'open')
    assert.ok(a.watching.has(bobId))
    const got = next(b2, 'message')
    await a.send(bobId, 'after reconnect')
    assert.equal((await got).text, 'after reconnect')
    await a.close(); await b2.close()
  })

  test(mode.name + ': AVChatClient (lean-cloud-chat 1.0.4 API)', { skip }, async () => {
    const o = opts('v1a')
    const chat = new AVChatClient({ ...o, watchingPeerIds: [] })
    const other = AVChatClient({ ...opts('v1b'), watchingPeerIds: [o.peerId] })
    const opened = await chat.open()
    assert.equal(opened.op, 'opened')
    assert.deepEqual(opened.onlineSessionPeerIds, [])
    const onl = new Promise(resolve => chat.on('online', p => { if (p.includes(opts('v1b').peerId)) resolve() }))
    await chat.watch(opts('v1b').peerId)
    await other.open()
    await onl
    const st = await chat.getStatus([opts('v1b').peerId])
    assert.deepEqual(st.onlineSessionPeerIds, [opts('v1b').peerId])
    const msg = new Promise(resolve => other.on('message', resolve))
    const ack = await chat.send('hello', opts('v1b').peerId)
    assert.equal(ack.cmd, 'ack')
    const d = await msg
    assert.equal(d.msg, 'hello')
    assert.equal(d.fromPeerId, o.peerId)
    const j = await chat.joinGroup()
    assert.equal(j.op, 'joined')
    const inv = await chat.inviteToGroup(j.roomId, [opts('v1b').peerId])
    assert.deepEqual(inv.roomPeerIds, [opts('v1b').peerId])
    const gm = new Promise(resolve => other.on('message', x => { if (x.roomId) resolve(x) }))
    await chat.sendToGroup('all', j.roomId)
    assert.equal((await gm).msg, 'all')
    assert.equal((await chat.kickFromGroup(j.roomId, opts('v1b').peerId)).op, 'kicked')
    assert.equal((await chat.leaveGroup(j.roomId)).op, 'left')
    await chat.unwatch([opts('v1b').peerId])
    const closed = new Promise(resolve => chat.on('close', resolve))
    await chat.close()
    await closed
    await other.close()
  })
}
