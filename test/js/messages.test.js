'use strict';
// Direct messages through the unmodified lean-cloud-chat@1.0.4 client:
// the `message` event, its automatic ack, offline (persistent) and
// transient delivery, and the 5120-byte message limit.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, closeAll, settle, withTimeout } = require('./lib/harness');

const appId = 'compat-messages';
const { peer } = useServer({ appId });
// pair returns two peers that watch each other (v1: a direct message only
// reaches peers the sender watches).
function pair(a = 'alice', b = 'bob') {
  const ida = uid(a);
  const idb = uid(b);
  return [peer(ida, { watchingPeerIds: [idb] }), peer(idb, { watchingPeerIds: [ida] })];
}

test('message event fields; the client acks it and it is not redelivered', async () => {
  const [alice, bob] = pair();
  try {
    await bob.open();
    await alice.open();
    const before = Date.now();
    const ack = await alice.send('hello bob', bob.peerId);
    assert.equal(ack.cmd, 'ack');
    assert.match(ack.uid, /^[0-9A-Za-z]{14}$/, 'uid: 14 base62 characters');
    assert.ok(ack.t >= before - 1000 && ack.t <= Date.now() + 1000, 'ack.t is server time in ms');

    const m = await bob.message('hello bob');
    assert.equal(m.cmd, 'direct');
    assert.equal(m.msg, 'hello bob');
    assert.equal(m.fromPeerId, alice.peerId);
    assert.equal(m.peerId, bob.peerId);
    assert.equal(m.id, ack.uid);
    assert.equal(m.timestamp, ack.t);
    assert.ok(!m.offline, 'live delivery has no offline flag');
    assert.ok(!m.transient);

    // chat.js answers every direct with {"cmd":"ack","ids":[id]}.
    const acks = bob.socket.rawOut.map((f) => JSON.parse(f)).filter((c) => c.cmd === 'ack');
    assert.deepEqual(acks.map((c) => c.ids), [[m.id]]);

    // Re-open: the acked message does not come back. The inbox is replayed
    // right after `opened`, so it would arrive before the next live message.
    await bob.close();
    await bob.closed();
    await bob.open();
    await alice.send('after reopen', bob.peerId);
    await bob.message('after reopen');
    assert.equal(bob.events.message.filter((x) => x.msg === 'hello bob').length, 1, 'not redelivered');

    // And in the other direction.
    const back = await bob.send('hi alice', alice.peerId);
    const m2 = await alice.message('hi alice');
    assert.equal(m2.fromPeerId, bob.peerId);
    assert.equal(m2.id, back.uid);
  } finally {
    await closeAll(alice, bob);
  }
});

test('persistent messages to an offline peer arrive with offline:true, oldest first, when it opens', async () => {
  const [alice, bob] = pair();
  try {
    await alice.open();
    const acks = [];
    for (const text of ['p1', 'p2', 'p3']) acks.push(await alice.send(text, bob.peerId));
    await bob.open();
    for (let i = 0; i < 3; i++) {
      const m = await bob.next('message');
      assert.equal(m.msg, `p${i + 1}`, 'oldest first');
      assert.equal(m.offline, true);
      assert.equal(m.id, acks[i].uid);
      assert.equal(m.fromPeerId, alice.peerId);
      assert.equal(m.timestamp, acks[i].t);
    }
    // Acked by chat.js on arrival: a second device opening later gets nothing.
    // (A round trip on bob's connection first: commands are handled in
    // order, so the acks are processed once the reply is back.)
    await bob.getStatus([alice.peerId]);
    const bob2 = peer(bob.peerId);
    try {
      await bob2.open();
      await alice.send('marker', bob.peerId);
      await bob2.message('marker');
      assert.deepEqual(bob2.events.message.map((m) => m.msg), ['marker']);
    } finally {
      await closeAll(bob2);
    }
  } finally {
    await closeAll(alice, bob);
  }
});

test('transient send resolves without an ack and is delivered live with transient:true', async () => {
  const [alice, bob] = pair();
  try {
    await bob.open();
    await alice.open();
    const res = await withTimeout(alice.send('t-live', bob.peerId, true), 2000, 'transient send');
    assert.equal(res, undefined, 'chat.js resolves a transient send at once, with nothing');
    const m = await bob.message('t-live');
    assert.equal(m.transient, true);
    assert.equal(m.fromPeerId, alice.peerId);
    assert.equal(typeof m.id, 'string');
    // No ack was sent for it: the next persistent send gets its own ack.
    const ack = await alice.send('p-after', bob.peerId);
    assert.equal(ack.cmd, 'ack');
    const m2 = await bob.message('p-after');
    assert.equal(m2.id, ack.uid);
  } finally {
    await closeAll(alice, bob);
  }
});

