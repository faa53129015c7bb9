'use strict';
// Sessions and presence as a user of the unmodified lean-cloud-chat@1.0.4
// client sees them: open(), the `online`/`offline` events, watch(),
// getStatus() and unwatch().
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, closeAll, settle } = require('./lib/harness');

const appId = 'compat-presence';
const { peer } = useServer({ appId });

test('open resolves with opened; online lists the watched peers online; presence on/off follows', async () => {
  const bob = peer(uid('bob'));
  const carol = peer(uid('carol'));
  const alice = peer(uid('alice'), { watchingPeerIds: [bob.peerId, carol.peerId] });
  try {
    await bob.open();
    const opened = await alice.open();
    assert.equal(opened.cmd, 'session');
    assert.equal(opened.op, 'opened');
    assert.equal(opened.peerId, alice.peerId);
    assert.deepEqual(opened.onlineSessionPeerIds, [bob.peerId]);
    assert.deepEqual(await alice.next('online'), [bob.peerId], 'online event from opened: only bob is online');

    await carol.open();
    assert.deepEqual(await alice.next('online'), [carol.peerId], 'carol comes online');

    await carol.close();
    assert.deepEqual(await alice.next('offline'), [carol.peerId], 'carol goes offline after close()');

    // A dropped connection (no session close) also ends presence.
    bob.socket.terminate();
    assert.deepEqual(await alice.next('offline'), [bob.peerId], 'bob goes offline when his socket drops');
    assert.equal(alice.events.offline.length, 2);
  } finally {
    await closeAll(alice, bob, carol);
  }
});

test('open with nobody online emits online with []', async () => {
  const alice = peer(uid('alice'), { watchingPeerIds: [uid('nobody')] });
  try {
    const opened = await alice.open();
    assert.deepEqual(opened.onlineSessionPeerIds, []);
    assert.deepEqual(await alice.next('online'), []);
  } finally {
    await closeAll(alice);
  }
});

test('watch() resolves with added and emits online; the watched peer closing emits offline', async () => {
  const dave = peer(uid('dave'));
  const erin = peer(uid('erin'));
  const alice = peer(uid('alice'));
  try {
    await alice.open();
    assert.deepEqual(await alice.next('online'), []);
    await dave.open();

    const added = await alice.watch([dave.peerId]);
    assert.equal(added.cmd, 'session');
    assert.equal(added.op, 'added');
    assert.deepEqual(added.onlineSessionPeerIds, [dave.peerId]);
    assert.deepEqual(await alice.next('online'), [dave.peerId]);

    // Watching an offline peer: online [] now, then online when it opens.
    await alice.watch(erin.peerId);
    assert.deepEqual(await alice.next('online'), []);
    await erin.open();
    assert.deepEqual(await alice.next('online'), [erin.peerId]);

    await dave.close();
    assert.deepEqual(await alice.next('offline'), [dave.peerId]);
  } finally {
    await closeAll(alice, dave, erin);
  }
});

test('getStatus() answers for unwatched peers without presence events', async () => {
  const frank = peer(uid('frank'));
  const gone = uid('gone');
  const alice = peer(uid('alice'));
  try {
    await frank.open();
    await alice.open();
    const res = await alice.getStatus([frank.peerId, gone]);
    assert.equal(res.cmd, 'session');
    assert.equal(res.op, 'query-result');
    assert.deepEqual(res.onlineSessionPeerIds, [frank.peerId]);
    const single = await alice.getStatus(gone);
    assert.deepEqual(single.onlineSessionPeerIds, []);
    assert.deepEqual(alice.events.online, [[]], 'only the online event from opened');

    // frank is not watched: his close emits nothing. The query that follows
    // is answered after any presence push the close could have caused.
    await frank.close();
    await frank.closed();
    const after = await alice.getStatus([frank.peerId]);
    assert.deepEqual(after.onlineSessionPeerIds, []);
    assert.deepEqual(alice.events.offline, []);
  } finally {
    await closeAll(alice, frank);
  }
});

