// A small msgpack codec: what the rtgate protocol needs, nothing more.
// encode: null/undefined (nil), booleans, numbers (shortest int, else
// float64), bigint (int64/uint64), strings, Uint8Array (bin), arrays and
// plain objects (maps with string keys; undefined values are skipped).
// decode: every msgpack type; bin becomes a Uint8Array, ext becomes null
// (rtgate ignores both), integers beyond 2^53 become bigint. Every length
// is checked against the bytes left before anything is allocated.

const te = new TextEncoder()
const td = new TextDecoder() // replaces invalid UTF-8 with U+FFFD

export const MAX_DEPTH = 64

export function encode (value) {
  const w = { buf: new Uint8Array(256), len: 0 }
  put(w, value)
  return w.buf.subarray(0, w.len)
}

function room (w, n) {
  if (w.len + n <= w.buf.length) return
  let size = w.buf.length * 2
  while (size < w.len + n) size *= 2
  const b = new Uint8Array(size)
  b.set(w.buf.subarray(0, w.len))
  w.buf = b
}

function byte (w, b) { room(w, 1); w.buf[w.len++] = b }

function num (w, tag, size, v) { // tag byte then a big-endian number
  room(w, 1 + size)
  const dv = new DataView(w.buf.buffer, w.buf.byteOffset + w.len)
  dv.setUint8(0, tag)
  if (size === 1) dv.setUint8(1, Number(v) & 0xff)
  else if (size === 2) dv.setUint16(1, Number(v) & 0xffff)
  else if (tag === 0xca) dv.setFloat32(1, v)
  else if (size === 4) dv.setUint32(1, Number(v) >>> 0)
  else if (tag === 0xcb) dv.setFloat64(1, v)
  else if (tag === 0xcf) dv.setBigUint64(1, BigInt(v))
  else dv.setBigInt64(1, BigInt(v))
  w.len += 1 + size
}

function head (w, n, fix, fixMax, t8, t16, t32) { // a length header
  if (n <= fixMax) byte(w, fix | n)
  else if (t8 && n < 0x100) num(w, t8, 1, n)
  else if (n < 0x10000) num(w, t16, 2, n)
  else num(w, t32, 4, n)
}

function int (w, v) {
  if (typeof v === 'bigint' && v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER) v = Number(v)
  if (v >= 0) {
    if (v < 0x80) byte(w, v)
    else if (v < 0x100) num(w, 0xcc, 1, v)
    else if (v < 0x10000) num(w, 0xcd, 2, v)
    else if (v < 0x100000000) num(w, 0xce, 4, v)
    else num(w, 0xcf, 8, v)
  } else {
    if (v >= -32) byte(w, v & 0xff)
    else if (v >= -0x80) num(w, 0xd0, 1, v)
    else if (v >= -0x8000) num(w, 0xd1, 2, v)
    else if (v >= -0x80000000) num(w, 0xd2, 4, v)
    else num(w, 0xd3, 8, v)
  }
}

function put (w, v) {
  switch (typeof v) {
    case 'undefined': byte(w, 0xc0); return
    case 'boolean': byte(w, v ? 0xc3 : 0xc2); return
    case 'bigint': int(w, v); return
    case 'number':
      if (Number.isSafeInteger(v)) int(w, v)
      else num(w, 0xcb, 8, v)
      return
    case 'string': {
      const b = te.encode(v)
      head(w, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb)
      room(w, b.length); w.buf.set(b, w.len); w.len += b.length
      return
    }
  }
  if (v === null) { byte(w, 0xc0); return }
  if (v instanceof Uint8Array) {
    head(w, v.length, 0, -1, 0xc4, 0xc5, 0xc6)
    room(w, v.length); w.buf.set(v, w.len); w.len += v.length
    return
  }
  if (Array.isArray(v)) {
    head(w, v.length, 0x90, 15, 0, 0xdc, 0xdd)
    for (const x of v) put(w, x)
    return
  }
  const keys = Object.keys(v).filter(k => v[k] !== undefined)
  head(w, keys.length, 0x80, 15, 0, 0xde, 0xdf)
  for (const k of keys) { put(w, k); put(w, v[k]) }
}

