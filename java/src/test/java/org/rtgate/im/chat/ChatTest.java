package org.rtgate.im.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.rtgate.im.RtgateServer;

/** Two command-line chats talk through a real rtgate: direct, group, history, quit. */
class ChatTest {
    /** A chat running Chat.run on its own thread, with its stdin and stdout in memory. */
    static final class Term implements AutoCloseable {
        final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        final Writer in;
        final Future<Integer> done;

        Term(ExecutorService pool, String... args) throws Exception {
            PipedOutputStream pipe = new PipedOutputStream();
            BufferedReader r = new BufferedReader(new InputStreamReader(new PipedInputStream(pipe, 65536), StandardCharsets.UTF_8));
            in = new OutputStreamWriter(pipe, StandardCharsets.UTF_8);
            PrintStream out = new PrintStream(buf, true, "UTF-8");
            done = pool.submit(() -> Chat.run(args, r, out));
        }

        void type(String line) throws Exception {
            in.write(line + "\n");
            in.flush();
        }

        String output() {
            synchronized (buf) {
                return new String(buf.toByteArray(), StandardCharsets.UTF_8);
            }
        }

        /** expect waits (5 s) for a line of output equal to want; returns the output. */
        String expect(String want) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (true) {
                String o = output();
                for (String l : o.split("\n")) {
                    if (l.equals(want)) {
                        return o;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no line \"" + want + "\" in:\n" + o);
                }
                Thread.sleep(10);
            }
        }

        /** line returns the first output line starting with prefix (waiting up to 5 s). */
        String line(String prefix) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (true) {
                for (String l : output().split("\n")) {
                    if (l.startsWith(prefix)) {
                        return l;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no line starting \"" + prefix + "\" in:\n" + output());
                }
                Thread.sleep(10);
            }
        }

        @Override
        public void close() throws Exception {
            type("/quit");
            assertEquals(0, (int) done.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void twoChats() throws Exception {
        ExecutorService pool = Executors.newCachedThreadPool();
        try (RtgateServer server = RtgateServer.start();
                Term ann = new Term(pool, "--server", server.base(), "--app", "dev", "--peer", "ann", "--watch", "ben");
                Term ben = new Term(pool, "--server", server.base(), "--app", "dev", "--peer", "ben", "--watch", "ann",
                        "--dialect", "msgpack")) {
            ann.expect("* open as ann");
            ben.expect("* open as ben");
            ann.expect("* online [ben]");
            ann.type("hi ben");
            ben.expect("ann: hi ben");
            ben.type("hi ann");
            ann.expect("ben: hi ann");
            ann.type("/create");
            String gid = ann.line("* joined group ").substring("* joined group ".length());
            ann.type("/invite " + gid + " ben");
            ben.expect("* ann added you to group " + gid);
            ben.type("/join " + gid);
            ben.expect("* joined group " + gid);
            ben.type("group hello");
            ann.expect("[" + gid + "] ben: group hello");
            ann.type("/to ben");
            ann.type("/history");
            ann.expect("  " + ann.line("  [").substring(2));
            String h = ann.output();
            int a = h.indexOf("ann: hi ben"), b = h.indexOf("ben: hi ann", a + 1);
            assertEquals(true, a > 0 && b > a, "history in order:\n" + h);
            ben.type("/nonsense");
            ben.line("! commands:");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void usage() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code = Chat.run(new String[] {"--bogus"}, new BufferedReader(new InputStreamReader(System.in)), new PrintStream(buf, true, "UTF-8"));
        assertEquals(2, code);
    }
}
