package dev.streamingllm.spring.session;

import dev.streamingllm.template.ChatMessage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * The digest of a message history, chained message by message: {@code d(m1..mk) = SHA-256(d(m1..mk-1), mk)}, so the
 * digests of all prefixes of a request cost one pass over its messages. The unit is the message, role and text, which
 * is what the runtime's {@code Conversation} compares when it matches a resent history. A chain starts from the client
 * that sends it, so equal histories of different clients never share a digest. SHA-256 rather than a fast hash: a
 * digest stands in for the history, and a forged collision would continue another client's session; 128 of its bits
 * are kept.
 */
record HistoryDigest(long high, long low) {

    /** The digests of every prefix of {@code messages}: element {@code k} covers the first {@code k} messages. */
    static HistoryDigest[] prefixes(String client, List<ChatMessage> messages) {
        MessageDigest sha = sha256();
        HistoryDigest[] out = new HistoryDigest[messages.size() + 1];
        out[0] = of(sha.digest(client.getBytes(StandardCharsets.UTF_8)));
        for (int k = 0; k < messages.size(); k++) {
            out[k + 1] = out[k].then(sha, messages.get(k));
        }
        return out;
    }

    /** The digest of this history followed by {@code message}. */
    HistoryDigest then(ChatMessage message) {
        return then(sha256(), message);
    }

    private HistoryDigest then(MessageDigest sha, ChatMessage message) {
        byte[] role = message.role().getBytes(StandardCharsets.UTF_8);
        byte[] content = message.content().getBytes(StandardCharsets.UTF_8);
        // lengths first, so that no two messages encode alike
        sha.update(ByteBuffer.allocate(24).putLong(high).putLong(low).putInt(role.length).putInt(content.length).array());
        sha.update(role);
        return of(sha.digest(content));
    }

    private static HistoryDigest of(byte[] digest) {
        ByteBuffer bytes = ByteBuffer.wrap(digest);
        return new HistoryDigest(bytes.getLong(), bytes.getLong());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
