package org.rtgate.im;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A peer in another process speaking JSON lines (test/browser/gopeer and
 * legacy-peer.js): call(op, fields) writes {"seq":N,"op":..} and waits for
 * the line with that seq; lines without seq are events.
 */
final class LinePeer implements AutoCloseable {
    private final Process proc;
    private final Writer in;
    private final List<JsonObject> lines = new ArrayList<>();
    private final StringBuffer stderr = new StringBuffer();
    private int seq;
    private final List<JsonObject> taken = new ArrayList<>();

    LinePeer(List<String> cmd) throws IOException {
        proc = new ProcessBuilder(cmd).start();
        in = new OutputStreamWriter(proc.getOutputStream(), StandardCharsets.UTF_8);
        Thread out = new Thread(() -> read(new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8)), true));
        Thread err = new Thread(() -> read(new BufferedReader(new InputStreamReader(proc.getErrorStream(), StandardCharsets.UTF_8)), false));
        out.setDaemon(true);
        err.setDaemon(true);
        out.start();
        err.start();
    }

    private void read(BufferedReader r, boolean json) {
        try {
            String line;
            while ((line = r.readLine()) != null) {
                if (!json) {
                    stderr.append(line).append('\n');
                    continue;
                }
                JsonObject o;
                try {
                    o = JsonParser.parseString(line).getAsJsonObject();
                } catch (RuntimeException e) {
                    stderr.append("non-JSON stdout: ").append(line).append('\n');
                    continue;
                }
                synchronized (this) {
                    lines.add(o);
                    notifyAll();
                }
            }
        } catch (IOException e) {
            // process ended
        }
        synchronized (this) {
            notifyAll();
        }
    }

    /** call sends op with fields and returns the reply; a reply with "error" fails the test. */
    JsonObject call(String op, Map<String, Object> fields) throws Exception {
        JsonObject req = new Gson().toJsonTree(fields).getAsJsonObject();
        final int s;
        synchronized (this) {
            s = ++seq;
        }
        req.addProperty("seq", s);
        req.addProperty("op", op);
        synchronized (in) {
            in.write(req.toString() + "\n");
            in.flush();
        }
        JsonObject reply = await(o -> o.has("seq") && o.get("seq").getAsInt() == s, 15_000, op);
        if (reply.has("error")) {
            throw new AssertionError(op + ": " + reply.get("error").getAsString() + "\nstderr: " + stderr);
        }
        return reply;
    }

    /** event waits for an event line (ev = name) matching pred, not returned before. */
    JsonObject event(String name, Predicate<JsonObject> pred) throws InterruptedException {
        return await(o -> o.has("ev") && o.get("ev").getAsString().equals(name) && pred.test(o), 10_000, "event " + name);
    }

    private synchronized JsonObject await(Predicate<JsonObject> pred, long ms, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (true) {
            for (JsonObject o : lines) {
                if (pred.test(o) && taken.stream().noneMatch(x -> x == o)) {
                    taken.add(o);
                    return o;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || (!proc.isAlive() && left > 0 && lines.isEmpty())) {
                throw new AssertionError("timed out waiting for " + what + "; lines: " + lines + "\nstderr: " + stderr);
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    @Override
    public void close() throws Exception {
        try {
            in.close();
        } catch (IOException e) {
            // already gone
        }
        if (!proc.waitFor(10, TimeUnit.SECONDS)) {
            proc.destroyForcibly();
            proc.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
