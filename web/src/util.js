// Small helpers: an event emitter, reconnect backoff, a bounded set for
// de-duplicating message ids, and the v1 conversation id (md5).

export class Emitter {
  constructor () { this._on = {} }
  on (name, fn) { (this._on[name] ||= []).push(fn); return this }
  off (name, fn) { this._on[name] = (this._on[name] || []).filter(f => f !== fn); return this }
  once (name, fn) {
    const w = (...a) => { this.off(name, w); fn.apply(this, a) }
    return this.on(name, w)
  }

  emit (name, ...args) {
    for (const fn of (this._on[name] || []).slice()) {
      try { fn.apply(this, args) } catch (e) { setTimeout(() => { throw e }) }
    }
    return (this._on[name] || []).length > 0
  }
}

// backoff returns the delay before reconnect attempt n (0, 1, 2, ...):
// min(max, base * 2^n), scaled by a random factor in [1-jitter, 1].
export function backoff (n, { base = 500, max = 30000, jitter = 0.5 } = {}, rand = Math.random) {
  const d = Math.min(max, base * 2 ** Math.min(n, 30))
  return Math.round(d * (1 - jitter * rand()))
}

// Dedupe remembers the last `size` ids it was given.
export class Dedupe {
  constructor (size = 1000) { this.size = size; this.set = new Set() }
  // seen reports whether id was added before, and adds it.
  seen (id) {
    if (this.set.has(id)) return true
    this.set.add(id)
    if (this.set.size > this.size) this.set.delete(this.set.values().next().value)
    return false
  }
}

// convId returns the v1 conversation id of direct messages between peers:
// md5 hex of the sorted peer ids joined by ':' (the REST history key).
export function convId (peers) {
  return md5([...new Set(peers)].sort().join(':'))
}

// md5 returns the hex MD5 of the UTF-8 bytes of s.
export function md5 (s) {
  const m = new TextEncoder().encode(s)
  const n = ((m.length + 8) >> 6) + 1
  const w = new Uint32Array(n * 16)
  for (let i = 0; i < m.length; i++) w[i >> 2] |= m[i] << ((i % 4) * 8)
  w[m.length >> 2] |= 0x80 << ((m.length % 4) * 8)
  w[n * 16 - 2] = m.length * 8
  w[n * 16 - 1] = Math.floor(m.length / 0x20000000)
  const K = []; for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0
  const R = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
  let a0 = 0x67452301; let b0 = 0xefcdab89; let c0 = 0x98badcfe; let d0 = 0x10325476
  for (let o = 0; o < w.length; o += 16) {
    let a = a0; let b = b0; let c = c0; let d = d0
    for (let i = 0; i < 64; i++) {
      const r = i >> 4
      let f, g
      if (r === 0) { f = (b & c) | (~b & d); g = i } else if (r === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16 } else if (r === 2) { f = b ^ c ^ d; g = (3 * i + 5) % 16 } else { f = c ^ (b | ~d); g = (7 * i) % 16 }
      const x = (a + f + K[i] + w[o + g]) | 0
      const sh = R[r * 4 + (i % 4)]
      a = d; d = c; c = b
      b = (b + ((x << sh) | (x >>> (32 - sh)))) | 0
    }
    a0 = (a0 + a) | 0; b0 = (b0 + b) | 0; c0 = (c0 + c) | 0; d0 = (d0 + d) | 0
  }
  let hex = ''
  for (const v of [a0, b0, c0, d0]) for (let i = 0; i < 4; i++) hex += ((v >>> (i * 8)) & 0xff).toString(16).padStart(2, '0')
  return hex
}

export const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

// withTimeout rejects with an Error after ms unless p settles first.
export function withTimeout (p, ms, what) {
  let t
  return Promise.race([p, new Promise((resolve, reject) => {
    t = setTimeout(() => reject(new Error(what + ' timed out after ' + ms + ' ms')), ms)
  })]).finally(() => clearTimeout(t))
}

// clientId returns a random client message id, which makes a send safe to
// repeat (see Client.send).
export function clientId () {
  const c = globalThis.crypto
  if (c && c.randomUUID) return c.randomUUID()
  return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2)
}
