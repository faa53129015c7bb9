package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rtgate.im.Peers.list;
import static org.rtgate.im.Peers.uid;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A Java client exchanges direct and group messages with a Go SDK client
 * over raw QUIC (test/browser/gopeer) and with the legacy
 * lean-cloud-chat@1.0.4 client (node, from test/js/node_modules), and with
 * the browser JS SDK (web/dist/rtgate.mjs in node over long-poll, and
 * /sdk/rtgate.mjs in a page of headless Debian Chromium over WebSocket).
 */
class InteropTest {
    static RtgateServer server;
    static Path gopeer;

    @BeforeAll
    static void start() throws Exception {
        server = RtgateServer.start(true);
        Path dir = Files.createTempDirectory("rtgate-java-gopeer-");
        gopeer = dir.resolve("gopeer");
        RtgateServer.run(RtgateServer.REPO.toFile(), 300, "go", "build", "-o", gopeer.toString(), "./test/browser/gopeer");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        RtgateServer.deleteTree(gopeer.getParent());
    }

    private static Map<String, Object> m(Object... kv) {
        Map<String, Object> out = new HashMap<>();
        for (int k = 0; k < kv.length; k += 2) {
            out.put((String) kv[k], kv[k + 1]);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void goSdkOverQuic(RealtimeConfig.Dialect d) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = Peers.config(server, "dev", d, rec);
        String j = uid("java"), g = uid("gopher");
        try (LinePeer go = new LinePeer(Arrays.asList(gopeer.toString(), "-url", "quic://" + server.quicAddr,
                "-pin", server.certSha256, "-app", "dev"))) {
            SessionManager java = Peers.open(cfg, rec, j, g);
            JsonObject opened = go.call("open", m("peer", g, "watch", list(j)));
            assertEquals("quic", opened.get("transport").getAsString());
            assertEquals(list(g), rec.await("online", j).peers);
            // Java -> Go, persistent.
            java.sendMessage(new AVMessage("hello gopher", list(g)));
            JsonObject msg = go.event("message", o -> o.get("text").getAsString().equals("hello gopher"));
            assertEquals(j, msg.get("from").getAsString());
            assertEquals(rec.await("sent", j).msg.getMessageId(), msg.get("id").getAsString());
            // Go -> Java.
            JsonObject sent = go.call("send", m("peer", g, "to", list(j), "text", "hello java"));
            Recorder.Event got = rec.message(j, "hello java");
            assertEquals(g, got.msg.getFromPeerId());
            assertEquals(sent.get("id").getAsString(), got.msg.getMessageId());
            // A group: Java creates it and invites the Go peer; both send.
            Group group = java.getGroup();
            group.join();
            rec.await("joined", j);
            group.inviteMember(list(g));
            go.event("group", o -> o.get("kind").getAsString().equals("joined") && o.get("by").getAsString().equals(j));
            group.sendMessage(new AVGroupMessage("java to group"));
            JsonObject gm = go.event("message", o -> o.get("text").getAsString().equals("java to group"));
            assertEquals(group.getGroupId(), gm.get("room").getAsString());
            go.call("sendGroup", m("peer", g, "room", group.getGroupId(), "text", "go to group"));
            Recorder.Event jg = rec.await("gmessage", j, e -> "go to group".equals(e.text()));
            assertEquals(g, jg.msg.getFromPeerId());
            java.close();
            go.event("offline", o -> true);
        }
    }

    @Test
    void legacyJsClient() throws Exception {
        Path nm = RtgateServer.REPO.resolve("test/js/node_modules/lean-cloud-chat");
        assertTrue(Files.isDirectory(nm), "run `npm ci` in test/js first (./test.sh does): " + nm + " is missing");
        Recorder rec = new Recorder();
        RealtimeConfig cfg = Peers.config(server, "dev", RealtimeConfig.Dialect.V1_JSON, rec);
        String j = uid("java"), l = uid("legacy");
        Path script = Path.of(InteropTest.class.getResource("/legacy-peer.js").toURI());
        try (LinePeer js = new LinePeer(Arrays.asList("node", script.toString(), RtgateServer.REPO.toString(),
                server.base(), "dev"))) {
            SessionManager java = Peers.open(cfg, rec, j, l);
            js.call("open", m("peer", l, "watch", list(j)));
            js.event("online", o -> o.get("data").getAsJsonArray().toString().contains(j));
            assertEquals(list(l), rec.await("online", j).peers);
            java.sendMessage(new AVMessage("hello 2014", list(l)));
            JsonObject msg = js.event("message", o -> o.getAsJsonObject("data").get("msg").getAsString().equals("hello 2014"));
            assertEquals(j, msg.getAsJsonObject("data").get("fromPeerId").getAsString());
            JsonObject ack = js.call("send", m("text", "hello java", "to", list(j))).getAsJsonObject("reply");
            Recorder.Event got = rec.message(j, "hello java");
            assertEquals(l, got.msg.getFromPeerId());
            assertEquals(ack.get("uid").getAsString(), got.msg.getMessageId());
            // Group: the legacy client creates it and invites Java; both send.
            String room = js.call("joinGroup", m()).getAsJsonObject("reply").get("roomId").getAsString();
            js.call("invite", m("room", room, "to", list(j)));
            Recorder.Event inv = rec.await("invited", j);
            assertEquals(l, inv.by);
            assertEquals(room, inv.group.getGroupId());
            js.call("sendGroup", m("room", room, "text", "legacy to group"));
            Recorder.Event gm = rec.await("gmessage", j, e -> "legacy to group".equals(e.text()));
            assertEquals(l, gm.msg.getFromPeerId());
            inv.group.sendMessage(new AVGroupMessage("java to group"));
            JsonObject lm = js.event("message", o -> o.getAsJsonObject("data").get("msg").getAsString().equals("java to group"));
            assertEquals(room, lm.getAsJsonObject("data").get("roomId").getAsString());
            java.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void jsSdkOverLongPoll(RealtimeConfig.Dialect d) throws Exception {
        chatWithJsSdk(d, "/js-sdk-peer.mjs", "longpoll");
    }

    /**
     * The Java client chats with the JS SDK running in a real page of
     * headless Debian Chromium (test/browser's harness), over the
     * transport the SDK picks there: WebSocket.
     */
    @ParameterizedTest
    @EnumSource(value = RealtimeConfig.Dialect.class, names = {"V1_JSON", "MSGPACK"})
    void jsSdkInChromium(RealtimeConfig.Dialect d) throws Exception {
        chatWithJsSdk(d, "/js-browser-peer.mjs", "websocket");
    }

    private void chatWithJsSdk(RealtimeConfig.Dialect d, String peerScript, String transport) throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = Peers.config(server, "dev", d, rec);
        String j = uid("java"), w = uid("web");
        Path script = Path.of(InteropTest.class.getResource(peerScript).toURI());
        try (LinePeer js = new LinePeer(Arrays.asList("node", script.toString(), RtgateServer.REPO.toString(),
                server.base(), "dev"))) {
            SessionManager java = Peers.open(cfg, rec, j, w);
            assertEquals(transport, js.call("open", m("peer", w, "watch", list(j))).getAsJsonObject("reply")
                    .get("transport").getAsString());
            assertEquals(list(w), rec.await("online", j).peers);
            java.sendMessage(new AVMessage("hello browser", list(w)));
            JsonObject msg = js.event("message", o -> o.getAsJsonObject("data").get("text").getAsString().equals("hello browser"));
            assertEquals(j, msg.getAsJsonObject("data").get("from").getAsString());
            JsonObject sent = js.call("send", m("to", j, "text", "hello java")).getAsJsonObject("reply");
            Recorder.Event got = rec.message(j, "hello java");
            assertEquals(w, got.msg.getFromPeerId());
            assertEquals(sent.get("id").getAsString(), got.msg.getMessageId());
            Group group = java.getGroup();
            group.join();
            rec.await("joined", j);
            js.call("joinGroup", m("room", group.getGroupId()));
            rec.await("memberJoin", j, e -> e.peers.contains(w));
            group.sendMessage(new AVGroupMessage("java to group"));
            JsonObject gm = js.event("message", o -> o.getAsJsonObject("data").get("text").getAsString().equals("java to group"));
            assertEquals(group.getGroupId(), gm.getAsJsonObject("data").get("group").getAsString());
            js.call("sendGroup", m("room", group.getGroupId(), "text", "browser to group"));
            assertEquals(w, rec.await("gmessage", j, e -> "browser to group".equals(e.text())).msg.getFromPeerId());
            java.close();
        }
    }
}
