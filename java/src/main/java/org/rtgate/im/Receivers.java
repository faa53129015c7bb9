package org.rtgate.im;

import java.util.logging.Level;

/**
 * Runs receiver methods on the config's callback executor, one task per
 * event, in the order they are posted. A receiver method that throws is
 * logged and reported as false by {@link #run}. Thread-safe.
 */
final class Receivers {
    /** One call of a receiver method. */
    interface Call<R> {
        void on(R receiver);
    }

    private final RealtimeConfig config;
    private final String selfId;

    Receivers(RealtimeConfig config, String selfId) {
        this.config = config;
        this.selfId = selfId;
    }

    /** session posts a call of the message receiver (none registered: dropped). */
    void session(final Call<AVMessageReceiver> call) {
        final AVMessageReceiver r = config.messageReceiver;
        if (r != null) {
            config.callbackExecutor.execute(() -> run(() -> call.on(r)));
        }
    }

    /** group posts a call of the group receiver (none registered: dropped). */
    void group(final Call<AVGroupMessageReceiver> call) {
        final AVGroupMessageReceiver r = config.groupMessageReceiver;
        if (r != null) {
            config.callbackExecutor.execute(() -> run(() -> call.on(r)));
        }
    }

    /** run runs a receiver method on the calling thread; false if it threw. */
    boolean run(Runnable r) {
        try {
            r.run();
            return true;
        } catch (RuntimeException e) {
            config.logger.log(Level.WARNING, "rtgate: receiver of " + selfId + " threw", e);
            return false;
        }
    }
}
