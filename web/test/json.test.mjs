import { test } from 'node:test'
import assert from 'node:assert/strict'
import { check, ordered, ORDER, kindOf } from '../src/command.js'
import { load, comparable } from './vectors.mjs'

const vectors = load('v1-json.json')
// JSON.parse cannot keep these exactly: a 64-bit integer (it rounds), and
// a number's source text (1.415e9).
const skip = ['negative i and 64-bit timestamp', 't number text kept exactly']

test('v1 JSON vectors decode (JSON.parse + check)', () => {
  for (const v of vectors.filter(v => !v.error && !skip.includes(v.name))) {
    const got = check(JSON.parse(v.json))
    assert.equal(kindOf(got), v.kind, v.name)
    assert.deepEqual(comparable(got, ORDER), comparable(v.command, ORDER), v.name)
  }
})

test('v1 JSON vectors encode byte for byte (JSON.stringify of ordered)', () => {
  for (const v of vectors.filter(v => !v.error && !v.decodeOnly && !skip.includes(v.name))) {
    // JSON.stringify does not escape U+2028/2029; the server does
    const want = v.json.replace(/\\u2028/g, '\u2028').replace(/\\u2029/g, '\u2029')
    const got = JSON.stringify(ordered(v.command)).replace(/\\u007f/g, '\u007f')
    assert.equal(got, want, v.name)
  }
})

test('v1 JSON error cases are refused', () => {
  for (const v of vectors.filter(v => v.error)) {
    assert.throws(() => check(JSON.parse(v.json)), (e) => {
      assert.equal(e.kind || 'malformed', v.error, v.name)
      return true
    }, v.name)
  }
})
