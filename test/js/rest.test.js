'use strict';
// REST interplay: messages sent with lean-cloud-chat@1.0.4 show up in
// `GET /1.1/rtm/messages/logs` (dev app: any key is accepted).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { useServer, uid, closeAll, rest } = require('./lib/harness');

const appId = 'compat-rest';
const ctx = useServer({ appId });
const { peer } = ctx;
const headers = { 'X-LC-Id': appId, 'X-LC-Key': 'any-key-in-dev-mode' };
const convid = (...peers) => crypto.createHash('md5').update([...peers].sort().join(':')).digest('hex');
// logs asks node 0 (on a cluster, every node: each must answer the same,
// read-your-writes, though only node 0 runs the history indexer).
async function logs(query) {
  const at = (base) => rest(base, `/1.1/rtm/messages/logs?${new URLSearchParams(query)}`, { headers });
  const res = await at(ctx.server.base);
  for (const node of (ctx.server.nodes || []).slice(1)) {
    const other = await at(node.base);
    assert.equal(other.status, res.status, `history through ${node.addr}`);
    assert.deepEqual(other.body, res.body, `history through ${node.addr}`);
  }
  return res;
}

test('a direct message sent by chat.js is in the history under md5(sorted peers)', async () => {
  const alice = peer(uid('zed-alice')); // sorts after bob: the convid sorts the ids
  const bob = peer(uid('bob'));
  alice.settings.watchingPeerIds = [bob.peerId];
  bob.settings.watchingPeerIds = [alice.peerId];
  try {
    await bob.open();
    await alice.open();
    const a1 = await alice.send('hello history', bob.peerId);
    const a2 = await bob.send('reply 中文', alice.peerId);
    await alice.send('transient, not stored', bob.peerId, true);
    await bob.message('transient, not stored');

    const res = await logs({ convid: convid(alice.peerId, bob.peerId) });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body));
    assert.deepEqual(res.body.map((r) => r.data), ['reply 中文', 'hello history'], 'newest first, no transient');
    const [r2, r1] = res.body;
    assert.equal(r1['msg-id'], a1.uid);
    assert.equal(r1.timestamp, a1.t);
    assert.equal(r1.from, alice.peerId);
    assert.deepEqual(r1.to, [bob.peerId]);
    assert.equal(r1['conv-id'], convid(alice.peerId, bob.peerId));
    assert.equal(r1['app-id'], appId);
    assert.equal(r1['is-room'], false);
    assert.equal(r2['msg-id'], a2.uid);
    assert.equal(r2.from, bob.peerId);

    // limit, and the slash variant the mobile SDKs use.
    const one = await rest(ctx.server.base, `/1.1/rtm/messages/logs/?convid=${convid(bob.peerId, alice.peerId)}&limit=1`, { headers });
    assert.deepEqual(one.body.map((r) => r['msg-id']), [a2.uid]);
  } finally {
    await closeAll(alice, bob);
  }
});

test('a group message sent by chat.js is in the history under the group id', async () => {
  const alice = peer(uid('alice'));
  const bob = peer(uid('bob'));
  try {
    await alice.open();
    await bob.open();
    const roomId = (await alice.joinGroup()).roomId;
    await alice.inviteToGroup(roomId, bob.peerId);
    const ack = await alice.sendToGroup('group history', roomId);
    await bob.message('group history');
    const res = await logs({ convid: roomId });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 1);
    const [r] = res.body;
    assert.equal(r['msg-id'], ack.uid);
    assert.equal(r.data, 'group history');
    assert.equal(r['is-room'], true);
    assert.equal(r['conv-id'], roomId);
    assert.equal(r.to, roomId);
    assert.equal(r.from, alice.peerId);
  } finally {
    await closeAll(alice, bob);
  }
});

test('history requires an app id', async () => {
  const res = await rest(ctx.server.base, `/1.1/rtm/messages/logs?convid=${convid('a', 'b')}`);
  assert.equal(res.status, 401);
  assert.equal(res.body.code, 401);
});
