// Loads the conformance vectors of spec/vectors and maps their Go field
// names to wire names. Integers beyond 2^53 are read as bigint.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../../spec/vectors/', import.meta.url))

export function load (name) {
  const text = readFileSync(dir + name, 'utf8').replace(/(": )(-?\d{16,})(?=\s*[,\]}])/g, '$1"__big$2"')
  return JSON.parse(text, (k, v) => {
    if (typeof v !== 'string' || !v.startsWith('__big')) return v
    const b = BigInt(v.slice(5))
    return b >= -BigInt(Number.MAX_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b
  })
}

const NAMES = {
  PeerID: 'peerId', AppID: 'appId', InstallationID: 'installationId', SessionPeerIDs: 'sessionPeerIds',
  OnlineSessionPeerIDs: 'onlineSessionPeerIds', Status: 'status', FromPeerID: 'fromPeerId', ToPeerIDs: 'toPeerIds',
  RoomID: 'roomId', RoomPeerIDs: 'roomPeerIds', ByPeerID: 'byPeerId', Msg: 'msg', ID: 'id', IDs: 'ids', UID: 'uid',
  Timestamp: 'timestamp', Time: 't', SigTime: 't', Sig: 's', Nonce: 'n', SuperPeer: 'sp', Transient: 'transient',
  Receipt: 'r', Offline: 'offline', Count: 'c', Code: 'code', Reason: 'reason', I: 'i'
}
const ALWAYS = {
  sessionopened: 'onlineSessionPeerIds', sessionadded: 'onlineSessionPeerIds', 'sessionquery-result': 'onlineSessionPeerIds',
  presence: 'sessionPeerIds', roominvited: 'roomPeerIds', roomkicked: 'roomPeerIds', 'roommembers-joined': 'roomPeerIds',
  'roommembers-left': 'roomPeerIds', roomreject: 'roomPeerIds'
}

const empty = (v) => v === undefined || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0)

// wire returns the command of a vector as the wire object an encoder
// writes: empty fields omitted except the always-written lists and ids.
export function wire (kind, command) {
  const out = {}
  if (kind !== '{}') {
    const m = /^(session|room)(.+)$/.exec(kind)
    out.cmd = m ? m[1] : kind
    if (m) out.op = m[2]
  }
  for (const [k, v] of Object.entries(command)) {
    if (k === 'HasIDs') continue
    const w = NAMES[k]
    if (!w) throw new Error('unmapped Go field ' + k)
    if (!empty(v)) out[w] = v
  }
  if (command.HasIDs && !out.ids) out.ids = []
  if (ALWAYS[kind] && !out[ALWAYS[kind]]) out[ALWAYS[kind]] = []
  return out
}

// comparable drops empty fields (but not ids) and unknown keys, so a
// decoded command compares with its wire object.
export function comparable (c, known) {
  const out = {}
  for (const [k, v] of Object.entries(c)) {
    if (!known.includes(k)) continue
    if (k !== 'ids' && empty(v)) continue
    out[k] = v
  }
  return out
}

export const hex = (b) => Buffer.from(b).toString('hex')
export const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'))
