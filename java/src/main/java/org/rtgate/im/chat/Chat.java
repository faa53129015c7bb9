package org.rtgate.im.chat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.rtgate.im.AVGroupMessage;
import org.rtgate.im.AVGroupMessageReceiver;
import org.rtgate.im.AVHistoryMessage;
import org.rtgate.im.AVMessage;
import org.rtgate.im.AVMessageReceiver;
import org.rtgate.im.Context;
import org.rtgate.im.Group;
import org.rtgate.im.MasterKeySignatureFactory;
import org.rtgate.im.RealtimeConfig;
import org.rtgate.im.Session;
import org.rtgate.im.SessionManager;

/**
 * A small terminal chat on the SDK, like cmd/rtchat:
 *
 * <pre>
 * java -cp 'java/target/classes:java/target/dependency/*' org.rtgate.im.chat.Chat \
 *     --server http://127.0.0.1:8080 --app dev --peer alice --watch bob [--dialect msgpack]
 * </pre>
 *
 * Lines read from stdin: {@code /to bob[,carol]} (talk to these peers),
 * {@code /watch bob}, {@code /unwatch bob}, {@code /online},
 * {@code /create}, {@code /join <group>} (and talk to it),
 * {@code /invite <group> bob}, {@code /kick <group> bob}, {@code /leave <group>},
 * {@code /history}, {@code /quit}; anything else is a message to the
 * current target. Every event is printed. {@code --master-key} signs
 * locally (for a server whose app requires signatures; never in an app).
 */
public final class Chat {
    private final PrintStream out;
    private SessionManager session;
    private List<String> to = new ArrayList<>();
    private Group group;

    private Chat(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.exit(run(args, in, System.out));
    }

    /** run runs a chat reading in and printing to out; it returns the exit status. */
    public static int run(String[] args, BufferedReader in, PrintStream out) throws IOException {
        String server = "http://127.0.0.1:8080", app = "dev", peer = null, watch = "", dialect = "v1", master = null;
        for (int k = 0; k < args.length; k++) {
            String a = args[k];
            String v = k + 1 < args.length ? args[k + 1] : null;
            switch (a) {
                case "--server": server = v; k++; break;
                case "--app": app = v; k++; break;
                case "--peer": peer = v; k++; break;
                case "--watch": watch = v; k++; break;
                case "--dialect": dialect = v; k++; break;
                case "--master-key": master = v; k++; break;
                default:
                    out.println("usage: Chat --server URL --app ID --peer ME [--watch a,b] [--dialect v1|json|msgpack] [--master-key K]");
                    return 2;
            }
        }
        if (peer == null || server == null || app == null) {
            out.println("--peer is required");
            return 2;
        }
        RealtimeConfig.Dialect d;
        switch (dialect == null ? "" : dialect) {
            case "v1": d = RealtimeConfig.Dialect.V1_JSON; break;
            case "json": d = RealtimeConfig.Dialect.JSON; break;
            case "msgpack": d = RealtimeConfig.Dialect.MSGPACK; break;
            default:
                out.println("--dialect must be v1, json or msgpack");
                return 2;
        }
        Chat c = new Chat(out);
        RealtimeConfig cfg = RealtimeConfig.builder(server, app).dialect(d)
                .messageReceiver(c.new Printer()).groupMessageReceiver(c.new GroupPrinter()).build();
        c.session = SessionManager.getInstance(cfg, peer);
        if (master != null) {
            c.session.setSignatureFactory(new MasterKeySignatureFactory(app, master));
        }
        c.to = split(watch);
        c.session.open(c.to);
        String line;
        while ((line = in.readLine()) != null) {
            if (!c.command(line.trim())) {
                break;
            }
        }
        c.session.close();
        return 0;
    }

    private static List<String> split(String s) {
        List<String> l = new ArrayList<>();
        for (String p : s.split(",")) {
            if (!p.trim().isEmpty()) {
                l.add(p.trim());
            }
        }
        return l;
    }

