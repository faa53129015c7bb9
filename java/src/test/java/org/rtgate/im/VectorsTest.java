package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The golden vectors of spec/vectors (v1-json.json, msgpack.json): every
 * non-error case decodes to its command, every error case is refused with
 * its class, and the cases that are not decode-only encode back to the same
 * bytes (spec/protocol.md "Vectors": what an SDK must do to conform).
 */
class VectorsTest {
    @TestFactory
    Stream<DynamicTest> json() throws Exception {
        return cases("v1-json.json", false);
    }

    @TestFactory
    Stream<DynamicTest> msgpack() throws Exception {
        return cases("msgpack.json", true);
    }

    private Stream<DynamicTest> cases(String file, boolean mp) throws Exception {
        String text = new String(Files.readAllBytes(RtgateServer.REPO.resolve("spec/vectors").resolve(file)), StandardCharsets.UTF_8);
        JsonArray all = JsonParser.parseString(text).getAsJsonArray();
        List<DynamicTest> out = new ArrayList<>();
        for (JsonElement e : all) {
            JsonObject v = e.getAsJsonObject();
            String name = v.get("name").getAsString();
            out.add(DynamicTest.dynamicTest(name, () -> check(v, mp)));
        }
        return out.stream();
    }

    private static byte[] hex(String h) {
        byte[] b = new byte[h.length() / 2];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) Integer.parseInt(h.substring(2 * k, 2 * k + 2), 16);
        }
        return b;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x & 0xff));
        }
        return s.toString();
    }

    private static void check(JsonObject v, boolean mp) throws Exception {
        JsonElement w = v.get(mp ? "hex" : "json");
        String wire = w == null ? "" : w.getAsString(); // "empty input" has neither
        if (v.has("error")) {
            Codec.ProtocolException e = assertThrows(Codec.ProtocolException.class,
                    () -> decode(wire, mp));
            assertEquals(v.get("error").getAsString(), e.unknown ? "unknown" : "malformed", e.getMessage());
            return;
        }
        Command c = decode(wire, mp);
        assertEquals(v.has("kind") ? v.get("kind").getAsString() : null, c.kind());
        assertEquals(expected(v.getAsJsonObject("command")), actual(c));
        boolean decodeOnly = v.has("decodeOnly") && v.get("decodeOnly").getAsBoolean();
        if (!decodeOnly) {
            if (mp) {
                assertEquals(wire, hex(Codec.toMsgpack(c)));
            } else {
                assertEquals(wire, Codec.toJson(c));
            }
        }
    }

    private static Command decode(String wire, boolean mp) throws Codec.ProtocolException {
        return mp ? Codec.fromMsgpack(hex(wire)) : Codec.fromJson(wire);
    }

    private static Map<String, Object> expected(JsonObject cmd) {
        Map<String, Object> m = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : cmd.entrySet()) {
            JsonElement x = e.getValue();
            Object val;
            if (x.isJsonArray()) {
                List<String> l = new ArrayList<>();
                for (JsonElement y : x.getAsJsonArray()) {
                    l.add(y.getAsString());
                }
                if (l.isEmpty() && !e.getKey().equals("ids")) {
                    continue;
                }
                val = l;
            } else if (x.getAsJsonPrimitive().isBoolean()) {
                if (!x.getAsBoolean()) {
                    continue;
                }
                val = true;
            } else if (x.getAsJsonPrimitive().isNumber()) {
                val = x.getAsLong();
            } else {
                val = x.getAsString();
            }
            m.put(e.getKey(), val);
        }
        return m;
    }

    private static Map<String, Object> actual(Command c) {
        Map<String, Object> m = new TreeMap<>();
        put(m, "cmd", c.cmd);
        put(m, "op", c.op);
        put(m, "peerId", c.peerId);
        put(m, "appId", c.appId);
        put(m, "installationId", c.installationId);
        put(m, "sessionPeerIds", c.sessionPeerIds);
        put(m, "onlineSessionPeerIds", c.onlineSessionPeerIds);
        put(m, "status", c.status);
        put(m, "fromPeerId", c.fromPeerId);
        put(m, "toPeerIds", c.toPeerIds);
        put(m, "roomId", c.roomId);
        put(m, "roomPeerIds", c.roomPeerIds);
        put(m, "byPeerId", c.byPeerId);
        put(m, "msg", c.msg);
        put(m, "id", c.id);
        if (c.ids != null) {
            m.put("ids", c.ids);
        }
        put(m, "uid", c.uid);
        put(m, "timestamp", c.timestamp);
        put(m, "t", c.timeMs);
        put(m, "t", c.sigTime);
        put(m, "s", c.s);
        put(m, "n", c.n);
        put(m, "sp", c.sp);
        put(m, "transient", c.transientFlag);
        put(m, "r", c.r);
        put(m, "offline", c.offline);
        put(m, "c", c.c);
        put(m, "code", c.code);
        put(m, "reason", c.reason);
        put(m, "i", c.i);
        return m;
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v == null || "".equals(v) || Long.valueOf(0).equals(v) || Boolean.FALSE.equals(v)
                || (v instanceof List && ((List<?>) v).isEmpty())) {
            return;
        }
        m.put(k, v);
    }
}
