package org.rtgate.im;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real rtgate binary as a child process: $RTGATE_BIN, or built once with
 * {@code go build ./cmd/rtgate} from the repository root. Listens on
 * 127.0.0.1 port 0 (or the given address for a restart) with a fresh Badger
 * data dir; {@link #start} returns once the log says where it listens.
 */
public final class RtgateServer implements AutoCloseable {
    public static final Path REPO = Path.of(System.getProperty("user.dir")).getParent();
    private static Path built;

    private static final Pattern HTTP = Pattern.compile("rtgate listening on http://(\\S+)");
    private static final Pattern QUIC = Pattern.compile("rtgate QUIC on (\\S+) .*certificate sha256 ([0-9a-f]+)");

    final Path data;
    final List<String> extra;
    final boolean quic;
    String addr;
    String quicAddr;
    String certSha256;
    private Process proc;
    private final StringBuffer log = new StringBuffer();

    private RtgateServer(Path data, boolean quic, List<String> extra) {
        this.data = data;
        this.quic = quic;
        this.extra = extra;
    }

    static synchronized Path binary() throws IOException, InterruptedException {
        String env = System.getenv("RTGATE_BIN");
        if (env != null && !env.isEmpty()) {
            return Path.of(env);
        }
        if (built == null) {
            Path dir = Files.createTempDirectory("rtgate-java-bin-");
            Path bin = dir.resolve("rtgate");
            run(REPO.toFile(), 300, "go", "build", "-o", bin.toString(), "./cmd/rtgate");
            built = bin;
        }
        return built;
    }

    static void run(File dir, int seconds, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir).inheritIO().start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " timed out");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue());
        }
    }

    /** start runs rtgate with extra flags (e.g. --app id:key:master --signatures) and no QUIC. */
    public static RtgateServer start(String... extra) throws Exception {
        return start(false, extra);
    }

    /** start runs rtgate; quic = true also listens for QUIC on a free UDP port. */
    static RtgateServer start(boolean quic, String... extra) throws Exception {
        RtgateServer s = new RtgateServer(Files.createTempDirectory("rtgate-java-data-"), quic, Arrays.asList(extra));
        s.launch("127.0.0.1:0");
        return s;
    }

    private void launch(String listen) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.addAll(Arrays.asList("--listen", listen, "--quic", quic ? "127.0.0.1:0" : "off", "--data", data.toString()));
        cmd.addAll(extra);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("RTGATE_CONFIG", "");
        pb.environment().put("RTGATE_APPS", "");
        pb.environment().put("RTGATE_PUBLIC_URL", "");
        final int from = log.length();
        proc = pb.start();
        final Process p = proc;
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (log) {
                        log.append(line).append('\n');
                        log.notifyAll();
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        }, "rtgate-log");
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        synchronized (log) {
            while (true) {
                String text = log.substring(from);
                Matcher h = HTTP.matcher(text);
                Matcher q = QUIC.matcher(text);
                if (h.find() && (!quic || q.find())) {
                    addr = h.group(1);
                    if (quic) {
                        quicAddr = q.group(1);
                        certSha256 = q.group(2);
                    }
                    return;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || !p.isAlive()) {
                    p.destroyForcibly();
                    throw new IOException("rtgate did not start:\n" + log);
                }
                log.wait(Math.max(1, Math.min(200, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
    }

    /** The router/REST base URL. */
    public String base() {
        return "http://" + addr;
    }

    String output() {
        return log.toString();
    }

    /** kill sends SIGKILL and waits for the process to end. */
    void kill() throws InterruptedException {
        proc.toHandle().destroyForcibly();
        proc.waitFor(10, TimeUnit.SECONDS);
    }

    /** restart starts the server again on the same address and data dir (after kill). */
    void restart() throws Exception {
        launch(addr);
    }

    /** close stops the server with SIGTERM and returns its exit code (SIGKILL after 10 s). */
    int stop() throws InterruptedException {
        if (proc == null) {
            return 0;
        }
        if (!proc.isAlive()) {
            return proc.exitValue();
        }
        // ProcessHandle.destroy sends SIGTERM only; Process.destroy would also
        // close our end of its stdout, and its last log lines would kill it
        // with SIGPIPE.
        proc.toHandle().destroy();
        if (!proc.waitFor(10, TimeUnit.SECONDS)) {
            proc.toHandle().destroyForcibly();
            proc.waitFor(5, TimeUnit.SECONDS);
            return -1;
        }
        return proc.exitValue();
    }

    @Override
    public void close() throws Exception {
        int code = stop();
        deleteTree(data);
        if (code != 0) {
            throw new AssertionError("rtgate exited " + code + " after SIGTERM:\n" + output());
        }
    }

    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        }
    }
}
