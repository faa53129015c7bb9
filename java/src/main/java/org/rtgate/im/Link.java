package org.rtgate.im;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Level;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;

/**
 * One session's WebSocket: the router request, the dial with the dialect's
 * subprotocol, encoding and decoding. Every event is posted to the
 * session's loop thread, tagged with the connection's generation so that
 * events of an old connection are dropped. All methods but the OkHttp
 * listener run on the loop thread.
 */
final class Link {
    /** What the session hears from the link, on its loop thread. */
    interface Events {
        void onOpen();

        void onCommand(Command c);

        /** The connection failed or closed (code 0 when there was no close frame). Called once per connect. */
        void onLost(int code, String reason, Throwable cause);
    }

    private final RealtimeConfig config;
    private final ScheduledExecutorService loop;
    private final Events events;
    private WebSocket ws; // owned by the loop thread
    private int gen; // owned by the loop thread

    Link(RealtimeConfig config, ScheduledExecutorService loop, Events events) {
        this.config = config;
        this.loop = loop;
        this.events = events;
    }

    /** connect asks the router (on io) for the WebSocket URL and dials it. */
    void connect(Executor io) {
        final int g = ++gen;
        io.execute(() -> {
            try {
                final String url = route();
                loop.execute(() -> {
                    if (g == gen) {
                        dial(url, g);
                    }
                });
            } catch (IOException | RuntimeException e) {
                loop.execute(() -> {
                    if (g == gen) {
                        gen++;
                        events.onLost(0, null, e);
                    }
                });
            }
        });
    }

    /** route returns the WebSocket URL: the configured ws:// URL, or the router's answer. */
    private String route() throws IOException {
        String s = config.server;
        if (s.startsWith("ws://") || s.startsWith("wss://")) {
            return s;
        }
        HttpUrl base = HttpUrl.parse(s + "/v1/route");
        if (base == null) {
            throw new IOException("bad server URL " + s);
        }
        HttpUrl.Builder u = base.newBuilder().addQueryParameter("appId", config.appId);
        if (base.isHttps()) {
            u.addQueryParameter("secure", "1");
        }
        Request req = new Request.Builder().url(u.build()).build();
        try (Response res = config.http.newCall(req).execute()) {
            ResponseBody body = res.body();
            String text = body == null ? "" : body.string();
            if (!res.isSuccessful()) {
                throw new IOException("router answered " + res.code() + ": " + text);
            }
            JsonObject o = JsonParser.parseString(text).getAsJsonObject();
            if (!o.has("server")) {
                throw new IOException("router answer without server: " + text);
            }
            return o.get("server").getAsString();
        } catch (IllegalStateException | com.google.gson.JsonParseException e) {
            throw new IOException("bad router answer", e);
        }
    }

    private void dial(String url, final int g) {
        Request.Builder rb = new Request.Builder().url(url);
        final String sub = config.dialect.subprotocol();
        if (sub != null) {
            rb.header("Sec-WebSocket-Protocol", sub);
        }
        ws = config.http.newWebSocket(rb.build(), new WebSocketListener() {
            @Override
            public void onOpen(WebSocket w, Response response) {
                final String got = response.header("Sec-WebSocket-Protocol");
                loop.execute(() -> {
                    if (g != gen) {
                        return;
                    }
                    if (sub != null && !sub.equals(got)) {
                        lostNow(0, "the server did not accept subprotocol " + sub, null);
                        return;
                    }
                    events.onOpen();
                });
            }

            @Override
            public void onMessage(WebSocket w, String text) {
                deliver(g, text, null);
            }

            @Override
            public void onMessage(WebSocket w, ByteString bytes) {
                deliver(g, null, bytes.toByteArray());
            }

            @Override
            public void onClosing(WebSocket w, int code, String reason) {
                w.close(1000, null);
                loop.execute(() -> {
                    if (g == gen) {
                        lostNow(code, reason, null);
                    }
                });
            }

            @Override
            public void onClosed(WebSocket w, int code, String reason) {
                loop.execute(() -> {
                    if (g == gen) {
                        lostNow(code, reason, null);
                    }
                });
            }

            @Override
            public void onFailure(WebSocket w, Throwable t, Response response) {
                loop.execute(() -> {
                    if (g == gen) {
                        lostNow(0, null, t);
                    }
                });
            }
        });
    }

    private void deliver(final int g, String text, byte[] bytes) {
        final Command c;
        try {
            c = text != null ? Codec.fromJson(text) : Codec.fromMsgpack(bytes);
        } catch (Codec.ProtocolException e) {
            config.logger.log(e.unknown ? Level.FINE : Level.WARNING, "rtgate: dropped a frame: " + e.getMessage());
            return;
        }
        loop.execute(() -> {
            if (g == gen) {
                events.onCommand(c);
            }
        });
    }

    private void lostNow(int code, String reason, Throwable cause) {
        if (ws != null) {
            ws.cancel();
            ws = null;
        }
        gen++;
        events.onLost(code, reason, cause);
    }

    /** send writes one command; false when there is no connection or it is closing. */
    boolean send(Command c) {
        if (ws == null) {
            return false;
        }
        if (config.dialect == RealtimeConfig.Dialect.MSGPACK) {
            return ws.send(ByteString.of(Codec.toMsgpack(c)));
        }
        return ws.send(Codec.toJson(c));
    }

    /** close closes the connection (queued frames are written first); no onLost follows. */
    void close(int code, String reason) {
        gen++;
        if (ws != null) {
            if (!ws.close(code, reason)) {
                ws.cancel();
            }
            ws = null;
        }
    }
}
