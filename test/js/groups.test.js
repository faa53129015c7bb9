'use strict';
// Groups (v1 `room`) through the unmodified lean-cloud-chat@1.0.4 client:
// joinGroup (create and join), inviteToGroup, sendToGroup, kickFromGroup,
// leaveGroup and the `joined`/`left`/`membersJoined`/`membersLeft` events.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, closeAll, settle, withTimeout } = require('./lib/harness');

const appId = 'compat-groups';
const { peer } = useServer({ appId });
const ROOM_ID = /^[0-9a-f]{24}$/;

// createGroup: joinGroup(undefined) creates a group; resolves with its id.
async function createGroup(creator) {
  const joined = await creator.joinGroup();
  assert.equal(joined.cmd, 'room');
  assert.equal(joined.op, 'joined');
  assert.match(joined.roomId, ROOM_ID);
  return joined.roomId;
}

const inRoom = (roomId, pred = () => true) => (e) => e.roomId === roomId && pred(e);

test('create, join, invite, send, kick and leave', async () => {
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((n) => peer(uid(n)));
  try {
    for (const p of [alice, bob, carol, dave]) await p.open();

    // Create: the reply `joined` carries the new id; chat.js also emits it
    // as a `joined` event, and the creator is told about itself.
    const roomId = await createGroup(alice);
    const aj = await alice.next('joined', inRoom(roomId));
    assert.equal(aj.byPeerId, alice.peerId);
    const amj = await alice.next('membersJoined', inRoom(roomId));
    assert.deepEqual(amj.roomPeerIds, [alice.peerId]);
    assert.equal(amj.byPeerId, alice.peerId);

    // Join by id: members (the joiner included) get membersJoined [bob].
    const bj = await bob.joinGroup(roomId);
    assert.equal(bj.op, 'joined');
    assert.equal(bj.roomId, roomId);
    assert.equal(bj.byPeerId, bob.peerId);
    for (const p of [alice, bob]) {
      const e = await p.next('membersJoined', inRoom(roomId, (x) => x.roomPeerIds.includes(bob.peerId)));
      assert.deepEqual(e.roomPeerIds, [bob.peerId]);
      assert.equal(e.byPeerId, bob.peerId);
    }

    // Invite: the reply is `invited` with the peers added; the invitee sees
    // `joined` by the inviter; every member sees membersJoined [carol].
    const inv = await alice.inviteToGroup(roomId, [carol.peerId]);
    assert.equal(inv.op, 'invited');
    assert.deepEqual(inv.roomPeerIds, [carol.peerId]);
    const cj = await carol.next('joined', inRoom(roomId));
    assert.equal(cj.byPeerId, alice.peerId);
    for (const p of [alice, bob, carol]) {
      const e = await p.next('membersJoined', inRoom(roomId, (x) => x.roomPeerIds.includes(carol.peerId)));
      assert.deepEqual(e.roomPeerIds, [carol.peerId]);
      assert.equal(e.byPeerId, alice.peerId);
    }
    // Inviting a member again adds nobody.
    assert.deepEqual((await alice.inviteToGroup(roomId, carol.peerId)).roomPeerIds, []);

    // Group message: every other member gets it with roomId; not the sender,
    // not a non-member.
    const ack = await alice.sendToGroup('hello group', roomId);
    assert.equal(ack.cmd, 'ack');
    for (const p of [bob, carol]) {
      const m = await p.message('hello group');
      assert.equal(m.roomId, roomId);
      assert.equal(m.fromPeerId, alice.peerId);
      assert.equal(m.id, ack.uid);
      assert.equal(m.peerId, p.peerId);
    }
    await bob.sendToGroup('from bob', roomId);
    await alice.message('from bob');
    await carol.message('from bob');

    // Transient group message: resolves with nothing, delivered live.
    assert.equal(await alice.sendToGroup('transient group', roomId, true), undefined);
    assert.equal((await bob.message('transient group')).transient, true);
    await carol.message('transient group');

    // Kick: the kicked member gets `left` by the kicker; the rest get membersLeft.
    const kicked = await alice.kickFromGroup(roomId, [carol.peerId]);
    assert.equal(kicked.op, 'kicked');
    assert.deepEqual(kicked.roomPeerIds, [carol.peerId]);
    const cl = await carol.next('left', inRoom(roomId));
    assert.equal(cl.byPeerId, alice.peerId);
    for (const p of [alice, bob]) {
      const e = await p.next('membersLeft', inRoom(roomId));
      assert.deepEqual(e.roomPeerIds, [carol.peerId]);
      assert.equal(e.byPeerId, alice.peerId);
    }

    // Leave: the reply is `left` (chat.js emits it as a `left` event too);
    // the remaining member gets membersLeft [bob].
    const left = await bob.leaveGroup(roomId);
    assert.equal(left.op, 'left');
    assert.equal(left.roomId, roomId);
    await bob.next('left', inRoom(roomId));
    const al = await alice.next('membersLeft', inRoom(roomId, (x) => x.roomPeerIds.includes(bob.peerId)));
    assert.deepEqual(al.roomPeerIds, [bob.peerId]);

    // Now only alice is a member: bob, carol and dave get nothing. A message
    // to each of them afterwards proves it (they would have come first).
    await alice.sendToGroup('alone now', roomId);
    await alice.watch([bob.peerId, carol.peerId, dave.peerId]);
    for (const p of [bob, carol, dave]) {
      await alice.send('marker', p.peerId);
      await p.message('marker');
    }
    assert.ok(!bob.events.message.some((m) => m.msg === 'alone now'));
    assert.ok(!carol.events.message.some((m) => m.msg === 'alone now'));
    assert.deepEqual(dave.events.message.map((m) => m.msg), ['marker'], 'the non-member never got a group message');
    assert.deepEqual(dave.events.joined, []);
    assert.deepEqual(dave.events.membersJoined, []);
  } finally {
    await closeAll(alice, bob, carol, dave);
  }
});

