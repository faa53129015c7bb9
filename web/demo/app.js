// rtgate demo chat: a plain script over the SDK bundle (global RTGate).
/* global RTGate */
'use strict'

const $ = (id) => document.getElementById(id)
const el = (tag, cls, text) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text != null) e.textContent = text
  return e
}
const time = (ms) => {
  const d = new Date(ms)
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return d.toDateString() === new Date().toDateString() ? t : d.toLocaleDateString() + ' ' + t
}
const short = (id) => id.length > 12 ? id.slice(0, 6) + '…' + id.slice(-4) : id

let client = null
let settings = null // the login form's values
const contacts = new Set() // watched peers
const groups = new Map() // id -> {members: []}
const convs = new Map() // 'peer:x' | 'group:x' -> {type, id, messages: [], ids: Set, unread}
let active = null // the open conversation key

// ---- login and connection ------------------------------------------------

const earlyReceipts = new Map() // receipts that arrived before their send() resolved, by id
const saved = JSON.parse(localStorage.getItem('rtgate-demo') || '{}')
const form = $('login-form')
for (const [k, v] of Object.entries(saved)) if (form.elements[k]) form.elements[k].value = v
// The WebTransport URL is left empty: the SDK learns it, with the dev
// certificate's hash, from GET /certinfo (devCertificate below).

form.addEventListener('submit', async (e) => {
  e.preventDefault()
  settings = Object.fromEntries(new FormData(form))
  localStorage.setItem('rtgate-demo', JSON.stringify(settings))
  $('login-error').textContent = ''
  $('login-button').disabled = true
  try {
    await login()
  } catch (err) {
    $('login-error').textContent = err.message
  } finally {
    $('login-button').disabled = false
  }
})

function store () { return 'rtgate-demo:' + settings.appId + ':' + settings.peerId }

async function login () {
  const mine = JSON.parse(localStorage.getItem(store()) || '{}')
  contacts.clear(); groups.clear(); convs.clear(); active = null
  for (const p of mine.contacts || []) contacts.add(p)
  for (const g of mine.groups || []) groups.set(g, { members: [] })
  await open(settings.transport)
  $('login').hidden = true
  $('chat').hidden = false
  $('conn').hidden = false
  $('me').textContent = settings.peerId + ' @ ' + settings.appId
  $('switch').value = settings.transport
  log('Logged in as ' + settings.peerId)
  loadGroups()
  render()
}

async function open (transport) {
  const c = new RTGate.Client({
    url: settings.url || location.origin,
    appId: settings.appId,
    peerId: settings.peerId,
    appKey: settings.appKey || undefined,
    watch: [...contacts],
    transports: transport === 'auto' ? RTGate.TRANSPORTS : [transport],
    wsDialect: settings.wsDialect,
    webtransport: settings.webtransport || undefined,
    devCertificate: true // pin the dev certificate of GET /certinfo, when the server has one
  })
  wire(c)
  setStatus('connecting…')
  await c.connect()
  client = c
  showTransport()
}