    /** command handles one input line; false ends the chat. */
    private boolean command(String line) {
        if (line.isEmpty()) {
            return true;
        }
        if (!line.startsWith("/")) {
            if (group != null) {
                group.sendMessage(new AVGroupMessage(line));
            } else if (to.isEmpty()) {
                out.println("! no target: /to peer or /join group");
            } else {
                session.sendMessage(new AVMessage(line, to));
            }
            return true;
        }
        String[] w = line.split("\\s+", 3);
        String arg = w.length > 1 ? w[1] : "";
        String arg2 = w.length > 2 ? w[2] : "";
        switch (w[0]) {
            case "/quit":
                return false;
            case "/to":
                to = split(arg);
                group = null;
                out.println("* talking to " + to);
                break;
            case "/watch":
                session.watchPeers(split(arg));
                break;
            case "/unwatch":
                session.unwatchPeers(split(arg));
                break;
            case "/online":
                out.println("* online: " + session.getOnlinePeers());
                break;
            case "/create":
                group = session.getGroup();
                group.join();
                break;
            case "/join":
                group = session.getGroup(arg);
                group.join();
                break;
            case "/invite":
                session.getGroup(arg).inviteMember(split(arg2));
                break;
            case "/kick":
                session.getGroup(arg).kickMembers(split(arg2));
                break;
            case "/leave":
                session.getGroup(arg).quit();
                if (group != null && arg.equals(group.getGroupId())) {
                    group = null;
                }
                break;
            case "/history":
                try {
                    List<AVHistoryMessage> h = group != null ? group.getHistoryMessageQuery().setLimit(20).find()
                            : session.getHistoryMessageQuery(to).setLimit(20).find();
                    Collections.reverse(h);
                    for (AVHistoryMessage m : h) {
                        out.println("  [" + m.getTimestamp() + "] " + m.getFromPeerId() + ": " + m.getMessage());
                    }
                } catch (IOException e) {
                    out.println("! history: " + e.getMessage());
                }
                break;
            default:
                out.println("! commands: /to /watch /unwatch /online /create /join /invite /kick /leave /history /quit");
        }
        return true;
    }

    private final class Printer extends AVMessageReceiver {
        @Override
        public void onSessionOpen(Context context, Session s) {
            out.println("* open as " + s.getSelfPeerId());
        }

        @Override
        public void onSessionPaused(Context context, Session s) {
            out.println("* paused (reconnecting)");
        }

        @Override
        public void onSessionResumed(Context context, Session s) {
            out.println("* resumed");
        }

        @Override
        public void onMessage(Context context, Session s, AVMessage m) {
            out.println(m.getFromPeerId() + ": " + m.getMessage() + (m.isOffline() ? " (offline)" : ""));
        }

        @Override
        public void onMessageSent(Context context, Session s, AVMessage m) {
            out.println("* sent " + (m.getMessageId() == null ? "" : m.getMessageId()));
        }

        @Override
        public void onMessageFailure(Context context, Session s, AVMessage m) {
            out.println("! not sent: " + m.getFailure().getMessage());
        }

        @Override
        public void onStatusOnline(Context context, Session s, List<String> peerIds) {
            out.println("* online " + peerIds);
        }

        @Override
        public void onStatusOffline(Context context, Session s, List<String> peerIds) {
            out.println("* offline " + peerIds);
        }

        @Override
        public void onError(Context context, Session s, Throwable e) {
            out.println("! error: " + e.getMessage());
        }
    }

    private final class GroupPrinter extends AVGroupMessageReceiver {
        @Override
        public void onJoined(Context context, Group g) {
            out.println("* joined group " + g.getGroupId());
        }

        @Override
        public void onInvited(Context context, Group g, String by) {
            out.println("* " + by + " added you to group " + g.getGroupId());
        }

        @Override
        public void onKicked(Context context, Group g, String by) {
            out.println("* " + by + " removed you from group " + g.getGroupId());
        }

        @Override
        public void onMessageSent(Context context, Group g, AVGroupMessage m) {
            out.println("* sent to group " + g.getGroupId());
        }

        @Override
        public void onMessageFailure(Context context, Group g, AVGroupMessage m) {
            out.println("! not sent to group " + g.getGroupId() + ": " + m.getFailure().getMessage());
        }

        @Override
        public void onMessage(Context context, Group g, AVGroupMessage m) {
            out.println("[" + g.getGroupId() + "] " + m.getFromPeerId() + ": " + m.getMessage());
        }

        @Override
        public void onQuit(Context context, Group g) {
            out.println("* left group " + g.getGroupId());
        }

        @Override
        public void onReject(Context context, Group g, String op, List<String> targets) {
            out.println("! group " + g.getGroupId() + " refused " + op + " " + targets);
        }

        @Override
        public void onMemberJoin(Context context, Group g, List<String> peers) {
            out.println("* " + peers + " joined group " + g.getGroupId());
        }

        @Override
        public void onMemberLeft(Context context, Group g, List<String> peers) {
            out.println("* " + peers + " left group " + g.getGroupId());
        }

        @Override
        public void onError(Context context, Group g, Throwable e) {
            out.println("! group error: " + e.getMessage());
        }
    }
}
