'use strict';
// Only on a cluster (RTGATE_CLUSTER=3): lean-cloud-chat@1.0.4 clients when
// one rtgate node is killed with SIGKILL. A watcher on another node sees
// the peer go offline once the dead node's lease has expired (10 s), the
// router stops handing out the dead node, a persistent message sent
// meanwhile waits in the inbox, and the peer's new client gets it on a
// live node; the node then comes back and is handed out again.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, closeAll, rest, CLUSTER } = require('./lib/harness');

const appId = 'compat-cluster';
// On a single node this file starts nothing and has no test.
const ctx = CLUSTER ? useServer({ appId }) : null;
const peer = (...a) => ctx.peer(...a);

if (CLUSTER) test('SIGKILL of a node: offline after its lease, router skips it, inbox on a live node, node back', async () => {
  const c = ctx.server;
  const ids = [uid('alice'), uid('bob')];
  const first = [peer(ids[0], { watchingPeerIds: [ids[1]] }), peer(ids[1], { watchingPeerIds: [ids[0]] })];
  let again;
  try {
    for (const p of first) await p.open();
    // The victim is one not on node 0, whose router chat.js asks.
    const [watcher, victim] = c.nodeOf(first[1].socket.url) === 0 ? [first[1], first[0]] : first;
    assert.deepEqual(await watcher.next('online', (l) => l.length > 0), [victim.peerId]);
    const dead = c.nodeOf(victim.socket.url);
    assert.notEqual(c.nodeOf(watcher.socket.url), dead, 'the two peers on different nodes');
    await watcher.send('before', victim.peerId);
    await victim.message('before');
    await victim.getStatus([]); // the round trip: chat.js's ack of 'before' was handled

    const killedAt = Date.now();
    const exit = await c.kill(dead);
    assert.equal(exit.signal, 'SIGKILL');
    await victim.closed(10000);
    // Offline only once the lease (10 s) expired: the deadline leaves room
    // for a JetStream leader election on a loaded machine.
    assert.deepEqual(await watcher.next('offline', () => true, 30000), [victim.peerId]);
    const offlineAfter = Date.now() - killedAt;
    assert.ok(offlineAfter >= 5000, `offline ${offlineAfter} ms after the kill: before the lease could expire?`);

    // Acked with one of three JetStream servers gone (R3: quorum of 2).
    const ack = await watcher.send('while away', victim.peerId);

    // The lease is gone: soon (each node applies the lease's end from its
    // own watch) no router hands out the dead node any more.
    const deadURL = `ws://${c.nodes[dead].addr}/`;
    for (const [i, node] of c.nodes.entries()) {
      if (i === dead) continue;
      const deadline = Date.now() + 15000;
      for (;;) {
        const named = [];
        for (let k = 0; k < 4; k++) {
          const { status, body } = await rest(node.base, `/v1/route?appId=${appId}`);
          assert.equal(status, 200);
          named.push(body.server, body.secondary);
        }
        if (!named.includes(deadURL)) break;
        assert.ok(Date.now() < deadline, `router of node ${i} still hands out the dead node 15 s after its lease ended`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    // The victim's new client gets a live node (the harness asserts it
    // too) and the message that waited in the inbox, then live ones.
    again = peer(victim.peerId, { watchingPeerIds: [watcher.peerId] });
    await again.open();
    assert.notEqual(c.nodeOf(again.socket.url), dead);
    const m = await again.message('while away', 10000);
    assert.equal(m.offline, true);
    assert.equal(m.id, ack.uid);
    assert.deepEqual(await watcher.next('online', (l) => l.length > 0), [victim.peerId], 'online again');
    await watcher.send('after', victim.peerId);
    await again.message('after');
    assert.deepEqual(again.events.message.map((x) => x.msg), ['while away', 'after'], "'before' was acked: not again");

    // The node comes back (a new incarnation on the same data dir and
    // address) and node 0's router hands it out again (revive waits).
    await c.revive(dead);
    const h = await rest(c.nodes[dead].base, '/healthz');
    assert.equal(h.body.cluster, 'ok', h.text);
    assert.notEqual(h.body.node, c.names[dead], 'a new incarnation');
  } finally {
    await closeAll(first, again || []);
  }
});
