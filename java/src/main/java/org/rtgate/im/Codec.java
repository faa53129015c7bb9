package org.rtgate.im;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

/**
 * The two codecs of spec/protocol.md: v1 JSON (also {@code rtgate.json.1})
 * and msgpack ({@code rtgate.msgpack.1}). Encoders write the fixed key order
 * and omit absent fields; decoders accept any order, ignore unknown keys,
 * treat null as absent and refuse a known field of the wrong type with
 * {@link ProtocolException}. Stateless and thread-safe.
 */
final class Codec {
    private Codec() {}

    /** Thrown for a frame that is not a valid command. */
    static final class ProtocolException extends Exception {
        private static final long serialVersionUID = 1L;
        /** True when the frame was well formed but its cmd/op is unknown. */
        final boolean unknown;

        ProtocolException(String message, boolean unknown) {
            super(message);
            this.unknown = unknown;
        }
    }

    /** A JSON number kept as the text it was written as. */
    private static final class Num {
        final String text;

        Num(String text) {
            this.text = text;
        }
    }

    /** A signature time written as a bare number (canonical unsigned decimal). */
    private static final class U64 {
        final String text;

        U64(String text) {
            this.text = text;
        }
    }

    private static final int MAX_DEPTH = 64;

    // ---- encoding -------------------------------------------------------

    private static boolean alwaysOnline(Command c) {
        return "session".equals(c.cmd)
                && ("opened".equals(c.op) || "added".equals(c.op) || "query-result".equals(c.op));
    }

    private static boolean alwaysRoomPeers(Command c) {
        return "room".equals(c.cmd)
                && ("invited".equals(c.op) || "kicked".equals(c.op) || "members-joined".equals(c.op)
                        || "members-left".equals(c.op) || "reject".equals(c.op));
    }

    private static boolean timeIsMs(Command c) {
        return "ack".equals(c.cmd) || "rcp".equals(c.cmd);
    }

    /** fields lists (key, value) pairs in the fixed order, absent ones left out. */
    private static List<Object[]> fields(Command c) {
        List<Object[]> f = new ArrayList<>(16);
        if (c.cmd == null) {
            return f;
        }
        str(f, "cmd", c.cmd);
        if ("session".equals(c.cmd) || "room".equals(c.cmd)) {
            str(f, "op", c.op);
        }
        str(f, "peerId", c.peerId);
        str(f, "appId", c.appId);
        str(f, "installationId", c.installationId);
        list(f, "sessionPeerIds", c.sessionPeerIds, "presence".equals(c.cmd));
        list(f, "onlineSessionPeerIds", c.onlineSessionPeerIds, alwaysOnline(c));
        str(f, "status", c.status);
        str(f, "fromPeerId", c.fromPeerId);
        list(f, "toPeerIds", c.toPeerIds, false);
        str(f, "roomId", c.roomId);
        list(f, "roomPeerIds", c.roomPeerIds, alwaysRoomPeers(c));
        str(f, "byPeerId", c.byPeerId);
        str(f, "msg", c.msg);
        str(f, "id", c.id);
        if (c.ids != null) {
            f.add(new Object[] {"ids", c.ids});
        }
        str(f, "uid", c.uid);
        num(f, "timestamp", c.timestamp);
        if (timeIsMs(c)) {
            num(f, "t", c.timeMs);
        } else if (c.sigTime != null && !c.sigTime.isEmpty()) {
            f.add(new Object[] {"t", canonicalU64(c.sigTime) ? new U64(c.sigTime) : c.sigTime});
        }
        str(f, "s", c.s);
        str(f, "n", c.n);
        bool(f, "sp", c.sp);
        bool(f, "transient", c.transientFlag);
        bool(f, "r", c.r);
        bool(f, "offline", c.offline);
        num(f, "c", c.c);
        num(f, "code", c.code);
        str(f, "reason", c.reason);
        num(f, "i", c.i);
        return f;
    }

    private static void str(List<Object[]> f, String k, String v) {
        if (v != null && !v.isEmpty()) {
            f.add(new Object[] {k, v});
        }
    }

    private static void list(List<Object[]> f, String k, List<String> v, boolean always) {
        if ((v != null && !v.isEmpty()) || always) {
            f.add(new Object[] {k, v == null ? new ArrayList<String>() : v});
        }
    }

    private static void num(List<Object[]> f, String k, long v) {
        if (v != 0) {
            f.add(new Object[] {k, v});
        }
    }

    private static void bool(List<Object[]> f, String k, boolean v) {
        if (v) {
            f.add(new Object[] {k, Boolean.TRUE});
        }
    }

