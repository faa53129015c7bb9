package org.rtgate.im;

import java.util.List;
import java.util.concurrent.ScheduledFuture;

/** A request waiting for its reply (owned by the session's loop thread). */
final class Pending {
    enum Kind { OPEN, ADD, REMOVE, CLOSE, DIRECT, JOIN, INVITE, KICK, LEAVE }

    final Kind kind;
    final Command cmd;
    /** The message of a DIRECT (an AVGroupMessage for a group send). */
    final AVMessage msg;
    /** The group of a group request or group send. */
    final Group group;
    /** Targets of invite/kick. */
    final List<String> targets;
    ScheduledFuture<?> timer;
    /** Written on the current connection (false while waiting in the outbox). */
    boolean sent;

    Pending(Kind kind, Command cmd, AVMessage msg, Group group, List<String> targets) {
        this.kind = kind;
        this.cmd = cmd;
        this.msg = msg;
        this.group = group;
        this.targets = targets;
    }

    /**
     * Whether the request is sent again on the next connection when its
     * reply was lost with the connection: a persistent send in a modern
     * dialect (the server de-duplicates it by client id).
     */
    boolean resendable(boolean modern) {
        return kind == Kind.DIRECT && modern;
    }
}
