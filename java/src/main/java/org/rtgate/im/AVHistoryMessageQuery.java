package org.rtgate.im;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * A query of the message history ({@code GET /1.1/rtm/messages/logs},
 * spec/rest.md): one conversation, newest first. Get one from
 * {@link SessionManager#getHistoryMessageQuery(List)} or
 * {@link Group#getHistoryMessageQuery()}. Not thread-safe; one query per use.
 */
public final class AVHistoryMessageQuery {
    private final RealtimeConfig config;
    private final String convid;
    private int limit;
    private long timestamp;
    private String messageId;

    AVHistoryMessageQuery(RealtimeConfig config, String convid) {
        this.config = config;
        this.convid = convid;
    }

    /** The conversation id of peers: md5 of the sorted unique ids joined by ":" (protocol-v1.md §7.3). */
    public static String conversationId(List<String> peers) {
        List<String> sorted = new ArrayList<>(new TreeSet<>(peers));
        StringBuilder b = new StringBuilder();
        for (String p : sorted) {
            if (b.length() > 0) {
                b.append(':');
            }
            b.append(p);
        }
        try {
            byte[] d = MessageDigest.getInstance("MD5").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            StringBuilder h = new StringBuilder();
            for (byte x : d) {
                h.append(String.format("%02x", x & 0xff));
            }
            return h.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public String getConversationId() {
        return convid;
    }

    /** At most this many records (server default 100, max 1000). */
    public AVHistoryMessageQuery setLimit(int limit) {
        this.limit = limit;
        return this;
    }

    /** Only records before this time in ms (exclusive; for paging, with {@link #setMessageId}). */
    public AVHistoryMessageQuery setTimestamp(long ms) {
        this.timestamp = ms;
        return this;
    }

    /** With setTimestamp: also records at exactly that time whose id sorts before this one. */
    public AVHistoryMessageQuery setMessageId(String id) {
        this.messageId = id;
        return this;
    }

    private Request request() throws IOException {
        String server = config.server;
        if (server.startsWith("ws")) {
            server = "http" + server.substring(2);
        }
        HttpUrl base = HttpUrl.parse(server.replaceAll("/+$", "") + "/1.1/rtm/messages/logs");
        if (base == null) {
            throw new IOException("bad server URL " + config.server);
        }
        HttpUrl.Builder u = base.newBuilder().addQueryParameter("convid", convid);
        if (limit > 0) {
            u.addQueryParameter("limit", Integer.toString(limit));
        }
        if (timestamp > 0) {
            u.addQueryParameter("max_ts", Long.toString(timestamp));
        }
        if (messageId != null) {
            u.addQueryParameter("msgid", messageId);
        }
        Request.Builder rb = new Request.Builder().url(u.build()).header("X-LC-Id", config.appId);
        if (config.appKey != null) {
            rb.header("X-LC-Key", config.appKey);
        }
        return rb.build();
    }

    /** find runs the query on the calling thread (never on Android's main thread). */
    public List<AVHistoryMessage> find() throws IOException {
        try (Response res = config.http.newCall(request()).execute()) {
            return parse(res);
        }
    }

    /** The answer of {@link #findInBackground}, on the config's callback executor. */
    public interface Callback2 {
        void done(List<AVHistoryMessage> messages, IOException e);
    }

    /** findInBackground runs the query on OkHttp's threads and answers on the callback executor. */
    public void findInBackground(final Callback2 cb) {
        final Request req;
        try {
            req = request();
        } catch (IOException e) {
            config.callbackExecutor.execute(() -> cb.done(null, e));
            return;
        }
        config.http.newCall(req).enqueue(new Callback() {
            @Override
            public void onFailure(Call call, IOException e) {
                config.callbackExecutor.execute(() -> cb.done(null, e));
            }

            @Override
            public void onResponse(Call call, Response res) {
                List<AVHistoryMessage> l = null;
                IOException err = null;
                try {
                    l = parse(res);
                } catch (IOException e) {
                    err = e;
                } finally {
                    res.close();
                }
                final List<AVHistoryMessage> fl = l;
                final IOException fe = err;
                config.callbackExecutor.execute(() -> cb.done(fl, fe));
            }
        });
    }

    private static List<AVHistoryMessage> parse(Response res) throws IOException {
        ResponseBody body = res.body();
        String text = body == null ? "" : body.string();
        if (!res.isSuccessful()) {
            throw new IOException("history query answered " + res.code() + ": " + text);
        }
        try {
            JsonArray a = JsonParser.parseString(text).getAsJsonArray();
            List<AVHistoryMessage> out = new ArrayList<>(a.size());
            for (JsonElement e : a) {
                JsonObject o = e.getAsJsonObject();
                boolean room = o.has("is-room") && o.get("is-room").getAsBoolean();
                List<String> to = new ArrayList<>();
                String group = null;
                JsonElement t = o.get("to");
                if (room) {
                    group = o.has("conv-id") ? o.get("conv-id").getAsString() : null;
                } else if (t != null && t.isJsonArray()) {
                    for (JsonElement x : t.getAsJsonArray()) {
                        to.add(x.getAsString());
                    }
                } else if (t != null && t.isJsonPrimitive()) {
                    to = Collections.singletonList(t.getAsString());
                }
                out.add(new AVHistoryMessage(str(o, "msg-id"), str(o, "conv-id"), str(o, "from"), to, group,
                        str(o, "data"), o.has("timestamp") ? o.get("timestamp").getAsLong() : 0));
            }
            return out;
        } catch (RuntimeException e) {
            throw new IOException("bad history answer: " + text, e);
        }
    }

    private static String str(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }
}
