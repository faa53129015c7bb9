// rtgate commands: the v1 field names, their types, the fixed key order
// encoders write, and check(), which validates and normalises a decoded
// frame (JSON or msgpack) the way spec/protocol.md says.

// The fixed key order of encoders (spec/protocol.md "Order").
export const ORDER = ['cmd', 'op', 'peerId', 'appId', 'installationId', 'sessionPeerIds',
  'onlineSessionPeerIds', 'status', 'fromPeerId', 'toPeerIds', 'roomId', 'roomPeerIds',
  'byPeerId', 'msg', 'id', 'ids', 'uid', 'timestamp', 't', 's', 'n', 'sp', 'transient',
  'r', 'offline', 'c', 'code', 'reason', 'i']

const OPS = {
  session: 'open opened add added remove removed query query-result close closed',
  room: 'join joined invite invited kick kicked leave left members-joined members-left reject'
}
const CMDS = 'direct ack ackreq rcp presence login error'.split(' ')

// Field types: S string, L list of strings, I integer, B boolean.
const TYPES = {}
for (const k of 'cmd op peerId appId installationId status fromPeerId roomId byPeerId msg id uid s reason'.split(' ')) TYPES[k] = 'S'
for (const k of 'sessionPeerIds onlineSessionPeerIds toPeerIds roomPeerIds ids'.split(' ')) TYPES[k] = 'L'
for (const k of 'i timestamp c code'.split(' ')) TYPES[k] = 'I'
for (const k of 'sp transient offline'.split(' ')) TYPES[k] = 'B'

const I64 = 2n ** 63n

export class ProtocolError extends Error {
  constructor (kind, message) {
    super(message)
    this.kind = kind // 'malformed' or 'unknown'
  }
}

const bad = (m) => { throw new ProtocolError('malformed', m) }

// kindOf returns the v1 JS key of a command: cmd+op for session and room,
// cmd otherwise, '{}' for the keepalive.
export function kindOf (c) {
  if (c.cmd == null) return '{}'
  return OPS[c.cmd] ? c.cmd + (c.op || '') : c.cmd
}

function integer (k, v) {
  if (typeof v === 'bigint') {
    if (v < -I64 || v >= I64) bad(k + ' overflows int64')
    return v
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(k + ' is not an integer')
  if (Math.abs(v) >= 2 ** 63) bad(k + ' overflows int64')
  return v
}

function depth (v, d) {
  if (d > 64) bad('nesting too deep')
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    for (const k in v) depth(v[k], d + 1)
  }
}

// check validates a decoded frame and returns the normalised command:
// null fields and null list entries dropped, t/n as text (t in ms on ack
// and rcp), r a boolean, strings well-formed. Unknown fields are kept. It
// throws a ProtocolError: 'malformed' for wrong types, 'unknown' for an
// unknown cmd/op.
export function check (f) {
  if (!f || typeof f !== 'object' || Array.isArray(f) || f instanceof Uint8Array) bad('frame is not a map')
  const cmd = f.cmd
  if (cmd == null) return {} // the keepalive, whatever else it holds
  if (typeof cmd !== 'string') bad('cmd is not a string')
  const ops = OPS[cmd]
  if (ops) {
    if (typeof f.op !== 'string' && f.op != null) bad('op is not a string')
    if (!f.op || !ops.split(' ').includes(f.op)) throw new ProtocolError('unknown', 'unknown ' + cmd + ' op ' + f.op)
  } else if (!CMDS.includes(cmd)) throw new ProtocolError('unknown', 'unknown cmd ' + cmd)
  const out = {}
  for (const k of Object.keys(f)) {
    let v = f[k]
    if (v === null || v === undefined) continue
    const t = TYPES[k]
    if (t === 'S') {
      if (typeof v !== 'string') bad(k + ' is not a string')
      v = wellFormed(v)
    } else if (t === 'L') {
      if (!Array.isArray(v)) bad(k + ' is not a list')
      v = v.filter(x => x !== null)
      for (const x of v) if (typeof x !== 'string') bad(k + ' has a non-string entry')
      v = v.map(wellFormed)
    } else if (t === 'I') v = integer(k, v)
    else if (t === 'B') {
      if (typeof v !== 'boolean') bad(k + ' is not a boolean')
    } else if (k === 'n') {
      if (typeof v === 'number' || typeof v === 'bigint') v = String(v)
      else if (typeof v !== 'string') bad('n is not a string')
    } else if (k === 'r') v = v === true || v === 1
    else if (k !== 't') depth(v, 1)
    out[k] = v
  }
  if (!ops) delete out.op // read only for session and room
  if (out.t !== undefined) {
    const ms = out.cmd === 'ack' || out.cmd === 'rcp'
    if (ms) out.t = integer('t', out.t)
    else if (typeof out.t === 'number' || typeof out.t === 'bigint') out.t = String(out.t)
    else if (typeof out.t !== 'string') bad('t is not a number or string')
  }
  if (!out.r) delete out.r
  return out
}

function wellFormed (s) {
  return s.toWellFormed ? s.toWellFormed() : s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
}

// ordered returns cmd with its keys in the fixed encoder order (unknown
// keys last) and a signature timestamp t written as a number when it is
// a canonical unsigned decimal, as the server's encoder does.
export function ordered (cmd) {
  const out = {}
  for (const k of ORDER) if (cmd[k] !== undefined) out[k] = cmd[k]
  for (const k of Object.keys(cmd)) if (!Object.prototype.hasOwnProperty.call(out, k) && cmd[k] !== undefined) out[k] = cmd[k]
  const t = out.t
  if (typeof t === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(t) && BigInt(t) < 2n ** 64n) {
    out.t = Number.isSafeInteger(+t) ? +t : BigInt(t)
  }
  return out
}
