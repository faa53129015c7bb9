'use strict';
// Signatures (spec/groups-signatures.md) with the unmodified
// lean-cloud-chat@1.0.4 client: its `auth` and `groupAuth` callbacks return
// what a signing server would (computed here with the master key), against
// a server started with `--app sapp:skey:smaster --signatures`.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const {
  useServer, Peer, uid, closeAll, settle, withTimeout, signSession, signRoom, nowSeconds, hmac,
} = require('./lib/harness');

const APP = 'sapp';
const MASTER = 'smaster';

const ctx = useServer({ args: ['--app', `${APP}:skey:${MASTER}`, '--signatures'] });

// auth returns a chat.js `auth` callback signing with key; signedWatch
// overrides the list that is signed (the client still sends its own list);
// tOffset shifts the timestamp (seconds); tString sends t as a string.
function auth({ key = MASTER, tOffset = 0, signedWatch, tString = false } = {}) {
  return (peerId, watchingPeerIds, sp) => {
    const watch = watchingPeerIds || [];
    const t = nowSeconds() + tOffset;
    const sig = signSession(APP, key, peerId, signedWatch || watch, { t });
    return Promise.resolve({ watchingPeerIds: watch, s: sig.s, t: tString ? String(t) : t, n: sig.n, sp });
  };
}

function groupAuth({ key = MASTER } = {}) {
  return (peerId, groupId, action, groupPeerIds) => {
    const targets = groupPeerIds || [];
    const sig = signRoom(APP, key, peerId, groupId, targets, action);
    return Promise.resolve({ groupPeerIds: targets, ...sig });
  };
}

const peer = (peerId, opts = {}) => new Peer(ctx.AVChatClient, { appId: APP, peerId, auth: auth(), groupAuth: groupAuth(), ...opts });

// refusedOpen asserts that open() is refused by the server: close code 4108
// well before chat.js's own 10 s command timeout, open() rejected, no `online`.
async function refusedOpen(p) {
  const started = Date.now();
  const res = await withTimeout(settle(p.open()), 5000, 'open() settles');
  const ev = await p.closed(5000);
  assert.equal(ev.code, 4108, 'closed by the server with 4108');
  assert.equal(res.ok, false, 'open() rejects');
  assert.ok(Date.now() - started < 5000, 'refused by the server, not by the client timeout');
  assert.deepEqual(p.events.online, []);
}

test('the harness signer matches the spec vectors', () => {
  assert.equal(hmac('masterkey', ['A', 'alice', 'bob:carol', 1415000000, 48213]), 'e9fb68a8c1108f40afa13b25fdd655011c32c9d9');
  assert.equal(signSession('A', 'masterkey', 'alice', ['carol', 'bob'], { t: 1415000000, n: '48213' }).s, 'e9fb68a8c1108f40afa13b25fdd655011c32c9d9');
  assert.equal(signRoom('A', 'masterkey', 'alice', undefined, [], 'join', { t: 1415000000, n: '1' }).s, '1bd091a023cb2a5375350258574b287107fd5a42');
  assert.equal(signRoom('A', 'masterkey', 'alice', '54753e1ee4b0b41b21e0e76e', ['eve', 'bob'], 'invite', { t: 1415000050, n: '2' }).s, 'dd94fca2348da9a893caa694c38580015e570ee4');
});

test('valid signatures: open and watch succeed, messages flow', async () => {
  const bob = peer(uid('bob'));
  const alice = peer(uid('alice'), { watchingPeerIds: [bob.peerId] });
  const carol = peer(uid('carol'), { auth: auth({ tString: true }) }); // t as a string, as some apps send it
  try {
    await bob.open();
    const opened = await alice.open();
    assert.equal(opened.op, 'opened');
    assert.deepEqual(opened.onlineSessionPeerIds, [bob.peerId]);
    assert.deepEqual(await alice.next('online'), [bob.peerId]);

    assert.equal((await carol.open()).op, 'opened');
    const added = await alice.watch([carol.peerId]);
    assert.deepEqual(added.onlineSessionPeerIds, [carol.peerId]);

    await bob.watch(alice.peerId);
    const ack = await alice.send('signed hello', bob.peerId);
    assert.equal((await bob.message('signed hello')).id, ack.uid);
    await alice.send('to carol', carol.peerId);
    await carol.message('to carol');
  } finally {
    await closeAll(alice, bob, carol);
  }
});

