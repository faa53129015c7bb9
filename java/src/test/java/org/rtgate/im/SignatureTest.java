package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rtgate.im.Peers.list;
import static org.rtgate.im.Peers.uid;

import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Signatures (spec/groups-signatures.md) against an app that requires them. */
class SignatureTest {
    static final String APP = "sapp";
    static final String MASTER = "smaster";
    static RtgateServer server;

    @BeforeAll
    static void start() throws Exception {
        server = RtgateServer.start("--app", APP + ":skey:" + MASTER, "--signatures");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void vectors() {
        // spec/groups-signatures.md, worked vectors (master key "masterkey").
        assertEquals("e9fb68a8c1108f40afa13b25fdd655011c32c9d9",
                MasterKeySignatureFactory.hmac("masterkey", "A:alice:" + MasterKeySignatureFactory.joinSorted(list("carol", "bob")) + ":1415000000:48213"));
        assertEquals("f77bb065e0f2c17049779bb698c3d888f585ee97",
                MasterKeySignatureFactory.hmac("masterkey", "A:alice:" + MasterKeySignatureFactory.joinSorted(list("Ａ", "😀")) + ":1415000000:n"));
        assertEquals("dd94fca2348da9a893caa694c38580015e570ee4",
                MasterKeySignatureFactory.hmac("masterkey", "A:alice:54753e1ee4b0b41b21e0e76e:bob:eve:1415000050:2:invite"));
    }

    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void validSignatures(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = Peers.config(server, APP, d, rec);
        String a = uid("alice"), b = uid("bob");
        SignatureFactory good = new MasterKeySignatureFactory(APP, MASTER);
        SessionManager bob = SessionManager.getInstance(cfg, b);
        bob.setSignatureFactory(good);
        bob.open(Collections.<String>emptyList());
        rec.await("open", b);
        SessionManager alice = SessionManager.getInstance(cfg, a);
        alice.setSignatureFactory(good);
        alice.open(list(b));
        rec.await("open", a);
        assertEquals(list(b), rec.await("online", a).peers);
        alice.sendMessage(new AVMessage("signed hello", list(b)));
        rec.message(b, "signed hello");
        // Groups: create, invite, kick, all signed.
        Group g = alice.getGroup();
        g.join();
        rec.await("joined", a);
        g.inviteMember(list(b));
        assertEquals(a, rec.await("invited", b).by);
        g.kickMembers(list(b));
        assertEquals(a, rec.await("kicked", b).by);
        alice.close();
        bob.close();
    }

    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void refusedSignatures(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = Peers.config(server, APP, d, rec);
        // A signature with the wrong key: the server refuses the open (close 4108).
        String a = uid("alice");
        SessionManager alice = SessionManager.getInstance(cfg, a);
        alice.setSignatureFactory(new MasterKeySignatureFactory(APP, "not-the-master-key"));
        alice.open(Collections.<String>emptyList());
        Recorder.Event e = rec.await("error", a);
        assertEquals(RealtimeException.SIGNATURE_REFUSED, ((RealtimeException) e.error).getCode());
        assertFalse(alice.isOpen());
        rec.none("open", a, x -> true, 300);
        // No signature at all: refused the same way.
        String n = uid("nosig");
        SessionManager nosig = SessionManager.getInstance(cfg, n);
        nosig.open(Collections.<String>emptyList());
        assertEquals(RealtimeException.SIGNATURE_REFUSED, ((RealtimeException) rec.await("error", n).error).getCode());
        // A factory that throws: onError with its exception, nothing sent.
        String t = uid("thrower");
        SessionManager thrower = SessionManager.getInstance(cfg, t);
        final SignatureFactory.SignatureException boom = new SignatureFactory.SignatureException("my server said no");
        thrower.setSignatureFactory(new SignatureFactory() {
            @Override
            public Signature createSignature(String peerId, List<String> watchIds) throws SignatureException {
                throw boom;
            }

            @Override
            public Signature createGroupSignature(String groupId, String peerId, List<String> targets, String action)
                    throws SignatureException {
                throw boom;
            }
        });
        thrower.open(Collections.<String>emptyList());
        assertSame(boom, rec.await("error", t).error);
        assertFalse(thrower.isOpen());
        // Open with a good signature, then group operations signed badly are rejected,
        // and a factory that throws for a group fails it through the group's onError.
        String g1 = uid("grouper");
        SessionManager grouper = SessionManager.getInstance(cfg, g1);
        final MasterKeySignatureFactory good = new MasterKeySignatureFactory(APP, MASTER);
        final MasterKeySignatureFactory bad = new MasterKeySignatureFactory(APP, "wrong");
        grouper.setSignatureFactory(new SignatureFactory() {
            @Override
            public Signature createSignature(String peerId, List<String> watchIds) {
                return good.createSignature(peerId, watchIds);
            }

            @Override
            public Signature createGroupSignature(String groupId, String peerId, List<String> targets, String action)
                    throws SignatureException {
                if ("kick".equals(action)) {
                    throw boom;
                }
                return bad.createGroupSignature(groupId, peerId, targets, action);
            }
        });
        grouper.open(Collections.<String>emptyList());
        rec.await("open", g1);
        Group g = grouper.getGroup();
        g.join();
        Recorder.Event rej = rec.await("reject", g1);
        assertEquals("join", rej.op);
        g = grouper.getGroup("000000000000000000000001");
        g.kickMembers(list("x"));
        assertSame(boom, rec.await("gerror", g1).error);
        // Watching with a bad signature watches nobody (added with []).
        grouper.setSignatureFactory(bad);
        String other = uid("other");
        SessionManager o = SessionManager.getInstance(cfg, other);
        o.setSignatureFactory(good);
        o.open(Collections.<String>emptyList());
        rec.await("open", other);
        grouper.watchPeers(list(other));
        rec.none("online", g1, x -> true, 500);
        assertTrue(grouper.getOnlinePeers().isEmpty());
        assertNotNull(grouper.getConfig());
        grouper.close();
        o.close();
    }
}
