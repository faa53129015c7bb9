'use strict';
// Smoke test: the unmodified lean-cloud-chat@1.0.4 client (chat.js) opens
// sessions and exchanges a message through a real rtgate binary.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, once, rest, CLUSTER } = require('./lib/harness');

const ctx = useServer();

test('open, send and receive through chat.js', async () => {
  const appId = 'smoke-app';
  const alice = new ctx.AVChatClient({ appId, peerId: 'alice', watchingPeerIds: ['bob'] });
  const bob = new ctx.AVChatClient({ appId, peerId: 'bob', watchingPeerIds: ['alice'] });
  try {
    await bob.open();
    const aliceOnline = once(bob, 'online');
    await alice.open();
    assert.deepEqual(await aliceOnline, ['alice'], 'bob sees alice come online');

    const received = once(bob, 'message');
    const ack = await alice.send('hello bob', 'bob');
    assert.equal(ack.cmd, 'ack');
    assert.equal(typeof ack.uid, 'string');
    assert.equal(typeof ack.t, 'number');

    const msg = await received;
    assert.equal(msg.msg, 'hello bob');
    assert.equal(msg.fromPeerId, 'alice');
    assert.equal(msg.peerId, 'bob');
    assert.equal(msg.id, ack.uid);
  } finally {
    await alice.close();
    await bob.close();
  }
});

test('router answers through the redirected XMLHttpRequest', async () => {
  const XHR = globalThis.XMLHttpRequest;
  const req = new XHR();
  req.open('GET', 'http://router-g0-push.avoscloud.com/v1/route?appId=smoke-app&secure=1');
  const res = await new Promise((resolve, reject) => {
    req.onload = () => resolve(req);
    req.onerror = reject;
    req.send();
  });
  assert.equal(res.status, 200);
  const body = JSON.parse(res.responseText);
  if (CLUSTER) {
    // One of the nodes (round robin), wss:// for secure=1.
    assert.ok(ctx.server.nodes.some((s) => body.server === `wss://${s.addr}/`), body.server);
  } else {
    assert.equal(body.server, `wss://${ctx.server.addr}/`);
  }
  assert.equal(body.groupId, 'g0');
});

// Only on a cluster (RTGATE_CLUSTER): there is one node otherwise.
if (CLUSTER) test('cluster: every node\'s router hands out every node, in turn', async () => {
  const want = ctx.server.nodes.map((s) => `ws://${s.addr}/`).sort();
  for (const node of ctx.server.nodes) {
    const got = [];
    for (let i = 0; i < want.length; i++) {
      const { status, body } = await rest(node.base, '/v1/route?appId=smoke-app');
      assert.equal(status, 200);
      assert.notEqual(body.secondary, body.server, 'secondary is another node');
      got.push(body.server);
    }
    assert.deepEqual(got.sort(), want, `router of ${node.addr}: ${want.length} answers name ${want.length} nodes`);
  }
});
