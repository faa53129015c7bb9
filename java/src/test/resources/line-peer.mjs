// line-peer is the JSON-lines loop shared by the JS peers of the Java
// interop tests: one request per stdin line ({seq, op, ...}), handled in
// order; each answer ({seq, reply} or {seq, error}) and each event ({ev,
// data}) is one stdout line. When stdin ends, close runs and the process
// exits.
import readline from 'node:readline';

export const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

export function serve(handle, close) {
  const rl = readline.createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    const r = JSON.parse(line);
    queue = queue.then(async () => {
      try {
        const res = await handle(r);
        out({ seq: r.seq, reply: res === undefined ? null : res });
      } catch (e) {
        out({ seq: r.seq, error: String((e && e.message) || e) });
      }
    });
  });
  rl.on('close', () => {
    queue.then(async () => {
      try { await close(); } catch { /* already closed */ }
      process.exit(0);
    });
  });
}
