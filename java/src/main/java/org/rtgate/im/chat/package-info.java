/**
 * A small command-line chat on the SDK ({@link org.rtgate.im.chat.Chat}),
 * like cmd/rtchat. It uses only the public API of {@code org.rtgate.im}.
 */
package org.rtgate.im.chat;
