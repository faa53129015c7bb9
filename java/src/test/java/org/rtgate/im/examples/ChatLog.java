package org.rtgate.im.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Where the example receivers put what they would show in the UI: one line per event. */
public final class ChatLog {
    private static final List<String> LINES = new ArrayList<>();

    private ChatLog() {}

    public static synchronized void add(String line) {
        System.out.println(line);
        LINES.add(line);
        ChatLog.class.notifyAll();
    }

    /** await waits up to ms for a line equal to want. */
    public static synchronized void await(String want, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!LINES.contains(want)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no line \"" + want + "\" in " + LINES);
            }
            ChatLog.class.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }
}