test('membership persists across reconnect: offline group messages, then live ones', async () => {
  const alice = peer(uid('alice'));
  const bob = peer(uid('bob'));
  let bob2;
  try {
    await alice.open();
    await bob.open();
    const roomId = await createGroup(alice);
    await alice.inviteToGroup(roomId, bob.peerId);
    await bob.next('joined', inRoom(roomId));

    await bob.close();
    await bob.closed();
    const ack = await alice.sendToGroup('while bob was away', roomId);

    bob2 = peer(bob.peerId); // a fresh client, no joinGroup
    await bob2.open();
    const m = await bob2.message('while bob was away');
    assert.equal(m.offline, true);
    assert.equal(m.roomId, roomId);
    assert.equal(m.id, ack.uid);

    const live = await alice.sendToGroup('live again', roomId);
    const m2 = await bob2.message('live again');
    assert.equal(m2.id, live.uid);
    assert.ok(!m2.offline);
    assert.equal(m2.roomId, roomId);

    // Re-opening the very same AVChatClient also keeps the membership.
    await bob2.close();
    await bob2.closed();
    await bob2.open();
    await alice.sendToGroup('third time', roomId);
    assert.equal((await bob2.message('third time')).roomId, roomId);
  } finally {
    await closeAll(alice, bob, bob2 || []);
  }
});

test("a group message reaches the sender's other devices", async () => {
  const aliceId = uid('alice');
  const alice1 = peer(aliceId);
  const alice2 = peer(aliceId);
  const bob = peer(uid('bob'));
  try {
    await alice1.open();
    await alice2.open();
    await bob.open();
    const roomId = await createGroup(alice1);
    await alice1.inviteToGroup(roomId, bob.peerId);
    const ack = await alice1.sendToGroup('from device 1', roomId);
    assert.equal((await alice2.message('from device 1')).id, ack.uid);
    assert.equal((await bob.message('from device 1')).id, ack.uid);
    // Not echoed to the originating client: bob's reply comes after it would.
    await bob.sendToGroup('reply', roomId);
    await alice1.message('reply');
    assert.deepEqual(alice1.events.message.map((m) => m.msg), ['reply']);
  } finally {
    await closeAll(alice1, alice2, bob);
  }
});

test('joining a group that does not exist: the server answers reject; chat.js never resolves joinGroup', async () => {
  const alice = peer(uid('alice'));
  try {
    await alice.open();
    const missing = 'ffffffffffffffffffffffff';
    const from = alice.socket.rawIn.length;
    const pending = settle(alice.joinGroup(missing));
    // chat.js has no handler for `room reject` (it waits for `joined` and
    // would give up after its own 10 s timeout); the frame is on the socket.
    const { frame } = await alice.socket.nextIn((f) => f.cmd === 'room' && f.op === 'reject', { from, what: 'room reject' });
    assert.equal(frame.roomId, missing);
    assert.deepEqual(frame.roomPeerIds, []);
    assert.deepEqual(alice.events.joined, []);
    // Closing the client settles the pending promise (rejected).
    await alice.close();
    const res = await withTimeout(pending, 2000, 'joinGroup settles on close');
    assert.equal(res.ok, false);
  } finally {
    await closeAll(alice);
  }
});

test('group edge cases: re-join, leave of a non-member, invite by a non-member, oversized group message', async () => {
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((n) => peer(uid(n)));
  try {
    for (const p of [alice, bob, carol, dave]) await p.open();
    const roomId = await createGroup(alice);
    await bob.joinGroup(roomId);
    await alice.next('membersJoined', inRoom(roomId, (x) => x.roomPeerIds.includes(bob.peerId)));

    // Joining again: `joined` reply, but no membersJoined for anyone. A later
    // membersJoined (carol's) arrives after any such event would have.
    assert.equal((await bob.joinGroup(roomId)).op, 'joined');
    await carol.joinGroup(roomId);
    await alice.next('membersJoined', inRoom(roomId, (x) => x.roomPeerIds.includes(carol.peerId)));
    assert.equal(alice.events.membersJoined.filter((e) => e.roomPeerIds.includes(bob.peerId)).length, 1);

    // leave of a group dave is not in: still answered `left`; nobody told.
    const l = await dave.leaveGroup(roomId);
    assert.equal(l.op, 'left');
    assert.equal(l.roomId, roomId);

    // invite by a non-member: reject (seen on the raw socket).
    const from = dave.socket.rawIn.length;
    const inviting = settle(dave.inviteToGroup(roomId, [dave.peerId]));
    const { frame } = await dave.socket.nextIn((f) => f.cmd === 'room' && f.op === 'reject', { from, what: 'reject' });
    assert.deepEqual(frame.roomPeerIds, [dave.peerId]);
    await dave.close();
    assert.equal((await withTimeout(inviting, 2000, 'invite settles on close')).ok, false);

    // a 5121-byte group message closes the sender with 4109; members get nothing.
    const sending = settle(carol.sendToGroup('中'.repeat(1707), roomId));
    assert.equal((await carol.closed()).code, 4109);
    assert.equal((await withTimeout(sending, 2000, 'send settles')).ok, false);
    await alice.sendToGroup('after oversize', roomId);
    await bob.message('after oversize');
    assert.deepEqual(bob.events.message.map((m) => m.msg), ['after oversize']);
    assert.deepEqual(alice.events.membersLeft, [], 'a closed connection is not a leave');
  } finally {
    await closeAll(alice, bob, carol, dave);
  }
});
