package dev.streamingllm.cache;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** The framing every snapshot shares: its body followed by a CRC-32C of the body, checked before anything is read. */
public final class SnapshotFrame {

    private SnapshotFrame() {
    }

    /** {@code body} followed by its checksum. */
    public static byte[] seal(byte[] body) {
        CRC32C crc = new CRC32C();
        crc.update(body);
        return ByteBuffer.allocate(body.length + Integer.BYTES).put(body).putInt((int) crc.getValue()).array();
    }

    /**
     * The length of the body of {@code sealed}, after checking its checksum; a frame shorter than
     * {@code minimumBody} bytes of body, or one whose checksum does not match, is an
     * {@link IllegalArgumentException} naming {@code what}.
     */
    public static int open(byte[] sealed, int minimumBody, String what) {
        int body = sealed.length - Integer.BYTES;
        if (body < minimumBody) {
            throw new IllegalArgumentException(what + " of " + sealed.length + " bytes is truncated");
        }
        CRC32C crc = new CRC32C();
        crc.update(sealed, 0, body);
        if ((int) crc.getValue() != ByteBuffer.wrap(sealed, body, Integer.BYTES).getInt()) {
            throw new IllegalArgumentException(what + " checksum mismatch: the snapshot is corrupt");
        }
        return body;
    }
}
