package org.rtgate.im;

import java.util.List;

/**
 * Makes the signatures an app needs when it requires them (spec/groups-signatures.md).
 * An app asks its own server, which holds the master key; never ship the
 * master key in an app. Called on an SDK worker thread, never on the
 * callback executor, so it may block on the network. An exception fails the
 * operation: onError of the receiver (and, for a group, onError of the
 * group receiver).
 */
public interface SignatureFactory {
    /**
     * Signs {@code appId:peerId:sortedWatchIds:timestamp:nonce} for session
     * open and watch. The returned signedPeerIds are the peers watched.
     */
    Signature createSignature(String peerId, List<String> watchIds) throws SignatureException;

    /**
     * Signs {@code appId:peerId:groupId:sortedTargets:timestamp:nonce:action}
     * for action "join" (groupId "" when creating, no targets), "invite" or "kick".
     */
    Signature createGroupSignature(String groupId, String peerId, List<String> targetPeerIds, String action)
            throws SignatureException;

    /** Thrown by a factory that cannot sign (its server refused or failed). */
    class SignatureException extends Exception {
        private static final long serialVersionUID = 1L;

        public SignatureException(String message) {
            super(message);
        }

        public SignatureException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