test('transient message to an offline peer never arrives', async () => {
  const [alice, bob] = pair();
  try {
    await alice.open();
    assert.equal(await alice.send('t-offline', bob.peerId, true), undefined);
    await alice.send('p-offline', bob.peerId);
    await bob.open();
    const m = await bob.message('p-offline');
    assert.equal(m.offline, true);
    // The inbox replay is complete (it follows `opened`); a live message
    // after it proves nothing else is queued.
    await alice.send('live', bob.peerId);
    await bob.message('live');
    assert.deepEqual(bob.events.message.map((x) => x.msg), ['p-offline', 'live']);
  } finally {
    await closeAll(alice, bob);
  }
});

test('a message to a peer the sender does not watch is acked but not delivered', async () => {
  const alice = peer(uid('alice'));
  const bob = peer(uid('bob'));
  const carol = peer(uid('carol'), { watchingPeerIds: [bob.peerId] });
  try {
    await bob.open();
    await alice.open();
    await carol.open();
    const ack = await alice.send('unwatched', bob.peerId);
    assert.equal(ack.cmd, 'ack');
    await carol.send('marker', bob.peerId);
    await bob.message('marker');
    assert.deepEqual(bob.events.message.map((x) => x.msg), ['marker']);
  } finally {
    await closeAll(alice, bob, carol);
  }
});

const bytes = (s) => Buffer.byteLength(s, 'utf8');

test('5120-byte messages (ASCII and multibyte) are delivered intact', async () => {
  const [alice, bob] = pair();
  try {
    await bob.open();
    await alice.open();
    const ascii = 'a'.repeat(5119) + 'z';
    const multi = '中'.repeat(1706) + 'ok';
    const mixed = '😀'.repeat(1279) + 'abcd'; // 4 bytes each: 5116 + 4
    for (const text of [ascii, multi, mixed]) {
      assert.equal(bytes(text), 5120);
      const ack = await alice.send(text, bob.peerId);
      const m = await bob.next('message', (x) => x.id === ack.uid);
      assert.equal(m.msg, text, 'delivered intact');
    }
  } finally {
    await closeAll(alice, bob);
  }
});

test('the limit counts the message text, not its JSON escaping', async () => {
  const [alice, bob] = pair();
  try {
    await bob.open();
    await alice.open();
    // 5120 bytes of text whose JSON frames are 2× and 6× as long.
    for (const text of ['"'.repeat(5120), '\u0001'.repeat(5120), '\\\n'.repeat(1280) + '\u2028'.repeat(852) + '<>&x']) {
      assert.equal(bytes(text), 5120);
      const ack = await alice.send(text, bob.peerId);
      assert.equal((await bob.next('message', (x) => x.id === ack.uid)).msg, text);
    }
  } finally {
    await closeAll(alice, bob);
  }
});

for (const [name, text] of [
  ['ASCII', 'a'.repeat(5121)],
  ['multibyte (1707 × 中: 1707 characters, 5121 bytes)', '中'.repeat(1707)],
  ['multibyte (1706 × 中 + 3 ASCII)', '中'.repeat(1706) + 'abc'],
]) {
  test(`a 5121-byte ${name} message closes the sender with 4109; nobody receives it`, async () => {
    assert.equal(bytes(text), 5121);
    const alice = peer(uid('alice'));
    const bob = peer(uid('bob'), { watchingPeerIds: [] });
    const carol = peer(uid('carol'));
    alice.settings.watchingPeerIds.push(bob.peerId);
    carol.settings.watchingPeerIds.push(bob.peerId);
    try {
      await bob.open();
      await carol.open();
      await alice.open();
      const sent = settle(alice.send(text, bob.peerId));
      const ev = await alice.closed(5000);
      assert.equal(ev.code, 4109, 'close code seen in chat.js close event');
      const res = await withTimeout(sent, 2000, 'send() settles when the socket closes');
      assert.equal(res.ok, false, 'send() rejects (chat.js rejects pending commands on close)');

      // Others are unaffected; bob never gets the oversized message.
      await carol.send('marker', bob.peerId);
      await bob.message('marker');
      assert.deepEqual(bob.events.message.map((x) => x.msg), ['marker']);
      assert.equal(bob.socket.readyState, 1, 'bob still connected');
      assert.equal(carol.socket.readyState, 1, 'carol still connected');

      // The sender can open again and send a message of legal size.
      await alice.open();
      const ok = await alice.send('small again', bob.peerId);
      assert.equal((await bob.message('small again')).id, ok.uid);
    } finally {
      await closeAll(alice, bob, carol);
    }
  });
}

test('the offline inbox keeps the newest 50 messages', async () => {
  const [alice, bob] = pair();
  try {
    await alice.open();
    const acks = [];
    for (let i = 0; i < 55; i++) acks.push(await alice.send(`n${i}`, bob.peerId));
    await bob.open();
    await alice.send('live', bob.peerId);
    await bob.message('live');
    const got = bob.events.message.map((m) => m.msg);
    assert.deepEqual(got, [...Array.from({ length: 50 }, (_, i) => `n${i + 5}`), 'live']);
    assert.ok(bob.events.message.slice(0, 50).every((m, i) => m.offline === true && m.id === acks[i + 5].uid));
  } finally {
    await closeAll(alice, bob);
  }
});
