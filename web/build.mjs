// npm run build: dist/rtgate.mjs (ES module) and dist/rtgate.min.js
// (minified IIFE: global RTGate and AVChatClient; module.exports under
// CommonJS). Prints the gzip size and fails over the 15 KB budget.
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const BUDGET = 15 * 1024
const common = { entryPoints: ['src/index.js'], bundle: true, target: 'es2020', logLevel: 'warning', legalComments: 'none' }

await build({ ...common, format: 'esm', outfile: 'dist/rtgate.mjs' })
await build({
  ...common,
  format: 'iife',
  globalName: 'RTGate',
  minify: true,
  outfile: 'dist/rtgate.min.js',
  footer: { js: 'globalThis.RTGate=RTGate;globalThis.AVChatClient=globalThis.AVChatClient||RTGate.AVChatClient;if(typeof module=="object"&&module.exports)module.exports=RTGate;' }
})

let over = false
for (const f of ['dist/rtgate.mjs', 'dist/rtgate.min.js']) {
  const b = readFileSync(f)
  const gz = gzipSync(b, { level: 9 }).length
  console.log(`${f}: ${(b.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`)
  if (f.endsWith('.min.js') && gz > BUDGET) over = true
}
if (over) {
  console.error('rtgate.min.js is over the 15 KB gzip budget')
  process.exit(1)
}
