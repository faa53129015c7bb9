// Stream framing of rtgate/1 (QUIC, WebTransport): every frame is a QUIC
// variable-length integer (RFC 9000 §16) giving the body length, then one
// msgpack command of exactly that many bytes.

import { encode, decode } from './msgpack.js'

export const MAX_FRAME = 64 * 1024 // the server's default frame limit

// varint returns the shortest QUIC varint encoding of n (0 ≤ n < 2^30).
export function varint (n) {
  if (n < 0x40) return Uint8Array.of(n)
  if (n < 0x4000) return Uint8Array.of(0x40 | (n >> 8), n & 0xff)
  if (n < 0x40000000) return Uint8Array.of(0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
  throw new RangeError('frame too large')
}

// readVarint returns [value, size] of the varint at b[p], or null when b
// ends inside it. 8-byte values above 2^53 lose precision (and are far
// over any frame limit anyway).
export function readVarint (b, p) {
  if (p >= b.length) return null
  const size = 1 << (b[p] >> 6)
  if (p + size > b.length) return null
  let v = b[p] & 0x3f
  for (let i = 1; i < size; i++) v = v * 256 + b[p + i]
  return [v, size]
}

// encodeFrame returns the frame of one command.
export function encodeFrame (cmd) {
  const body = encode(cmd)
  const pre = varint(body.length)
  const out = new Uint8Array(pre.length + body.length)
  out.set(pre)
  out.set(body, pre.length)
  return out
}

// FrameReader accumulates stream chunks and yields complete frame bodies
// decoded as msgpack. push(chunk) returns the commands now complete; it
// throws on a declared length over max (before buffering the body).
export class FrameReader {
  constructor (max = MAX_FRAME) {
    this.max = max
    this.buf = new Uint8Array(0)
  }

  push (chunk) {
    let b = this.buf
    if (b.length) {
      const n = new Uint8Array(b.length + chunk.length)
      n.set(b)
      n.set(chunk, b.length)
      b = n
    } else b = chunk
    const out = []
    let p = 0
    for (;;) {
      const v = readVarint(b, p)
      if (!v) break
      if (v[0] > this.max) throw new RangeError('frame of ' + v[0] + ' bytes is over the limit')
      if (p + v[1] + v[0] > b.length) break
      p += v[1]
      out.push(decode(b.subarray(p, p + v[0])))
      p += v[0]
    }
    this.buf = b.slice(p)
    return out
  }

  // pending reports whether a partial frame is buffered.
  get pending () { return this.buf.length > 0 }
}