test('a timestamp 5 h old is inside the 6 h window', async () => {
  const alice = peer(uid('alice'), { auth: auth({ tOffset: -5 * 3600 }) });
  try {
    assert.equal((await alice.open()).op, 'opened');
  } finally {
    await closeAll(alice);
  }
});

test('signature made with the wrong key: closed with 4108, open() rejects', async () => {
  const alice = peer(uid('alice'), { auth: auth({ key: 'not-the-master-key' }) });
  try {
    await refusedOpen(alice);
  } finally {
    await closeAll(alice);
  }
});

test('no signature at all (chat.js default auth): closed with 4108', async () => {
  const alice = new Peer(ctx.AVChatClient, { appId: APP, peerId: uid('alice') });
  try {
    await refusedOpen(alice);
  } finally {
    await closeAll(alice);
  }
});

test('stale (t = now − 7 h) and future (now + 7 h) timestamps are refused with 4108', async () => {
  for (const tOffset of [-7 * 3600, 7 * 3600]) {
    const alice = peer(uid('alice'), { auth: auth({ tOffset }) });
    try {
      await refusedOpen(alice);
    } finally {
      await closeAll(alice);
    }
  }
});

test('open watching a peer outside the signed list is refused with 4108', async () => {
  const bob = uid('bob');
  const carol = uid('carol');
  const alice = peer(uid('alice'), { watchingPeerIds: [bob, carol], auth: auth({ signedWatch: [bob] }) });
  try {
    await refusedOpen(alice);
  } finally {
    await closeAll(alice);
  }
});

test('watch() of a list outside the signed one adds nobody', async () => {
  const bob = peer(uid('bob'));
  const carol = peer(uid('carol'));
  const dave = peer(uid('dave'));
  const alice = peer(uid('alice'), { watchingPeerIds: [dave.peerId] });
  try {
    await bob.open();
    await carol.open();
    await dave.open();
    await alice.open();
    assert.deepEqual(await alice.next('online'), [dave.peerId]);

    // chat.js calls auth(peerId, [bob, carol]); the signature covers [bob] only.
    // (chat.js keeps the settings object it was given: swap the callback.)
    alice.settings.auth = auth({ signedWatch: [bob.peerId] });
    const added = await alice.watch([bob.peerId, carol.peerId]);
    assert.equal(added.op, 'added');
    assert.deepEqual(added.onlineSessionPeerIds, [], 'bob is online but was not added');
    assert.deepEqual(await alice.next('online'), []);
    // Not watched → a direct message from alice to bob is not delivered
    // (v1 rule). A later message from dave (who watches bob properly) would
    // arrive after it.
    await alice.send('not delivered', bob.peerId);
    await dave.watch(bob.peerId);
    await dave.send('marker', bob.peerId);
    await bob.message('marker');
    assert.deepEqual(bob.events.message.map((m) => m.msg), ['marker']);
    // The session itself is still fine.
    assert.equal(alice.socket.readyState, 1);
  } finally {
    await closeAll(alice, bob, carol, dave);
  }
});

test('unknown appId: the router answers 404 and open() rejects', async () => {
  const alice = new Peer(ctx.AVChatClient, { appId: 'not-an-app', peerId: uid('alice') });
  const res = await withTimeout(settle(alice.open()), 5000, 'open() settles');
  assert.equal(res.ok, false);
  assert.equal(alice.sockets.length, 0, 'no WebSocket was opened');
});

test('unknown appId over a raw WebSocket: closed with 4100', async () => {
  const c = await require('./lib/harness').rawClient(ctx.server.base);
  c.send({ cmd: 'session', op: 'open', appId: 'not-an-app', peerId: uid('alice'), sessionPeerIds: [], i: 1 });
  const { code } = await withTimeout(c.closed, 5000, 'close');
  assert.equal(code, 4100);
});

