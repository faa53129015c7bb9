package org.rtgate.im;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SessionTest {
    static RtgateServer server;

    @BeforeAll
    static void start() throws Exception {
        server = RtgateServer.start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void openSendReceive() throws Exception {
        Recorder rec = new Recorder();
        RealtimeConfig cfg = RealtimeConfig.builder(server.base(), "dev").messageReceiver(rec).build();
        SessionManager alice = SessionManager.getInstance(cfg, "alice");
        SessionManager bob = SessionManager.getInstance(cfg, "bob");
        bob.open(Collections.<String>emptyList());
        rec.await("open", "bob");
        alice.open(Arrays.asList("bob"));
        rec.await("open", "alice");
        assertEquals(Arrays.asList("bob"), rec.await("online", "alice").peers);
        alice.sendMessage(new AVMessage("hello bob", Arrays.asList("bob"), false));
        Recorder.Event sent = rec.await("sent", "alice");
        assertNotNull(sent.msg.getMessageId());
        Recorder.Event got = rec.message("bob", "hello bob");
        assertEquals("alice", got.msg.getFromPeerId());
        assertEquals(sent.msg.getMessageId(), got.msg.getMessageId());
        assertFalse(got.msg.isOffline());
        assertTrue(got.msg.getTimestamp() > 0);
        alice.close();
        bob.close();
        rec.await("closed", "alice");
        rec.await("closed", "bob");
    }
}
