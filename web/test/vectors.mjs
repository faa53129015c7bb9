// Loads the conformance vectors of spec/vectors, whose commands are
// spelled with the wire names (spec/protocol.md "Vectors"), as the Go
// codec tests read them. Integers beyond 2^53 are read as bigint.
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

const empty = (v) => v === undefined || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0)

// comparable drops empty fields (but not ids) and unknown keys, so a
// decoded command compares with a vector's command.
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
