package org.rtgate.im;

/**
 * Stand-in for {@code android.content.Context}, the first parameter of every
 * receiver callback in the 2014 Android SDK. On the JVM it carries nothing
 * but an optional application object; an Android app can pass its own
 * {@code Context} through {@link #getAndroidContext()} by giving it to
 * {@link RealtimeConfig.Builder#context(Context)}.
 */
public class Context {
    private final Object androidContext;

    /** A context with no platform object. */
    public Context() {
        this(null);
    }

    /** A context wrapping a platform object (on Android: the application Context). */
    public Context(Object androidContext) {
        this.androidContext = androidContext;
    }

    /** The wrapped platform object, or null. */
    public Object getAndroidContext() {
        return androidContext;
    }
}