function wire (c) {
  c.on('open', showTransport)
  c.on('online', (peers) => { for (const p of peers) if (contacts.has(p)) log(p + ' is online'); renderContacts() })
  c.on('offline', (peers) => { for (const p of peers) log(p + ' went offline'); renderContacts() })
  c.on('disconnect', (e) => { setStatus('reconnecting…', 'down'); log('Connection lost (' + e.code + (e.reason ? ': ' + e.reason : '') + ')') })
  c.on('reconnecting', (r) => setStatus('reconnecting in ' + (r.delay / 1000).toFixed(1) + ' s…', 'down'))
  c.on('reconnect', () => log('Reconnected over ' + c.transport))
  c.on('close', (e) => {
    if (c !== client || e.code === 1000) return
    setStatus('closed: ' + e.code + (e.reason ? ' ' + e.reason : ''), 'down')
    log('Connection closed by the server: ' + e.code + (e.reason ? ' ' + e.reason : ''))
  })
  c.on('message', onMessage)
  c.on('receipt', (r) => {
    for (const conv of convs.values()) {
      const m = conv.messages.find(x => x.id === r.id)
      if (m) { m.status = 'delivered ' + time(r.timestamp); if (conv === convs.get(active)) renderMessages(); return }
    }
    // The receipt can arrive in the same task as the ack, before send()
    // resolved and the message learnt its id: keep it for the composer.
    earlyReceipts.set(r.id, r)
    if (earlyReceipts.size > 100) earlyReceipts.delete(earlyReceipts.keys().next().value)
  })
  c.on('joined', (g) => {
    addGroup(g.group)
    log(g.by === c.peerId ? 'You joined group ' + short(g.group) : g.by + ' added you to group ' + short(g.group))
  })
  c.on('left', (g) => {
    groups.delete(g.group)
    save()
    log(g.by === c.peerId ? 'You left group ' + short(g.group) : g.by + ' removed you from group ' + short(g.group))
    if (active === 'group:' + g.group) select(null)
    render()
  })
  // One activity line per group event: this peer's own joins and leaves
  // are told by 'joined' and 'left' above, so they are left out here.
  const others = (peers) => peers.filter(p => p !== c.peerId)
  c.on('membersJoined', (g) => {
    const peers = others(g.peers)
    if (peers.length) log(peers.join(', ') + ' joined group ' + short(g.group))
    loadMembers(g.group)
  })
  c.on('membersLeft', (g) => {
    const peers = others(g.peers)
    if (peers.length) log(peers.join(', ') + ' left group ' + short(g.group))
    loadMembers(g.group)
  })
  c.on('error', (e) => log('Server error ' + e.code + ': ' + e.message))
}

function setStatus (text, cls = '') {
  $('status').textContent = text
  $('status').className = 'pill ' + cls
}

function showTransport () {
  const c = client
  if (!c || !c.conn) return
  const names = { webtransport: 'WebTransport', websocket: 'WebSocket', longpoll: 'long-poll' }
  setStatus('online · ' + names[c.conn.name] + ' (' + c.conn.dialect + ')', 'up')
}

$('switch').addEventListener('change', async (e) => {
  const old = client
  client = null
  await old.close()
  try {
    await open(e.target.value)
    log('Now using ' + client.transport)
  } catch (err) {
    setStatus('failed', 'down')
    log(err.message)
    alert(err.message + '\nBack to auto.')
    e.target.value = 'auto'
    await open('auto')
  }
})

$('logout').addEventListener('click', async () => {
  const c = client
  client = null
  if (c) await c.close()
  $('chat').hidden = true
  $('conn').hidden = true
  $('login').hidden = false
})

// ---- contacts and groups -------------------------------------------------

function save () {
  localStorage.setItem(store(), JSON.stringify({ contacts: [...contacts], groups: [...groups.keys()] }))
}

$('watch-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const peer = e.target.elements.peer.value.trim()
  if (!peer || peer === settings.peerId) return
  contacts.add(peer)
  try {
    await client.watch(peer)
    save()
    e.target.reset()
    select('peer:' + peer)
  } catch (err) {
    contacts.delete(peer)
    alert('Could not watch ' + peer + ': ' + err.message)
  }
})

$('new-group').addEventListener('click', async () => {
  try {
    const id = await client.createGroup()
    addGroup(id)
    select('group:' + id)
  } catch (err) { alert('Could not create a group: ' + err.message) }
})

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const id = e.target.elements.group.value.trim()
  try {
    await client.joinGroup(id)
    addGroup(id)
    e.target.reset()
    select('group:' + id)
  } catch (err) { alert('Could not join ' + id + ': ' + err.message) }
})

function addGroup (id) {
  if (!groups.has(id)) groups.set(id, { members: [] })
  save()
  loadMembers(id)
  render()
}

function peersPrompt (what) {
  const s = prompt(what + ' (peer ids, separated by commas)')
  return s ? s.split(',').map(x => x.trim()).filter(Boolean) : []
}

$('invite').addEventListener('click', async () => {
  const gid = convs.get(active).id
  const peers = peersPrompt('Invite to the group')
  if (!peers.length) return
  try { await client.invite(gid, peers); log('Invited ' + peers.join(', ')) } catch (err) { alert(err.message) }
})

