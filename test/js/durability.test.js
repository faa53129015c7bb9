'use strict';
// Durability: a persistent message acknowledged to the sender (send()
// resolved) survives kill -9 of the server; the recipient opening on the
// restarted server (same data dir and address) receives it.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, closeAll, withTimeout, storeSettled } = require('./lib/harness');

const appId = 'compat-durability';
const ctx = useServer({ appId });
const { peer } = ctx;

test('acked persistent messages to an offline peer survive SIGKILL and a restart', async () => {
  const bobId = uid('bob');
  const alice = peer(uid('alice'), { watchingPeerIds: [bobId] });
  let bob;
  try {
    await alice.open();
    const acks = [];
    for (const text of ['durable 1', 'durable 2 中文', 'durable 3']) acks.push(await alice.send(text, bobId));
    // A transient message is never stored: it must not come back.
    await alice.send('transient, lost', bobId, true);

    const old = ctx.server;
    ctx.server = await old.restart('SIGKILL');
    assert.equal(ctx.server.previousExit.signal, 'SIGKILL', 'the first server was killed');
    assert.equal(ctx.server.addr, old.addr, 'restarted on the same address');

    // alice's socket died with the server.
    const ev = await alice.closed();
    assert.notEqual(ev.code, 1000);

    bob = peer(bobId, { watchingPeerIds: [alice.peerId] });
    await bob.open();
    for (let i = 0; i < acks.length; i++) {
      const m = await bob.next('message');
      assert.equal(m.id, acks[i].uid);
      assert.equal(m.offline, true);
      assert.equal(m.fromPeerId, alice.peerId);
      assert.equal(m.timestamp, acks[i].t);
    }
    assert.deepEqual(bob.events.message.map((m) => m.msg), ['durable 1', 'durable 2 中文', 'durable 3']);

    // The sender re-opens its same AVChatClient on the new server; a live
    // message after the replay proves nothing else (the transient) was kept.
    await withTimeout(alice.open(), 5000, 'alice re-open');
    await alice.send('live after restart', bobId);
    await bob.message('live after restart');
    assert.equal(bob.events.message.length, 4);

    // History survives too.
    const { body } = await require('./lib/harness').rest(ctx.server.base,
      `/1.1/rtm/messages/logs?convid=${convid(alice.peerId, bobId)}`,
      { headers: { 'X-LC-Id': appId, 'X-LC-Key': 'dev' } });
    assert.deepEqual(body.map((r) => r.data).reverse(), ['durable 1', 'durable 2 中文', 'durable 3', 'live after restart']);
  } finally {
    await closeAll(alice, bob || []);
  }
});

test('offline messages that were acked by the recipient stay acked across SIGKILL', async () => {
  const bobId = uid('bob');
  const alice = peer(uid('alice'), { watchingPeerIds: [bobId] });
  const bob = peer(bobId, { watchingPeerIds: [alice.peerId] });
  let bob2;
  try {
    await alice.open();
    const ack = await alice.send('read once', bobId);
    await bob.open();
    assert.equal((await bob.message('read once')).id, ack.uid);
    await bob.getStatus([]); // the round trip: bob's ack has been handled
    // What was acknowledged within storage.inboxDelay (1 s) of a crash may
    // come again; once the store has settled it, it may not.
    await storeSettled(ctx.server.base);
    ctx.server = await ctx.server.restart('SIGKILL');
    await bob.closed();
    await alice.closed();

    bob2 = peer(bobId, { watchingPeerIds: [alice.peerId] });
    await bob2.open();
    await alice.open();
    await alice.send('marker', bobId);
    await bob2.message('marker');
    assert.deepEqual(bob2.events.message.map((m) => m.msg), ['marker'], 'the acked message is not replayed');
  } finally {
    await closeAll(alice, bob, bob2 || []);
  }
});

function convid(...peers) {
  return require('node:crypto').createHash('md5').update(peers.sort().join(':')).digest('hex');
}
