/**
 * The rtgate Java SDK: the API of the 2014 AVOS Cloud Android realtime SDK
 * ({@link org.rtgate.im.SessionManager}, {@link org.rtgate.im.AVMessageReceiver},
 * {@link org.rtgate.im.Group}, {@link org.rtgate.im.AVGroupMessageReceiver},
 * {@link org.rtgate.im.SignatureFactory}, {@link org.rtgate.im.AVMessage},
 * {@link org.rtgate.im.AVGroupMessage}) over a WebSocket to rtgate, in v1
 * JSON or {@code rtgate.msgpack.1} (spec/protocol.md, spec/semantics.md).
 *
 * <p>Concurrency: public methods may be called from any thread and return
 * at once. Each {@link org.rtgate.im.SessionManager} owns a loop thread
 * (all of its state: connection, watch list, requests in flight, the
 * de-duplication memory) and a worker thread (signature factory calls,
 * the router request); receivers run on the config's callback executor,
 * one at a time. The wire layer ({@code Command}, {@code Codec},
 * {@code Link}) is package-private.
 *
 * <p>Imports: OkHttp, Gson, msgpack-core and the Java 8 API that Android
 * has; nothing else.
 */
package org.rtgate.im;