    static boolean canonicalU64(String s) {
        if (s.isEmpty() || s.length() > 20 || (s.length() > 1 && s.charAt(0) == '0')) {
            return false;
        }
        for (int k = 0; k < s.length(); k++) {
            char ch = s.charAt(k);
            if (ch < '0' || ch > '9') {
                return false;
            }
        }
        return new BigInteger(s).bitLength() <= 64;
    }

    /** toJson encodes c as one JSON object. */
    static String toJson(Command c) {
        StringBuilder b = new StringBuilder(128);
        b.append('{');
        boolean first = true;
        for (Object[] kv : fields(c)) {
            if (!first) {
                b.append(',');
            }
            first = false;
            quote(b, (String) kv[0]);
            b.append(':');
            Object v = kv[1];
            if (v instanceof String) {
                quote(b, (String) v);
            } else if (v instanceof U64) {
                b.append(((U64) v).text);
            } else if (v instanceof Long || v instanceof Boolean) {
                b.append(v);
            } else {
                b.append('[');
                boolean f2 = true;
                for (Object e : (List<?>) v) {
                    if (!f2) {
                        b.append(',');
                    }
                    f2 = false;
                    quote(b, (String) e);
                }
                b.append(']');
            }
        }
        return b.append('}').toString();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int k = 0; k < s.length(); k++) {
            char ch = s.charAt(k);
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\b': b.append("\\b"); break;
                case '\f': b.append("\\f"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                case '\u2028': b.append("\\u2028"); break;
                case '\u2029': b.append("\\u2029"); break;
                default:
                    if (ch < 0x20) {
                        b.append("\\u00").append(HEX[ch >> 4]).append(HEX[ch & 15]);
                    } else if (Character.isHighSurrogate(ch) && k + 1 < s.length()
                            && Character.isLowSurrogate(s.charAt(k + 1))) {
                        b.append(ch).append(s.charAt(++k));
                    } else if (Character.isSurrogate(ch)) {
                        b.append("\\ufffd");
                    } else {
                        b.append(ch);
                    }
            }
        }
        b.append('"');
    }

    /** toMsgpack encodes c as one msgpack map. */
    static byte[] toMsgpack(Command c) {
        List<Object[]> f = fields(c);
        try (MessageBufferPacker p = MessagePack.newDefaultBufferPacker()) {
            p.packMapHeader(f.size());
            for (Object[] kv : f) {
                p.packString((String) kv[0]);
                Object v = kv[1];
                if (v instanceof String) {
                    p.packString((String) v);
                } else if (v instanceof U64) {
                    p.packBigInteger(new BigInteger(((U64) v).text));
                } else if (v instanceof Long) {
                    p.packLong((Long) v);
                } else if (v instanceof Boolean) {
                    p.packBoolean((Boolean) v);
                } else {
                    List<?> l = (List<?>) v;
                    p.packArrayHeader(l.size());
                    for (Object e : l) {
                        p.packString((String) e);
                    }
                }
            }
            return p.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("msgpack encode", e); // in-memory buffer: cannot happen
        }
    }

    // ---- decoding -------------------------------------------------------

    /** fromJson decodes one JSON object. */
    static Command fromJson(String text) throws ProtocolException {
        Map<String, Object> m;
        try {
            JsonReader r = new JsonReader(new StringReader(text));
            // LEGACY_STRICT: lone surrogate escapes decode (and become U+FFFD
            // below); what it accepts beyond RFC 8259 is refused by strictText.
            r.setStrictness(Strictness.LEGACY_STRICT);
            strictText(text);
            if (r.peek() != JsonToken.BEGIN_OBJECT) {
                throw new ProtocolException("not a JSON object", false);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> obj = (Map<String, Object>) readJson(r, 0);
            m = obj;
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new ProtocolException("data after the JSON object", false);
            }
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw new ProtocolException("malformed JSON: " + e.getMessage(), false);
        }
        return fromMap(m);
    }

    /**
     * strictText refuses what Gson's LEGACY_STRICT accepts and RFC 8259 does
     * not: raw control characters and the escape \' inside strings.
     */
    private static void strictText(String text) throws ProtocolException {
        boolean in = false;
        for (int k = 0; k < text.length(); k++) {
            char ch = text.charAt(k);
            if (!in) {
                in = ch == '"';
                continue;
            }
            if (ch == '"') {
                in = false;
            } else if (ch < 0x20) {
                throw new ProtocolException("raw control character in a string", false);
            } else if (ch == '\\') {
                if (k + 1 < text.length() && text.charAt(k + 1) == '\'') {
                    throw new ProtocolException("invalid escape \\'", false);
                }
                k++;
            }
        }
    }

    private static Object readJson(JsonReader r, int depth) throws IOException, ProtocolException {
        if (depth > MAX_DEPTH) {
            throw new ProtocolException("nested too deep", false);
        }
        switch (r.peek()) {
            case BEGIN_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                r.beginObject();
                while (r.hasNext()) {
                    String k = fixSurrogates(r.nextName());
                    m.put(k, readJson(r, depth + 1));
                }
                r.endObject();
                return m;
            }
            case BEGIN_ARRAY: {
                List<Object> l = new ArrayList<>();
                r.beginArray();
                while (r.hasNext()) {
                    l.add(readJson(r, depth + 1));
                }
                r.endArray();
                return l;
            }
            case STRING:
                return fixSurrogates(r.nextString());
            case NUMBER:
                return new Num(r.nextString());
            case BOOLEAN:
                return r.nextBoolean();
            case NULL:
                r.nextNull();
                return null;
            default:
                throw new ProtocolException("unexpected JSON token " + r.peek(), false);
        }
    }

    private static String fixSurrogates(String s) {
        StringBuilder b = null;
        for (int k = 0; k < s.length(); k++) {
            char ch = s.charAt(k);
            boolean bad = false;
            if (Character.isHighSurrogate(ch)) {
                if (k + 1 < s.length() && Character.isLowSurrogate(s.charAt(k + 1))) {
                    if (b != null) {
                        b.append(ch).append(s.charAt(k + 1));
                    }
                    k++;
                    continue;
                }
                bad = true;
            } else if (Character.isLowSurrogate(ch)) {
                bad = true;
            }
            if (bad && b == null) {
                b = new StringBuilder(s.length());
                b.append(s, 0, k);
            }
            if (b != null) {
                b.append(bad ? '\ufffd' : ch);
            }
        }
        return b == null ? s : b.toString();
    }

    /** fromMsgpack decodes one msgpack map. */
    static Command fromMsgpack(byte[] data) throws ProtocolException {
        Map<String, Object> m;
        try (MessageUnpacker u = MessagePack.newDefaultUnpacker(data)) {
            if (!u.hasNext() || u.getNextFormat().getValueType() != ValueType.MAP) {
                throw new ProtocolException("not a msgpack map", false);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> obj = (Map<String, Object>) readMsgpack(u, 0, data.length);
            m = obj;
            if (u.hasNext()) {
                throw new ProtocolException("data after the msgpack map", false);
            }
        } catch (IOException | RuntimeException e) {
            throw new ProtocolException("malformed msgpack: " + e, false);
        }
        return fromMap(m);
    }

    private static Object readMsgpack(MessageUnpacker u, int depth, int size) throws IOException, ProtocolException {
        if (depth > MAX_DEPTH) {
            throw new ProtocolException("nested too deep", false);
        }
        MessageFormat f = u.getNextFormat();
        switch (f.getValueType()) {
            case NIL:
                u.unpackNil();
                return null;
            case BOOLEAN:
                return u.unpackBoolean();
            case INTEGER:
                if (f == MessageFormat.UINT64) {
                    BigInteger v = u.unpackBigInteger();
                    return v.bitLength() < 64 ? (Object) v.longValue() : v;
                }
                return u.unpackLong();
            case FLOAT:
                return u.unpackDouble();
            case STRING:
                return u.unpackString();
            case BINARY: {
                int n = u.unpackBinaryHeader();
                checkLen(n, u, size);
                return u.readPayload(n);
            }
            case EXTENSION: {
                int n = u.unpackExtensionTypeHeader().getLength();
                checkLen(n, u, size);
                return u.readPayload(n);
            }
            case ARRAY: {
                int n = u.unpackArrayHeader();
                checkLen(n, u, size);
                List<Object> l = new ArrayList<>(n);
                for (int k = 0; k < n; k++) {
                    l.add(readMsgpack(u, depth + 1, size));
                }
                return l;
            }
            case MAP: {
                int n = u.unpackMapHeader();
                checkLen(2L * n, u, size);
                Map<String, Object> m = new LinkedHashMap<>();
                for (int k = 0; k < n; k++) {
                    if (u.getNextFormat().getValueType() != ValueType.STRING) {
                        throw new ProtocolException("map key is not a string", false);
                    }
                    String key = u.unpackString();
                    m.put(key, readMsgpack(u, depth + 1, size));
                }
                return m;
            }
            default:
                throw new ProtocolException("unexpected msgpack type " + f, false);
        }
    }

    private static void checkLen(long n, MessageUnpacker u, int size) throws ProtocolException {
        if (n < 0 || n > size - u.getTotalReadBytes()) {
            throw new ProtocolException("declared length exceeds the frame", false);
        }
    }

    // ---- typed fields ---------------------------------------------------

    private static Command fromMap(Map<String, Object> m) throws ProtocolException {
        Command c = new Command();
        c.cmd = str(m, "cmd");
        if (c.cmd == null) {
            return c; // keepalive
        }
        boolean hasOp = "session".equals(c.cmd) || "room".equals(c.cmd);
        if (hasOp) {
            c.op = str(m, "op");
        }
        if (!known(c)) {
            throw new ProtocolException("unknown command " + c.kind(), true);
        }
        c.peerId = str(m, "peerId");
        c.appId = str(m, "appId");
        c.installationId = str(m, "installationId");
        c.sessionPeerIds = strList(m, "sessionPeerIds");
        c.onlineSessionPeerIds = strList(m, "onlineSessionPeerIds");
        c.status = str(m, "status");
        c.fromPeerId = str(m, "fromPeerId");
        c.toPeerIds = strList(m, "toPeerIds");
        c.roomId = str(m, "roomId");
        c.roomPeerIds = strList(m, "roomPeerIds");
        c.byPeerId = str(m, "byPeerId");
        c.msg = str(m, "msg");
        c.id = str(m, "id");
        c.ids = strList(m, "ids");
        c.uid = str(m, "uid");
        c.timestamp = integer(m, "timestamp");
        if (timeIsMs(c)) {
            c.timeMs = integer(m, "t");
        } else {
            c.sigTime = text(m, "t");
        }
        c.s = str(m, "s");
        c.n = text(m, "n");
        c.sp = bool(m, "sp");
        c.transientFlag = bool(m, "transient");
        Object r = m.get("r");
        c.r = Boolean.TRUE.equals(r) || (r instanceof Num && ((Num) r).text.equals("1"))
                || (r instanceof Long && (Long) r == 1L)
                || (r instanceof Double && (Double) r == 1.0);
        c.offline = bool(m, "offline");
        c.c = integer(m, "c");
        c.code = integer(m, "code");
        c.reason = str(m, "reason");
        c.i = integer(m, "i");
        return c;
    }

    private static final String[] KINDS = {
        "sessionopen", "sessionopened", "sessionadd", "sessionadded", "sessionremove", "sessionremoved",
        "sessionquery", "sessionquery-result", "sessionclose", "sessionclosed", "presence", "direct", "ack",
        "ackreq", "rcp", "roomjoin", "roomjoined", "roominvite", "roominvited", "roomkick", "roomkicked",
        "roomleave", "roomleft", "roommembers-joined", "roommembers-left", "roomreject", "login", "error",
    };

    private static boolean known(Command c) {
        String k = c.kind();
        for (String s : KINDS) {
            if (s.equals(k)) {
                return true;
            }
        }
        return false;
    }

    private static ProtocolException wrongType(String k) {
        return new ProtocolException("field " + k + " has the wrong type", false);
    }

    private static String str(Map<String, Object> m, String k) throws ProtocolException {
        Object v = m.get(k);
        if (v == null || v instanceof String) {
            return (String) v;
        }
        throw wrongType(k);
    }

    private static List<String> strList(Map<String, Object> m, String k) throws ProtocolException {
        Object v = m.get(k);
        if (v == null) {
            return null;
        }
        if (!(v instanceof List)) {
            throw wrongType(k);
        }
        List<String> out = new ArrayList<>();
        for (Object e : (List<?>) v) {
            if (e == null) {
                continue;
            }
            if (!(e instanceof String)) {
                throw wrongType(k);
            }
            out.add((String) e);
        }
        return out;
    }

    private static boolean bool(Map<String, Object> m, String k) throws ProtocolException {
        Object v = m.get(k);
        if (v == null || v instanceof Boolean) {
            return Boolean.TRUE.equals(v);
        }
        throw wrongType(k);
    }

    private static long integer(Map<String, Object> m, String k) throws ProtocolException {
        Object v = m.get(k);
        if (v == null) {
            return 0;
        }
        if (v instanceof Long) {
            return (Long) v;
        }
        if (v instanceof Num) {
            String t = ((Num) v).text;
            if (!t.matches("-?[0-9]+")) {
                throw wrongType(k);
            }
            try {
                return Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw wrongType(k);
            }
        }
        if (v instanceof Double) {
            double d = (Double) v;
            if (d == Math.rint(d) && !Double.isInfinite(d) && Math.abs(d) < 9.2e18) {
                return (long) d;
            }
        }
        throw wrongType(k);
    }

    /** text reads a field kept as text: t (signature time) and n. */
    private static String text(Map<String, Object> m, String k) throws ProtocolException {
        Object v = m.get(k);
        if (v == null || v instanceof String) {
            return (String) v;
        }
        if (v instanceof Num) {
            return ((Num) v).text;
        }
        if (v instanceof Long || v instanceof BigInteger) {
            return v.toString();
        }
        if (v instanceof Double) {
            return new BigDecimal(Double.toString((Double) v)).stripTrailingZeros().toPlainString();
        }
        throw wrongType(k);
    }
}