test('groupAuth valid: create, join by id, invite and kick succeed', async () => {
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => peer(uid(n)));
  try {
    for (const p of [alice, bob, carol]) await p.open();
    const created = await alice.joinGroup();
    assert.equal(created.op, 'joined');
    const roomId = created.roomId;
    assert.match(roomId, /^[0-9a-f]{24}$/);

    const cj = await carol.joinGroup(roomId);
    assert.equal(cj.op, 'joined');
    const inv = await alice.inviteToGroup(roomId, [bob.peerId]);
    assert.deepEqual(inv.roomPeerIds, [bob.peerId]);
    assert.equal((await bob.next('joined', (e) => e.roomId === roomId)).byPeerId, alice.peerId);

    const ack = await alice.sendToGroup('signed group', roomId);
    assert.equal((await bob.message('signed group')).id, ack.uid);
    assert.equal((await carol.message('signed group')).id, ack.uid);

    const k = await alice.kickFromGroup(roomId, bob.peerId);
    assert.deepEqual(k.roomPeerIds, [bob.peerId]);
    await bob.next('left', (e) => e.roomId === roomId);
    // leave needs no signature.
    assert.equal((await carol.leaveGroup(roomId)).op, 'left');
  } finally {
    await closeAll(alice, bob, carol);
  }
});

test('groupAuth invalid: the server answers reject; chat.js only gives up after its 10 s timeout', async () => {
  const alice = peer(uid('alice'));
  const bob = peer(uid('bob'), { groupAuth: groupAuth({ key: 'wrong' }) });
  const carol = peer(uid('carol'), { groupAuth: groupAuth({ key: 'wrong' }) });
  const dave = peer(uid('dave'));
  try {
    for (const p of [alice, bob, carol, dave]) await p.open();
    const roomId = (await alice.joinGroup()).roomId;

    // join with a bad signature
    const from = bob.socket.rawIn.length;
    const started = Date.now();
    const joining = settle(bob.joinGroup(roomId));
    const { frame } = await bob.socket.nextIn((f) => f.cmd === 'room' && f.op === 'reject', { from, what: 'room reject' });
    assert.equal(frame.roomId, roomId);
    assert.equal(frame.peerId, bob.peerId);
    assert.deepEqual(frame.roomPeerIds, []);
    // chat.js ignores `reject`: joinGroup() rejects with 'roomjoinedtimeout'
    // after 10 s, and chat.js then closes its own socket.
    const res = await withTimeout(joining, 13000, 'joinGroup() settles');
    assert.equal(res.ok, false);
    assert.equal(res.error, 'roomjoinedtimeout');
    assert.ok(Date.now() - started >= 9500, 'by the client timeout');
    await bob.closed(3000);
    assert.deepEqual(bob.events.joined, []);

    // invite with a bad signature by a member (carol, invited by alice with
    // a valid one): reject names the targets; nobody is added.
    await alice.inviteToGroup(roomId, carol.peerId);
    await carol.next('joined', (e) => e.roomId === roomId);
    const cfrom = carol.socket.rawIn.length;
    const inviting = settle(carol.inviteToGroup(roomId, [dave.peerId]));
    const rej = await carol.socket.nextIn((f) => f.cmd === 'room' && f.op === 'reject', { from: cfrom, what: 'invite reject' });
    assert.equal(rej.frame.roomId, roomId);
    assert.deepEqual(rej.frame.roomPeerIds, [dave.peerId]);
    // dave was not added: a group message from alice does not reach him (a
    // direct message sent after it would arrive after it).
    await alice.sendToGroup('members only', roomId);
    await carol.message('members only');
    await alice.watch(dave.peerId);
    await alice.send('marker', dave.peerId);
    await dave.message('marker');
    assert.deepEqual(dave.events.message.map((m) => m.msg), ['marker']);
    assert.deepEqual(dave.events.joined, []);
    await carol.close();
    assert.equal((await withTimeout(inviting, 2000, 'invite settles on close')).ok, false);
  } finally {
    await closeAll(alice, bob, carol, dave);
  }
});
