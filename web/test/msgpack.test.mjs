import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode, decode } from '../src/msgpack.js'
import { check, ordered, ORDER, kindOf } from '../src/command.js'
import { load, comparable, hex, unhex } from './vectors.mjs'

const vectors = load('msgpack.json')

test('msgpack vectors: every valid case decodes to its command', () => {
  let n = 0
  for (const v of vectors.filter(v => !v.error)) {
    const got = check(decode(unhex(v.hex)))
    assert.equal(kindOf(got), v.kind, v.name)
    assert.deepEqual(comparable(got, ORDER), comparable(v.command, ORDER), v.name)
    n++
  }
  assert.ok(n > 60)
})

test('msgpack vectors: every encode case encodes byte for byte', () => {
  for (const v of vectors.filter(v => !v.error && !v.decodeOnly)) {
    assert.equal(hex(encode(ordered(v.command))), v.hex, v.name)
  }
})

test('msgpack vectors: every error case is refused with its class', () => {
  for (const v of vectors.filter(v => v.error)) {
    assert.throws(() => check(decode(unhex(v.hex))), (e) => {
      const cls = e.kind || 'malformed' // codec errors are malformed
      assert.equal(cls, v.error, v.name + ': ' + e.message)
      return true
    }, v.name)
  }
})

test('msgpack round trips of every type and width', () => {
  const values = [
    null, true, false, 0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER,
    -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER,
    2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 0.5, -1.25e300,
    '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'é'.repeat(40000), '你好 😀',
    [], [1, [2, [3]]], new Array(16).fill(7), new Array(70000).fill(0),
    {}, { a: 1, b: { c: [true, null] } }, Object.fromEntries(Array.from({ length: 17 }, (_, i) => ['k' + i, i])),
    new Uint8Array([1, 2, 3]), new Uint8Array(300)
  ]
  for (const v of values) assert.deepEqual(decode(encode(v)), v, String(v).slice(0, 40))
})

test('msgpack uses the shortest encodings', () => {
  assert.equal(hex(encode(127)), '7f')
  assert.equal(hex(encode(-32)), 'e0')
  assert.equal(hex(encode(200)), 'ccc8')
  assert.equal(hex(encode(-100)), 'd09c')
  assert.equal(hex(encode(1415000000)), 'ce54572fc0')
  assert.equal(hex(encode('x'.repeat(32))).slice(0, 4), 'd920')
  assert.equal(hex(encode({ a: undefined, b: 1 })), '81a16201')
})

test('msgpack decode refuses truncation, trailing data and lies', () => {
  for (const h of ['', 'a3616263ff', 'a461', '92', '81a1', 'dc0002c0', 'db00000005616263', 'c1', 'c40561']) {
    assert.throws(() => decode(unhex(h)), h)
  }
  // a declared length far beyond the input fails before allocating
  assert.throws(() => decode(unhex('ddffffffff')), /truncated/)
  // ext is skipped (null), float32 read
  assert.equal(decode(unhex('d40102')), null)
  assert.equal(decode(unhex('ca3fc00000')), 1.5)
  // nesting deeper than 64 fails
  assert.throws(() => decode(unhex('91'.repeat(70) + 'c0')), /deep/)
  assert.deepEqual(decode(unhex('91'.repeat(60) + 'c0')).length, 1)
})

test('invalid UTF-8 becomes U+FFFD', () => {
  assert.equal(decode(unhex('a361ff62')), 'a\ufffdb')
})