$('kick').addEventListener('click', async () => {
  const gid = convs.get(active).id
  const peers = peersPrompt('Remove from the group')
  if (!peers.length) return
  try { await client.kick(gid, peers); log('Removed ' + peers.join(', ')) } catch (err) { alert(err.message) }
})

$('leave').addEventListener('click', async () => {
  const gid = convs.get(active).id
  if (!confirm('Leave group ' + gid + '?')) return
  try { await client.leaveGroup(gid) } catch (err) { alert(err.message) }
})

// REST: the groups this peer belongs to, and a group's members.
function rest (path) {
  const headers = { 'X-LC-Id': settings.appId }
  if (settings.appKey) headers['X-LC-Key'] = settings.appKey
  return RTGate.fetchJSON((settings.url || location.origin).replace(/\/$/, '') + '/1.1/' + path, { headers })
}

async function loadGroups () {
  try {
    const r = await rest('classes/AVOSRealtimeGroups?limit=100&where=' + encodeURIComponent(JSON.stringify({ m: settings.peerId })))
    for (const g of r.results) if (!groups.has(g.objectId)) groups.set(g.objectId, { members: g.m || [] })
    save()
    render()
  } catch (err) { log('Could not list groups: ' + err.message) }
}

async function loadMembers (id) {
  try {
    const g = await rest('classes/AVOSRealtimeGroups/' + encodeURIComponent(id))
    if (groups.has(id)) groups.get(id).members = g.m || []
    if (active === 'group:' + id) renderHead()
  } catch (err) {}
}

// ---- conversations -------------------------------------------------------

function conv (key) {
  if (!convs.has(key)) {
    const [type, ...rest] = key.split(':')
    convs.set(key, { type, id: rest.join(':'), messages: [], ids: new Set(), unread: 0, loaded: false })
  }
  return convs.get(key)
}

function addMessage (c, m, front) {
  if (m.id && c.ids.has(m.id)) return false
  if (m.id) c.ids.add(m.id)
  front ? c.messages.unshift(m) : c.messages.push(m)
  return true
}

function onMessage (m) {
  const key = m.group ? 'group:' + m.group : 'peer:' + m.from
  if (!m.group && !contacts.has(m.from)) { contacts.add(m.from); save(); client.watch(m.from).catch(() => {}) }
  const c = conv(key)
  const status = (m.offline ? 'received while offline · ' : '') + (m.transient ? 'transient' : '')
  if (!addMessage(c, { id: m.id, from: m.from, text: m.text, timestamp: m.timestamp || Date.now(), status })) return
  if (key === active) renderMessages(true)
  else { c.unread++; render() }
}

function select (key) {
  active = key
  if (key) {
    const c = conv(key)
    c.unread = 0
    if (!c.loaded) loadHistory()
  }
  render()
}

async function loadHistory () {
  const c = convs.get(active)
  const oldest = c.messages.find(m => m.timestamp && m.id)
  try {
    const rows = await client.history(c.type === 'group' ? { group: c.id } : c.id,
      { limit: 20, maxTs: oldest && oldest.timestamp, msgId: oldest && oldest.id })
    c.loaded = true
    for (const r of rows) addMessage(c, { id: r.id, from: r.from, text: r.text, timestamp: r.timestamp, status: 'history' }, true)
    c.messages.sort((a, b) => a.timestamp - b.timestamp)
    $('history').textContent = rows.length < 20 ? 'No earlier messages' : 'Load earlier messages'
    $('history').disabled = rows.length < 20
    if (convs.get(active) === c) renderMessages(!oldest)
  } catch (err) { log('History: ' + err.message) }
}
$('history').addEventListener('click', loadHistory)

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault()
  const f = e.target.elements
  const text = f.text.value
  if (!text.trim() || !active) return
  const c = convs.get(active)
  const opts = { transient: f.transient.checked, receipt: f.receipt.checked && c.type === 'peer' && !f.transient.checked }
  const m = { from: settings.peerId, text, timestamp: Date.now(), mine: true, status: 'sending…' }
  addMessage(c, m)
  f.text.value = ''
  renderMessages(true)
  try {
    const r = c.type === 'group' ? await client.sendToGroup(c.id, text, opts) : await client.send(c.id, text, opts)
    if (r.id) { m.id = r.id; c.ids.add(r.id); m.timestamp = r.timestamp }
    m.status = opts.transient ? 'sent (transient)' : 'stored' + (opts.receipt ? ' · waiting for delivery' : '')
    const early = r.id && earlyReceipts.get(r.id)
    if (early) { earlyReceipts.delete(r.id); m.status = 'delivered ' + time(early.timestamp) }
  } catch (err) {
    m.status = 'not sent: ' + err.message
    m.failed = true
  }
  renderMessages()
})
$('composer').elements.text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit() }
})

