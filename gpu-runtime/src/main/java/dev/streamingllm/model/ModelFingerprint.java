package dev.streamingllm.model;

import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFTensor;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What a snapshot's caches are only valid for: a SHA-256 of the GGUF header (metadata and tensor
 * infos) and of the first {@value #SAMPLE} bytes of every tensor's data. The header alone would not
 * tell two fine-tunes of one shape apart; hashing every weight would cost seconds on large files.
 */
public final class ModelFingerprint {

    static final int SAMPLE = 4096;

    private ModelFingerprint() {
    }

    /** The fingerprint as 64 lowercase hex digits. */
    public static String of(GGUFFile gguf) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        try (FileChannel channel = FileChannel.open(gguf.path(), StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(Math.toIntExact(gguf.dataStart()));
            while (header.hasRemaining()) {
                if (channel.read(header, header.position()) < 0) {
                    throw new IOException("the file ends inside its header");
                }
            }
            sha.update(header.flip());
        } catch (IOException e) {
            throw new GGUFException(gguf.path(), "cannot read the header for the model fingerprint: " + e.getMessage(), e);
        }
        for (GGUFTensor tensor : gguf.tensors().values()) {
            sha.update(tensor.data().asSlice(0, Math.min(SAMPLE, tensor.data().byteSize())).toArray(ValueLayout.JAVA_BYTE));
        }
        return HexFormat.of().formatHex(sha.digest());
    }
}
