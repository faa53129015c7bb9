package org.rtgate.im;

import java.util.ArrayList;
import java.util.List;

/**
 * What a {@link SignatureFactory} returns: the HMAC-SHA1 signature, the
 * timestamp (seconds) and nonce it covers, and the peer ids it was made
 * for (the watch list of open/watch, the targets of invite/kick).
 */
public class Signature {
    private String signature;
    private long timestamp;
    private String nonce;
    private List<String> signedPeerIds = new ArrayList<>();

    public Signature() {}

    public Signature(String signature, long timestamp, String nonce, List<String> signedPeerIds) {
        this.signature = signature;
        this.timestamp = timestamp;
        this.nonce = nonce;
        setSignedPeerIds(signedPeerIds);
    }

    public String getSignature() {
        return signature;
    }

    public void setSignature(String signature) {
        this.signature = signature;
    }

    /** Seconds since the epoch. */
    public long getTimestamp() {
        return timestamp;
    }

    public void setTimestamp(long timestamp) {
        this.timestamp = timestamp;
    }

    public String getNonce() {
        return nonce;
    }

    public void setNonce(String nonce) {
        this.nonce = nonce;
    }

    public List<String> getSignedPeerIds() {
        return signedPeerIds;
    }

    public void setSignedPeerIds(List<String> signedPeerIds) {
        this.signedPeerIds = signedPeerIds == null ? new ArrayList<String>() : new ArrayList<>(signedPeerIds);
    }
}