// decode returns the single value in bytes; anything left over, a
// truncated value or nesting deeper than MAX_DEPTH throws.
export function decode (bytes) {
  const r = { b: bytes, dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), p: 0 }
  const v = get(r, 0)
  if (r.p !== bytes.length) throw new Error('msgpack: data after the value')
  return v
}

function need (r, n) {
  if (n > r.b.length - r.p) throw new Error('msgpack: truncated')
}

function str (r, n) {
  need(r, n)
  const s = td.decode(r.b.subarray(r.p, r.p + n))
  r.p += n
  return s
}

function bin (r, n) {
  need(r, n)
  const s = r.b.slice(r.p, r.p + n)
  r.p += n
  return s
}

function arr (r, n, depth) {
  need(r, n) // every element takes at least one byte
  const a = []
  for (let i = 0; i < n; i++) a.push(get(r, depth))
  return a
}

function map (r, n, depth) {
  need(r, n * 2)
  const m = {}
  for (let i = 0; i < n; i++) {
    const k = get(r, depth)
    if (typeof k !== 'string') throw new Error('msgpack: map key is not a string')
    const v = get(r, depth)
    if (k === '__proto__') continue
    m[k] = v
  }
  return m
}

function big (v) { // a 64-bit integer: a number when exact
  return v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v
}

function get (r, depth) {
  need(r, 1)
  const t = r.b[r.p++]
  const dv = r.dv
  const at = (n) => { need(r, n); const p = r.p; r.p += n; return p }
  if (t < 0x80) return t
  if (t >= 0xe0) return t - 0x100
  if (t >= 0xa0 && t <= 0xbf) return str(r, t & 0x1f)
  if (t >= 0x80 && t <= 0x9f) {
    if (depth >= MAX_DEPTH) throw new Error('msgpack: nesting too deep')
    return t < 0x90 ? map(r, t & 0x0f, depth + 1) : arr(r, t & 0x0f, depth + 1)
  }
  switch (t) {
    case 0xc0: return null
    case 0xc2: return false
    case 0xc3: return true
    case 0xc4: return bin(r, dv.getUint8(at(1)))
    case 0xc5: return bin(r, dv.getUint16(at(2)))
    case 0xc6: return bin(r, dv.getUint32(at(4)))
    case 0xc7: at(1); return ext(r, dv.getUint8(r.p - 1))
    case 0xc8: at(2); return ext(r, dv.getUint16(r.p - 2))
    case 0xc9: at(4); return ext(r, dv.getUint32(r.p - 4))
    case 0xca: return dv.getFloat32(at(4))
    case 0xcb: return dv.getFloat64(at(8))
    case 0xcc: return dv.getUint8(at(1))
    case 0xcd: return dv.getUint16(at(2))
    case 0xce: return dv.getUint32(at(4))
    case 0xcf: return big(dv.getBigUint64(at(8)))
    case 0xd0: return dv.getInt8(at(1))
    case 0xd1: return dv.getInt16(at(2))
    case 0xd2: return dv.getInt32(at(4))
    case 0xd3: return big(dv.getBigInt64(at(8)))
    case 0xd4: return ext(r, 1)
    case 0xd5: return ext(r, 2)
    case 0xd6: return ext(r, 4)
    case 0xd7: return ext(r, 8)
    case 0xd8: return ext(r, 16)
    case 0xd9: return str(r, dv.getUint8(at(1)))
    case 0xda: return str(r, dv.getUint16(at(2)))
    case 0xdb: return str(r, dv.getUint32(at(4)))
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
      const n = t & 1 ? dv.getUint32(at(4)) : dv.getUint16(at(2))
      if (depth >= MAX_DEPTH) throw new Error('msgpack: nesting too deep')
      return t < 0xde ? arr(r, n, depth + 1) : map(r, n, depth + 1)
    }
  }
  throw new Error('msgpack: bad format byte 0x' + t.toString(16)) // 0xc1
}

function ext (r, n) { // type byte + n bytes, skipped
  need(r, n + 1)
  r.p += n + 1
  return null
}