// ---- rendering -----------------------------------------------------------

function render () {
  renderContacts()
  renderGroups()
  $('empty').hidden = !!active
  $('conv').hidden = !active
  if (active) { renderHead(); renderMessages(true) }
}

function item (key, label, dotOn, onRemove) {
  const li = el('li', key === active ? 'active' : '')
  if (dotOn !== null) li.append(el('span', 'dot' + (dotOn ? ' on' : '')))
  li.append(el('span', 'name', label))
  const c = convs.get(key)
  if (c && c.unread) li.append(el('span', 'badge', c.unread))
  const x = el('button', 'x', '×')
  x.title = 'Remove'
  x.addEventListener('click', (e) => { e.stopPropagation(); onRemove() })
  li.append(x)
  li.addEventListener('click', () => select(key))
  return li
}

function renderContacts () {
  const ul = $('contacts')
  ul.replaceChildren()
  for (const p of [...contacts].sort()) {
    ul.append(item('peer:' + p, p, !!(client && client.online.has(p)), async () => {
      contacts.delete(p)
      save()
      if (active === 'peer:' + p) active = null
      render()
      if (client) client.unwatch(p).catch(() => {})
    }))
  }
  if (!contacts.size) ul.append(el('li', 'sub', 'Nobody yet'))
  if (active && active.startsWith('peer:')) renderHead()
}

function renderGroups () {
  const ul = $('groups')
  ul.replaceChildren()
  for (const id of groups.keys()) {
    ul.append(item('group:' + id, 'Group ' + short(id), null, () => { groups.delete(id); save(); render() }))
  }
  if (!groups.size) ul.append(el('li', 'sub', 'No groups yet'))
}

function renderHead () {
  const c = convs.get(active)
  if (!c) return
  $('group-actions').hidden = c.type !== 'group'
  if (c.type === 'group') {
    $('conv-title').textContent = 'Group ' + c.id
    const g = groups.get(c.id)
    $('conv-sub').textContent = g && g.members.length ? 'Members: ' + g.members.join(', ') : 'Share the group id so others can join'
  } else {
    $('conv-title').textContent = c.id
    $('conv-sub').textContent = client && client.online.has(c.id) ? 'online' : 'offline: messages wait for them (unless transient)'
  }
  $('composer').elements.receipt.disabled = c.type === 'group'
}

function renderMessages (scroll) {
  const c = convs.get(active)
  if (!c) return
  const ol = $('message-list')
  ol.replaceChildren()
  for (const m of c.messages) {
    const mine = m.mine || m.from === settings.peerId
    const li = el('li', 'msg' + (mine ? ' mine' : '') + (m.failed ? ' failed' : ''))
    if (!mine && c.type === 'group') li.append(el('div', 'who', m.from))
    li.append(el('div', 'text', m.text))
    li.append(el('div', 'meta', time(m.timestamp) + (m.status ? ' · ' + m.status : '')))
    ol.append(li)
  }
  if (scroll) $('messages').scrollTop = $('messages').scrollHeight
}

function log (text) {
  const li = el('li')
  li.append(el('time', null, time(Date.now())), document.createTextNode(text))
  $('activity').prepend(li)
  while ($('activity').children.length > 50) $('activity').lastChild.remove()
}
