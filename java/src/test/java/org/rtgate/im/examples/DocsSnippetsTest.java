package org.rtgate.im.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Collections;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.rtgate.im.AVOSCloud;
import org.rtgate.im.Group;
import org.rtgate.im.RealtimeConfig;
import org.rtgate.im.RtgateServer;
import org.rtgate.im.SessionManager;

/**
 * Runs the docs' snippets (DocsSnippets, with the docs' receivers) against
 * a real rtgate whose app requires signatures, so SomeSignatureFactory is
 * used for open, watch, join, invite and kick.
 */
class DocsSnippetsTest {
    @Test
    void snippetsChat() throws Exception {
        try (RtgateServer server = RtgateServer.start("--app", "docs:docskey:docsmaster", "--signatures")) {
            // What the docs left to the manifest: where the server is, and the receivers.
            SessionManager.initialize(RealtimeConfig.builder(server.base(), "docs").appKey("docskey")
                    .messageReceiver(new ChatDemoMessageReceiver())
                    .groupMessageReceiver(new ChatDemoGroupMessageReceiver()).build());
            assertEquals("docs", AVOSCloud.applicationId);
            SomeSignatureFactory.serverMasterKey = "docsmaster";

            DocsSnippets.open("bob", Collections.<String>emptyList());
            ChatLog.await("bob open", 5000);
            DocsSnippets.open("alice", Arrays.asList("bob"));
            ChatLog.await("alice open", 5000);
            ChatLog.await("alice online [bob]", 5000);
            DocsSnippets.send("alice", "hello bob", Arrays.asList("bob"), false);
            ChatLog.await("alice sent hello bob", 5000);
            ChatLog.await("bob got hello bob from alice", 5000);
            DocsSnippets.unwatch("alice", Arrays.asList("bob"));
            DocsSnippets.watch("alice", Arrays.asList("bob"));
            DocsSnippets.send("alice", "still there?", Arrays.asList("bob"), true);
            ChatLog.await("bob got still there? from alice", 5000);

            for (String p : Arrays.asList("peerId1", "peerId2", "peerId3", "badBoy1", "badBoy2")) {
                DocsSnippets.open(p, Collections.<String>emptyList());
                ChatLog.await(p + " open", 5000);
            }
            Group group = DocsSnippets.createGroup("alice");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (group.getGroupId() == null && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            String gid = group.getGroupId();
            ChatLog.await("alice joined " + gid, 5000);
            DocsSnippets.joinGroup("badBoy1", gid);
            DocsSnippets.joinGroup("badBoy2", gid);
            ChatLog.await("badBoy2 joined " + gid, 5000);
            DocsSnippets.inviteAndKick("alice", gid);
            ChatLog.await("peerId1 invited to " + gid + " by alice", 5000);
            ChatLog.await("badBoy1 kicked from " + gid + " by alice", 5000);
            ChatLog.await("badBoy2 kicked from " + gid + " by alice", 5000);
            ChatLog.await("alice sees [badBoy1, badBoy2] leave " + gid, 5000);
            DocsSnippets.sendToGroup("alice", gid);
            ChatLog.await("alice sent hello world to " + gid, 5000);
            for (String p : Arrays.asList("peerId1", "peerId2", "peerId3")) {
                ChatLog.await(p + " got hello world in " + gid + " from alice", 5000);
            }
            for (String p : Arrays.asList("alice", "bob", "peerId1", "peerId2", "peerId3", "badBoy1", "badBoy2")) {
                SessionManager.getInstance(p).close();
            }
        }
    }
}
