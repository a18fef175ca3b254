package dev.streamingllm.session;

import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.cache.SinkCacheSnapshot;
import dev.streamingllm.cache.SnapshotFrame;
import dev.streamingllm.model.Model;
import dev.streamingllm.template.ChatMessage;
import dev.streamingllm.template.ChatTemplate;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A whole conversation as bytes, so that another process continues it exactly: the fingerprint of
 * the model it ran on, its matching state (system messages, remembered messages, the token not fed
 * yet) and its cache as a {@link SinkCacheSnapshot} (keys, values and token ids of the sinks and the
 * window), followed by a CRC-32C of everything before it. {@link ConversationDelta}s written on it since carry it forward.
 *
 * <p>There is no sampler state to carry: a turn's sampler is made from that request's parameters
 * (its seed) and ends with the turn, and snapshots are taken between turns.
 */
public final class ConversationSnapshot {

    private static final int MAGIC = 0x434e5631; // "CNV1"

    private ConversationSnapshot() {
    }

    /** Call between turns only (like every other use of a conversation, serialized with its turns). */
    public static byte[] write(Conversation conversation) {
        byte[] cache = SinkCacheSnapshot.write(conversation.session().cache());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(cache.length + 4096);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            writeString(out, conversation.engine().model().fingerprint());
            out.writeBoolean(conversation.pinsSystemPrompt());
            out.writeInt(conversation.unfed());
            writeMessages(out, conversation.system());
            writeMessages(out, conversation.tail());
            out.writeInt(cache.length);
            out.write(cache);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return SnapshotFrame.seal(bytes.toByteArray());
    }

    /**
     * Restores a conversation on {@code engine}'s model, rendering with {@code template}. A snapshot of another
     * model, a corrupt or a truncated one is an {@link IllegalArgumentException} saying which.
     */
    public static Conversation read(byte[] snapshot, Engine engine, ChatTemplate template) {
        return read(snapshot, List.of(), engine, template);
    }

    /**
     * Restores a conversation from a snapshot and the {@link ConversationDelta}s written on it since, in order. A
     * snapshot or delta of another model, a delta of another base, a corrupt or a truncated one is an
     * {@link IllegalArgumentException} saying which.
     */
    public static Conversation read(byte[] snapshot, List<byte[]> deltas, Engine engine, ChatTemplate template) {
        Model model = engine.model();
        int body = SnapshotFrame.open(snapshot, Integer.BYTES, "conversation snapshot");
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(snapshot, 0, body))) {
            if (in.readInt() != MAGIC) {
                throw new IllegalArgumentException("not a conversation snapshot");
            }
            String fingerprint = readString(in);
            if (!fingerprint.equals(model.fingerprint())) {
                throw new IllegalArgumentException("conversation snapshot was taken on model " + fingerprint
                        + ", this one (" + model.path().getFileName() + ") is " + model.fingerprint());
            }
            boolean pinSystemPrompt = in.readBoolean();
            int unfed = in.readInt();
            List<ChatMessage> system = readMessages(in);
            List<ChatMessage> tail = readMessages(in);
            byte[] cacheBytes = new byte[in.readInt()];
            in.readFully(cacheBytes);
            if (in.available() != 0) {
                throw new IllegalArgumentException("conversation snapshot has " + in.available() + " unexpected trailing bytes");
            }
            SinkCache cache = SinkCacheSnapshot.read(cacheBytes, model.config().layers(), model.config().kvDim());
            for (byte[] delta : deltas) {
                unfed = ConversationDelta.apply(delta, fingerprint, tail, cache);
            }
            Session session = new Session(model.transformer(), cache, Session.DEFAULT_PREFILL_CHUNK);
            Conversation conversation = new Conversation(engine, template, pinSystemPrompt, session);
            conversation.restore(system, tail, unfed);
            return conversation;
        } catch (IOException | NegativeArraySizeException e) {
            throw new IllegalArgumentException("conversation snapshot is truncated: " + e.getMessage(), e);
        }
    }

    static void writeMessages(DataOutputStream out, List<ChatMessage> messages) throws IOException {
        out.writeInt(messages.size());
        for (ChatMessage message : messages) {
            writeString(out, message.role());
            writeString(out, message.content());
        }
    }

    static List<ChatMessage> readMessages(DataInputStream in) throws IOException {
        int count = in.readInt();
        if (count < 0 || count > in.available()) {
            throw new IllegalArgumentException("conversation snapshot claims " + count + " messages: it is corrupt");
        }
        List<ChatMessage> messages = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            messages.add(new ChatMessage(readString(in), readString(in)));
        }
        return messages;
    }

    /** Length-prefixed UTF-8: {@code writeUTF} stops at 64 KiB, and messages may be longer. */
    static void writeString(DataOutputStream out, String text) throws IOException {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        out.writeInt(utf8.length);
        out.write(utf8);
    }

    static String readString(DataInputStream in) throws IOException {
        byte[] utf8 = new byte[in.readInt()];
        in.readFully(utf8);
        return new String(utf8, StandardCharsets.UTF_8);
    }
}
