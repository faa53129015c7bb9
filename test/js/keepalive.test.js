'use strict';
// Keepalive. chat.js sends the text frame `{}` after 60 s without a command
// and closes itself when no `{}` comes back within 10 s. Rather than wait a
// minute, the first test runs the real chat.js timers under node:test's
// MockTimers (setTimeout/clearTimeout only; the harness keeps real timers
// for its own bounded waits) and ticks the clock: the keepalive really is
// chat.js's own, sent over its real socket to the real server. The second
// test checks with a raw ws client that the server answers `{}` with `{}`,
// in order with the other replies.
const { test, mock } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, uid, rawClient } = require('./lib/harness');

const appId = 'compat-keepalive';
const ctx = useServer({ appId });
const { peer } = ctx;

const isEmpty = (f) => f && typeof f === 'object' && Object.keys(f).length === 0;
const keepalives = (p) => p.socket.rawOut.filter((f) => f === '{}').length;

test('chat.js sends {} after 60 s idle, the server answers {}, the client stays open (mocked timers)', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const alice = peer(uid('alice'));
  const bob = peer(uid('bob'), { watchingPeerIds: [alice.peerId] });
  alice.settings.watchingPeerIds.push(bob.peerId);
  try {
    await bob.open();
    await alice.open(); // arms chat.js's keepalive timer (mocked clock)
    assert.equal(keepalives(alice), 0);

    // Both clients armed their timers on the mocked clock (bob opened just
    // before alice), so both send {} on each idle minute; each must get its
    // reply before the clock passes chat.js's 10 s reply timeout.
    mock.timers.tick(59999);
    assert.equal(keepalives(alice), 0, 'nothing before 60 s');
    const from = alice.socket.rawIn.length;
    const fromBob = bob.socket.rawIn.length;
    mock.timers.tick(1);
    assert.equal(keepalives(alice), 1, 'chat.js sent {} at 60 s');
    assert.equal(alice.socket.rawOut.at(-1), '{}');
    assert.equal(keepalives(bob), 1);

    const { frame } = await alice.socket.nextIn(isEmpty, { from, what: 'server {} reply' });
    assert.deepEqual(frame, {});
    await bob.socket.nextIn(isEmpty, { from: fromBob, what: 'server {} reply to bob' });

    // chat.js cleared its 10 s "no {} reply" timer: otherwise ticking past
    // it would close the socket (doClose → ws.close(), synchronous state change).
    mock.timers.tick(10000);
    assert.equal(alice.socket.readyState, 1, 'still open 10 s after the keepalive');
    assert.deepEqual(alice.events.close, []);

    // Next idle minute: a second {} (the timer re-arms itself).
    const from2 = alice.socket.rawIn.length;
    const fromBob2 = bob.socket.rawIn.length;
    mock.timers.tick(50000);
    assert.equal(keepalives(alice), 2);
    assert.equal(keepalives(bob), 2);
    await alice.socket.nextIn(isEmpty, { from: from2, what: 'second {} reply' });
    await bob.socket.nextIn(isEmpty, { from: fromBob2, what: 'second {} reply to bob' });
    mock.timers.tick(10000);
    assert.equal(alice.socket.readyState, 1);
    assert.equal(bob.socket.readyState, 1);
    assert.deepEqual(bob.events.close, []);

    // The session still works after keepalives.
    const ack = await alice.send('after keepalive', bob.peerId);
    assert.equal((await bob.message('after keepalive')).id, ack.uid);
    assert.deepEqual(bob.events.offline, [], 'alice never looked offline');
  } finally {
    // Close under the mocked clock, so every timer chat.js and ws armed with
    // it is cleared with it too.
    for (const p of [alice, bob]) {
      if (p.socket && p.socket.readyState <= 1) {
        await p.close();
        await p.closed().catch(() => {});
      }
    }
    mock.timers.reset();
  }
});

test('raw ws: {} is answered {} in order with the other replies', async () => {
  const c = await rawClient(ctx.server.base);
  try {
    const peerId = uid('raw');
    c.send({ cmd: 'session', op: 'open', appId, peerId, sessionPeerIds: [], i: 1 });
    c.send('{}');
    c.send({ cmd: 'session', op: 'query', appId, peerId, sessionPeerIds: [peerId], i: 2 });
    c.send('{}');
    c.send({ cmd: 'session', op: 'add', appId, peerId, sessionPeerIds: [], i: 3 });
    const got = [];
    for (let k = 0; k < 5; k++) got.push(await c.next());
    assert.deepEqual(got.map((f) => (isEmpty(f) ? '{}' : `${f.op}/${f.i}`)),
      ['opened/1', '{}', 'query-result/2', '{}', 'added/3']);
    assert.deepEqual(got[2].onlineSessionPeerIds, [peerId]);
    assert.equal(c.ws.readyState, 1);
  } finally {
    await c.close();
  }
});
