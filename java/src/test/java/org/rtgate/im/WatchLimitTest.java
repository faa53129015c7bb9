package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An open whose watch list is over the server's bound is refused with
 * close 4110: the SDK reports it once through onError and does not retry,
 * and other sessions are untouched.
 */
class WatchLimitTest {
    static RtgateServer server;
    static Path config;

    @BeforeAll
    static void start() throws Exception {
        config = Files.createTempFile("rtgate-java-watch-", ".json");
        Files.write(config, "{\"limits\": {\"maxWatchPerConn\": 3}}".getBytes(StandardCharsets.UTF_8));
        server = RtgateServer.start("--config", config.toString());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        Files.deleteIfExists(config);
    }

    /** closes4110 reads rtgate_core_closes_total{code="4110"} from /metrics. */
    static int closes4110() throws Exception {
        try (InputStream in = new URL(server.base() + "/metrics").openStream()) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            for (String line : text.split("\n")) {
                if (line.startsWith("rtgate_core_closes_total{code=\"4110\"}")) {
                    return (int) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            return 0;
        }
    }

    @Test
    void openOverTheWatchBoundIsRefused() throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = RealtimeConfig.builder(server.base(), "dev").messageReceiver(rec).build();
        SessionManager ok = SessionManager.getInstance(cfg, "wl-ok");
        ok.open(Arrays.asList("a", "b"));
        rec.await("open", "wl-ok");

        SessionManager greedy = SessionManager.getInstance(cfg, "wl-greedy");
        greedy.open(Arrays.asList("a", "b", "c", "d", "e"));
        Recorder.Event err = rec.await("error", "wl-greedy");
        assertTrue(err.error instanceof RealtimeException, "error " + err.error);
        assertEquals(RealtimeException.TOO_MANY_WATCHES, ((RealtimeException) err.error).getCode(), "error " + err.error);
        assertFalse(greedy.isOpen());
        // Not retried: a retry (the first after 200 ms) would be refused
        // again and counted by the server.
        Thread.sleep(2000);
        assertEquals(1, closes4110(), "4110 closes counted by the server");

        // The session within the bound still works.
        SessionManager other = SessionManager.getInstance(cfg, "a");
        other.open(Arrays.asList("wl-ok"));
        rec.await("open", "a");
        ok.sendMessage(new AVMessage("still here", Arrays.asList("a"), false));
        rec.message("a", "still here");
        ok.close();
        other.close();
    }
}
