import { test } from 'node:test'
import assert from 'node:assert/strict'
import { varint, readVarint, encodeFrame, FrameReader } from '../src/frame.js'
import { hex, unhex } from './vectors.mjs'

test('varint: shortest encodings and the spec examples', () => {
  assert.equal(hex(varint(0)), '00')
  assert.equal(hex(varint(63)), '3f')
  assert.equal(hex(varint(64)), '4040')
  assert.equal(hex(varint(300)), '412c') // spec: a 300-byte body is prefixed 41 2c
  assert.equal(hex(varint(16383)), '7fff')
  assert.equal(hex(varint(16384)), '80004000')
  assert.equal(hex(varint(2 ** 30 - 1)), 'bfffffff')
  assert.throws(() => varint(2 ** 30))
})

test('readVarint accepts every length form (RFC 9000 examples)', () => {
  assert.deepEqual(readVarint(unhex('c2197c5eff14e88c'), 0), [151288809941952652, 8])
  assert.deepEqual(readVarint(unhex('9d7f3e7d'), 0), [494878333, 4])
  assert.deepEqual(readVarint(unhex('7bbd'), 0), [15293, 2])
  assert.deepEqual(readVarint(unhex('25'), 0), [37, 1])
  assert.deepEqual(readVarint(unhex('4025'), 0), [37, 2]) // non-minimal is fine
  assert.equal(readVarint(unhex('7b'), 0), null) // incomplete
  assert.equal(readVarint(unhex(''), 0), null)
})

test('encodeFrame: keepalive is 01 80', () => {
  assert.equal(hex(encodeFrame({})), '0180')
  const f = encodeFrame({ cmd: 'direct', msg: 'x'.repeat(300) })
  assert.equal(hex(f.subarray(0, 2)), '413f') // a 319-byte body
})

test('FrameReader reassembles frames split anywhere', () => {
  const cmds = [{}, { cmd: 'ack', uid: 'u', t: 1415000123456, i: 7 }, { cmd: 'direct', msg: 'é'.repeat(5000) }, {}]
  const bytes = Buffer.concat(cmds.map(encodeFrame))
  for (const size of [1, 2, 3, 7, 64, 1000, bytes.length]) {
    const r = new FrameReader()
    const got = []
    for (let p = 0; p < bytes.length; p += size) got.push(...r.push(new Uint8Array(bytes.subarray(p, p + size))))
    assert.deepEqual(got, cmds, 'chunk size ' + size)
    assert.equal(r.pending, false)
  }
})

test('FrameReader refuses an oversize length before the body', () => {
  const r = new FrameReader(1024)
  assert.throws(() => r.push(unhex('4401')), /over the limit/) // 1025 declared, no body yet
  assert.deepEqual(new FrameReader(1024).push(unhex('4400')), []) // 1024 is fine, waits for it
})

test('FrameReader keeps a partial frame pending', () => {
  const r = new FrameReader()
  assert.deepEqual(r.push(unhex('0281')), [])
  assert.equal(r.pending, true)
  assert.throws(() => new FrameReader().push(unhex('0291c1')), /bad format/)
})
