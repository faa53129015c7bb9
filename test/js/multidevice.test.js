'use strict';
// One peer open on two AVChatClient instances (two devices).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, closeAll } = require('./lib/harness');

const appId = 'compat-multidevice';
const { peer } = useServer({ appId });

// aliceAndTwoBobs returns alice and bob on two devices (bob1, bob2: two
// clients with the same peer id), watching each other; none is open yet.
function aliceAndTwoBobs() {
  const bobId = uid('bob');
  const alice = peer(uid('alice'), { watchingPeerIds: [bobId] });
  const bob1 = peer(bobId, { watchingPeerIds: [alice.peerId] });
  const bob2 = peer(bobId, { watchingPeerIds: [alice.peerId] });
  return { bobId, alice, bob1, bob2 };
}

test('both devices receive; presence goes off only when both have closed', async () => {
  const { bobId, alice, bob1, bob2 } = aliceAndTwoBobs();
  try {
    await alice.open();
    assert.deepEqual(await alice.next('online'), []);
    await bob1.open();
    assert.deepEqual(await alice.next('online'), [bobId]);
    const opened2 = await bob2.open();
    assert.equal(opened2.op, 'opened');

    const ack = await alice.send('to both', bobId);
    const m1 = await bob1.message('to both');
    const m2 = await bob2.message('to both');
    assert.equal(m1.id, ack.uid);
    assert.equal(m2.id, ack.uid);
    assert.equal(m1.fromPeerId, alice.peerId);
    assert.equal(m2.fromPeerId, alice.peerId);

    // A transient message reaches both too.
    await alice.send('transient to both', bobId, true);
    assert.equal((await bob1.message('transient to both')).transient, true);
    assert.equal((await bob2.message('transient to both')).transient, true);

    // The second device opening sent no second `online`: the getStatus
    // reply comes after any presence push caused by bob2's open.
    assert.deepEqual((await alice.getStatus([bobId])).onlineSessionPeerIds, [bobId]);
    assert.equal(alice.events.online.length, 2, 'online from opened + one presence on');

    // One device closes: still online, no `offline`.
    await bob1.close();
    await bob1.closed();
    assert.deepEqual((await alice.getStatus([bobId])).onlineSessionPeerIds, [bobId]);
    assert.deepEqual(alice.events.offline, []);

    // The remaining device still receives.
    await alice.send('to bob2 only', bobId);
    await bob2.message('to bob2 only');

    // The last device closes: offline.
    await bob2.close();
    assert.deepEqual(await alice.next('offline'), [bobId]);
    assert.deepEqual((await alice.getStatus([bobId])).onlineSessionPeerIds, []);
    assert.equal(alice.events.offline.length, 1);
    assert.ok(!bob1.events.message.some((m) => m.msg === 'to bob2 only'));
  } finally {
    await closeAll(alice, bob1, bob2);
  }
});

test("a direct message is not copied to the sender's other device", async () => {
  const { bobId, alice, bob1, bob2 } = aliceAndTwoBobs();
  try {
    await alice.open();
    await bob1.open();
    await bob2.open();
    const ack = await bob1.send('from bob1', alice.peerId);
    assert.equal((await alice.message('from bob1')).id, ack.uid);
    // A later message to bob arrives at bob2 after anything bob1's send
    // could have copied to it.
    await alice.send('marker', bobId);
    await bob2.message('marker');
    assert.deepEqual(bob2.events.message.map((m) => m.msg), ['marker']);
  } finally {
    await closeAll(alice, bob1, bob2);
  }
});

test('offline messages are replayed to every device that opens until acked', async () => {
  const { bobId, alice, bob1, bob2 } = aliceAndTwoBobs();
  try {
    await alice.open();
    const ack = await alice.send('while away', bobId);
    await bob1.open();
    const m = await bob1.message('while away');
    assert.equal(m.offline, true);
    assert.equal(m.id, ack.uid);
    await bob1.getStatus([]); // bob1's ack has been processed
    await bob2.open();
    await alice.send('marker', bobId);
    await bob2.message('marker');
    assert.deepEqual(bob2.events.message.map((x) => x.msg), ['marker'], 'acked by bob1: not replayed to bob2');
  } finally {
    await closeAll(alice, bob1, bob2);
  }
});
