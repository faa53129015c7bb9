// AVChatClient: the API and events of lean-cloud-chat 1.0.4 (the v1 JS
// client) on top of Client, so an old app switches by changing its
// import. Promises resolve with the server's reply commands, events carry
// the raw commands, exactly as v1 did. Differences: `server` ('us') is
// replaced by `url` (the rtgate server) or `router` (a v1 router base
// URL); every transport may be used; messages are de-duplicated; set
// `reconnect: true` to reconnect automatically (v1 left it to the app).

import { Client } from './client.js'
import { Emitter } from './util.js'

const list = (x) => [].concat(x == null ? [] : x)

export function AVChatClient (settings) {
  if (!(this instanceof AVChatClient)) return new AVChatClient(settings)
  if (!settings) throw new Error('settings')
  if (!settings.appId) throw new Error('settings.appId')
  if (!settings.peerId) throw new Error('settings.peerId')
  if (settings.auth && typeof settings.auth !== 'function') throw new Error('sesstings.auth')
  if (settings.groupAuth && typeof settings.groupAuth !== 'function') throw new Error('sesstings.groupAuth')
  const auth = settings.auth || ((peerId, ids) => Promise.resolve({ watchingPeerIds: ids || [] }))
  const groupAuth = settings.groupAuth || ((peerId, groupId, action, ids) => Promise.resolve({ groupPeerIds: ids || [] }))
  const emitter = new Emitter()
  const peerId = settings.peerId
  let watching = list(settings.watchingPeerIds)
  let client = null
  let closeSent = false

  const sig = (d) => ({ s: d && d.s, t: d && d.t != null ? String(d.t) : undefined, n: d && d.n != null ? String(d.n) : undefined })

  function make () {
    const c = new Client({ reconnect: false, ...settings, watch: watching, auth, groupAuth })
    c.on('open', () => { closeSent = false })
    c.on('command', (d) => {
      const k = d.cmd === 'session' || d.cmd === 'room' ? d.cmd + d.op : d.cmd
      if (k === 'sessionopened' || k === 'sessionadded') emitter.emit('online', d.onlineSessionPeerIds)
      else if (k === 'presence') emitter.emit(d.status === 'on' ? 'online' : 'offline', d.sessionPeerIds)
      else if (k === 'direct') emitter.emit('message', d)
      else if (k === 'roommembers-joined') emitter.emit('membersJoined', d)
      else if (k === 'roommembers-left') emitter.emit('membersLeft', d)
      else if (k === 'roomjoined') emitter.emit('joined', d)
      else if (k === 'roomleft') emitter.emit('left', d)
    })
    const closed = (e) => { if (!closeSent) { closeSent = true; emitter.emit('close', e) } }
    c.on('disconnect', closed)
    c.on('close', closed)
    return c
  }

  const request = (cmd) => client ? client.request(cmd) : Promise.reject(new Error('not open'))

  this.open = function () {
    if (client && (client.state === 'connecting' || client.state === 'reconnecting')) return Promise.reject(0) // eslint-disable-line prefer-promise-reject-errors
    if (client && client.state === 'open') return Promise.resolve()
    client = make()
    return client.connect().then(() => client.opened)
  }
  this.close = function () {
    if (client) client.close()
    return Promise.resolve()
  }
  this.send = function (msg, to, transient) {
    const cmd = { cmd: 'direct', msg, toPeerIds: list(to), transient: transient === true || undefined }
    if (cmd.transient) { if (client) client.write(cmd); return Promise.resolve() }
    return request(cmd)
  }
  this.on = function (name, fn) { emitter.on(name, fn) }
  this.watch = function (peers) {
    return auth(peerId, list(peers)).then((d) => {
      const ids = list(d.watchingPeerIds)
      for (const p of ids) {
        if (!watching.includes(p)) watching.push(p)
        if (client) client.watching.add(p)
      }
      return request({ cmd: 'session', op: 'add', sessionPeerIds: ids, ...sig(d) })
    })
  }
  this.unwatch = function (peers) {
    watching = watching.filter(p => !list(peers).includes(p))
    if (client) for (const p of list(peers)) client.watching.delete(p)
    return request({ cmd: 'session', op: 'remove', sessionPeerIds: list(peers) })
  }
  this.getStatus = function (peers) {
    return request({ cmd: 'session', op: 'query', sessionPeerIds: list(peers) })
  }
  this.joinGroup = function (groupId) {
    return groupAuth(peerId, groupId, 'join', []).then((d) =>
      request({ cmd: 'room', op: 'join', roomId: groupId || undefined, ...sig(d) }))
  }
  this.sendToGroup = function (msg, groupId, transient) {
    const cmd = { cmd: 'direct', msg, roomId: groupId, transient: transient === true || undefined }
    if (cmd.transient) { if (client) client.write(cmd); return Promise.resolve() }
    return request(cmd)
  }
  this.inviteToGroup = function (groupId, groupPeerIds) {
    return groupAuth(peerId, groupId, 'invite', list(groupPeerIds)).then((d) =>
      request({ cmd: 'room', op: 'invite', roomId: groupId, roomPeerIds: list(d.groupPeerIds), ...sig(d) }))
  }
  this.kickFromGroup = function (groupId, groupPeerIds) {
    return groupAuth(peerId, groupId, 'kick', list(groupPeerIds)).then((d) =>
      request({ cmd: 'room', op: 'kick', roomId: groupId, roomPeerIds: list(groupPeerIds), ...sig(d) }))
  }
  this.leaveGroup = function (groupId) {
    return request({ cmd: 'room', op: 'leave', roomId: groupId })
  }
  // The modern client underneath (null before open), and its transport.
  Object.defineProperty(this, 'client', { get: () => client })
  Object.defineProperty(this, 'transport', { get: () => client && client.transport })
}
