package org.rtgate.im.examples;

import java.util.List;
import org.rtgate.im.MasterKeySignatureFactory;
import org.rtgate.im.Signature;
import org.rtgate.im.SignatureFactory;

/**
 * The docs' {@code SomeSignatureFactory(AVOSCloud.applicationId)}. A real app
 * asks its own server for the signature (over HTTP, say); this example
 * stands in for that server with {@link MasterKeySignatureFactory} and the
 * master key in {@link #serverMasterKey}, which only a server may hold. As
 * the docs say, a failure is thrown as an exception.
 */
public class SomeSignatureFactory implements SignatureFactory {
    /** The master key "on the app's server". */
    public static volatile String serverMasterKey = "";

    private final String appId;

    public SomeSignatureFactory(String appId) {
        this.appId = appId;
    }

    @Override
    public Signature createSignature(String peerId, List<String> watchIds) throws SignatureException {
        if (serverMasterKey.isEmpty()) {
            throw new SignatureException("the signing server is not reachable");
        }
        return new MasterKeySignatureFactory(appId, serverMasterKey).createSignature(peerId, watchIds);
    }

    @Override
    public Signature createGroupSignature(String groupId, String peerId, List<String> targetPeerIds, String action)
            throws SignatureException {
        if (serverMasterKey.isEmpty()) {
            throw new SignatureException("the signing server is not reachable");
        }
        return new MasterKeySignatureFactory(appId, serverMasterKey).createGroupSignature(groupId, peerId, targetPeerIds, action);
    }
}
