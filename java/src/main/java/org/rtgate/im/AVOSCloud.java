package org.rtgate.im;

/**
 * The app's identity, as the 2014 SDK's {@code AVOSCloud} held it (the docs'
 * snippets read {@code AVOSCloud.applicationId}). Set by
 * {@link #initialize(String, String, String)}, which also makes the config
 * that {@link SessionManager#getInstance(String)} uses; apps that need
 * receivers or a dialect call {@link SessionManager#initialize(RealtimeConfig)}
 * instead, which sets these fields too.
 */
public final class AVOSCloud {
    /** The app id (read-only by convention; set by initialize). */
    public static volatile String applicationId;
    /** The app key (read-only by convention; set by initialize). */
    public static volatile String clientKey;

    private AVOSCloud() {}

    /** initialize points the SDK at server (the rtgate base URL) for appId with appKey. */
    public static void initialize(String server, String appId, String appKey) {
        SessionManager.initialize(RealtimeConfig.builder(server, appId).appKey(appKey).build());
    }
}
