import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backoff, Dedupe, convId, md5, Emitter } from '../src/util.js'

test('backoff grows exponentially and stays within bounds', () => {
  const opts = { base: 500, max: 30000, jitter: 0.5 }
  for (let n = 0; n < 40; n++) {
    const cap = Math.min(30000, 500 * 2 ** n)
    for (const r of [0, 0.25, 0.999999, 1]) {
      const d = backoff(n, opts, () => r)
      assert.ok(d <= cap && d >= cap / 2, `attempt ${n} r ${r}: ${d}`)
    }
  }
  assert.equal(backoff(0, opts, () => 0), 500)
  assert.equal(backoff(3, opts, () => 0), 4000)
  assert.equal(backoff(100, opts, () => 0), 30000)
  assert.equal(backoff(100, opts, () => 1), 15000)
  // defaults with real randomness
  for (let i = 0; i < 1000; i++) {
    const d = backoff(i % 20)
    assert.ok(d >= 250 && d <= 30000)
  }
  assert.equal(backoff(2, { base: 100, jitter: 0 }), 400)
})

test('Dedupe remembers the last N ids', () => {
  const d = new Dedupe(3)
  assert.equal(d.seen('a'), false)
  assert.equal(d.seen('a'), true)
  d.seen('b'); d.seen('c')
  assert.equal(d.seen('a'), true)
  d.seen('d') // evicts a
  assert.equal(d.set.size, 3)
  assert.equal(d.seen('a'), false)
  const big = new Dedupe(1000)
  for (let i = 0; i < 5000; i++) big.seen('m' + i)
  assert.equal(big.set.size, 1000)
  assert.equal(big.seen('m4999'), true)
  assert.equal(big.seen('m0'), false)
})

test('convId is md5 of the sorted participants (REST docs example)', () => {
  assert.equal(convId(['u1234', 'u0988']), 'bcd26a54e98687390b0abb4d83683d4b')
  assert.equal(md5(''), 'd41d8cd98f00b204e9800998ecf8427e')
  assert.equal(md5('The quick brown fox jumps over the lazy dog'), '9e107d9d372bb6826bd81d3542a419d6')
  assert.equal(md5('你好'), '7eca689f0d3389d9dea66ae112e5cfd7')
})

test('Emitter on/off/once', () => {
  const e = new Emitter()
  const got = []
  const f = (x) => got.push('f' + x)
  e.on('a', f)
  e.once('a', (x) => got.push('o' + x))
  e.emit('a', 1)
  e.emit('a', 2)
  e.off('a', f)
  e.emit('a', 3)
  assert.deepEqual(got, ['f1', 'o1', 'f2'])
})
