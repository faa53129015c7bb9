package org.rtgate.im;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A {@link SignatureFactory} that signs locally with the master key
 * (spec/groups-signatures.md): for servers, bots, tools and tests. Never put
 * a master key in an app you ship; an app asks its own server instead.
 * Ids are sorted by UTF-16 code units, as the 2014 clients did. Thread-safe.
 */
public final class MasterKeySignatureFactory implements SignatureFactory {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final String appId;
    private final String masterKey;

    public MasterKeySignatureFactory(String appId, String masterKey) {
        this.appId = appId;
        this.masterKey = masterKey;
    }

    @Override
    public Signature createSignature(String peerId, List<String> watchIds) {
        long t = System.currentTimeMillis() / 1000;
        String n = nonce();
        String sig = hmac(masterKey, appId + ":" + peerId + ":" + joinSorted(watchIds) + ":" + t + ":" + n);
        return new Signature(sig, t, n, watchIds);
    }

    @Override
    public Signature createGroupSignature(String groupId, String peerId, List<String> targetPeerIds, String action) {
        long t = System.currentTimeMillis() / 1000;
        String n = nonce();
        String sig = hmac(masterKey, appId + ":" + peerId + ":" + (groupId == null ? "" : groupId) + ":"
                + joinSorted(targetPeerIds) + ":" + t + ":" + n + ":" + action);
        return new Signature(sig, t, n, targetPeerIds);
    }

    private static String nonce() {
        return Long.toString(RANDOM.nextLong() & Long.MAX_VALUE, 36);
    }

    /** joinSorted sorts ids (UTF-16 order) and joins them with ":". */
    public static String joinSorted(List<String> ids) {
        List<String> l = new ArrayList<>(ids == null ? Collections.<String>emptyList() : ids);
        Collections.sort(l);
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < l.size(); k++) {
            if (k > 0) {
                b.append(':');
            }
            b.append(l.get(k));
        }
        return b.toString();
    }

    /** hmac returns lower-hex HMAC-SHA1(key, message). */
    public static String hmac(String key, String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
            byte[] d = mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
            StringBuilder b = new StringBuilder(40);
            for (byte x : d) {
                b.append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
            }
            return b.toString();
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA1", e);
        }
    }
}