test('unwatch() stops presence events for that peer', async () => {
  const henry = peer(uid('henry'));
  const ivy = peer(uid('ivy'));
  const alice = peer(uid('alice'), { watchingPeerIds: [] });
  try {
    await alice.open();
    assert.deepEqual(await alice.next('online'), [], 'from opened');
    await alice.watch([henry.peerId, ivy.peerId]);
    assert.deepEqual(await alice.next('online'), [], 'from added');

    const res = await alice.unwatch([henry.peerId]);
    assert.equal(res, undefined, 'chat.js resolves unwatch() without waiting for a reply');
    // The server answers `session removed`; chat.js ignores it. A later
    // command still gets its own reply (FIFO matching is not confused).
    const q = await alice.getStatus([henry.peerId]);
    assert.equal(q.op, 'query-result');

    // henry opens and closes, then ivy (still watched) does: ivy's events
    // come after any henry event would have, on alice's connection.
    await henry.open();
    await ivy.open();
    assert.deepEqual(await alice.next('online'), [ivy.peerId]);
    await henry.close();
    await henry.closed();
    await ivy.close();
    assert.deepEqual(await alice.next('offline'), [ivy.peerId]);
    assert.ok(!alice.events.online.flat().includes(henry.peerId), 'no online for the unwatched peer');
    assert.ok(!alice.events.offline.flat().includes(henry.peerId), 'no offline for the unwatched peer');
  } finally {
    await closeAll(alice, henry, ivy);
  }
});

test('close() then open() again on the same AVChatClient', async () => {
  const alice = peer(uid('alice'));
  const bob = peer(uid('bob'), { watchingPeerIds: [alice.peerId] });
  try {
    await bob.open();
    await alice.open();
    assert.deepEqual(await bob.next('online', (l) => l.length > 0), [alice.peerId]);
    await alice.close();
    const ev = await alice.closed();
    assert.equal(typeof ev.code, 'number');
    assert.deepEqual(await bob.next('offline'), [alice.peerId]);
    const again = await alice.open();
    assert.equal(again.op, 'opened');
    assert.deepEqual(await bob.next('online', (l) => l.length > 0), [alice.peerId]);
  } finally {
    await closeAll(alice, bob);
  }
});

test('rapid open/close cycles: presence events alternate, in order, ending offline', async () => {
  const bob = peer(uid('bob'));
  const alice = peer(uid('alice'), { watchingPeerIds: [bob.peerId] });
  try {
    await alice.open();
    for (let i = 0; i < 4; i++) {
      await bob.open();
      await bob.close();
      await bob.closed();
    }
    // The last transition is visible once the 8th event arrived.
    await alice.until((a) => a.events.offline.length === 4, 5000, '4 offline events');
    const seq = alice.sequence.filter(([n]) => n === 'online' || n === 'offline')
      .filter(([, v]) => v.length > 0)
      .map(([n, v]) => `${n}:${v.join(',')}`);
    const expected = [];
    for (let i = 0; i < 4; i++) expected.push(`online:${bob.peerId}`, `offline:${bob.peerId}`);
    assert.deepEqual(seq, expected);
    assert.deepEqual((await alice.getStatus(bob.peerId)).onlineSessionPeerIds, []);
  } finally {
    await closeAll(alice, bob);
  }
});

test('a peer id over 64 bytes is refused with 4103', async () => {
  const alice = peer('x'.repeat(65));
  try {
    const res = await settle(alice.open());
    assert.equal(res.ok, false);
    assert.equal((await alice.closed()).code, 4103);
  } finally {
    await closeAll(alice);
  }
  // 64 bytes of UTF-8 (21 × 3 + 1) are fine.
  const ok = peer('中'.repeat(21) + 'x');
  try {
    assert.equal((await ok.open()).op, 'opened');
  } finally {
    await closeAll(ok);
  }
});
