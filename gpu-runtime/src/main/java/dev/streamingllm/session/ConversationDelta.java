package dev.streamingllm.session;

import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.cache.SinkCacheDelta;
import dev.streamingllm.cache.SnapshotFrame;
import dev.streamingllm.template.ChatMessage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;

/**
 * What a conversation gained since an earlier written state of it (its base), as bytes: the fingerprint of the model,
 * how the remembered messages moved (how many the base remembered, how many of those were forgotten from the front, the
 * messages added), the token not fed yet and a {@link SinkCacheDelta} of its cache, followed by a CRC-32C. A base
 * snapshot ({@link ConversationSnapshot}) and its deltas in order restore the conversation exactly.
 *
 * <p>A delta cannot express a conversation that started over on a new session or changed its system messages; there
 * is none then, and a full snapshot is written instead.
 */
public final class ConversationDelta {

    private static final int MAGIC = 0x434e4431; // "CND1"

    /** What a written state of a conversation held: the base a later delta is written on. */
    public static final class Base {

        private final Session session;
        private final long tokensSeen;
        private final List<ChatMessage> system;
        private final List<ChatMessage> tail;

        private Base(Conversation conversation) {
            this.session = conversation.session();
            this.tokensSeen = session.cache().tokensSeen();
            this.system = List.copyOf(conversation.system());
            this.tail = List.copyOf(conversation.tail());
        }
    }

    private ConversationDelta() {
    }

    /** The conversation's state as it is now, to write deltas on once that state is written. Between turns only. */
    public static Base base(Conversation conversation) {
        return new Base(conversation);
    }

    /**
     * The delta of the conversation since {@code base}; empty when a delta cannot express the change (the conversation
     * started over or its system messages changed). Between turns only.
     */
    public static Optional<byte[]> write(Conversation conversation, Base base) {
        SinkCache cache = conversation.session().cache();
        if (conversation.session() != base.session || !conversation.system().equals(base.system) || cache.tokensSeen() < base.tokensSeen) {
            return Optional.empty();
        }
        List<ChatMessage> tail = conversation.tail();
        int dropped = dropped(base.tail, tail);
        List<ChatMessage> added = tail.subList(base.tail.size() - dropped, tail.size());
        byte[] cacheDelta = SinkCacheDelta.write(cache, base.tokensSeen);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(cacheDelta.length + 1024);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            ConversationSnapshot.writeString(out, conversation.engine().model().fingerprint());
            out.writeInt(base.tail.size());
            out.writeInt(dropped);
            out.writeInt(conversation.unfed());
            ConversationSnapshot.writeMessages(out, added);
            out.writeInt(cacheDelta.length);
            out.write(cacheDelta);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Optional.of(SnapshotFrame.seal(bytes.toByteArray()));
    }

    /** The messages the conversation remembers that {@code base} did not: those a delta on it adds. Between turns only. */
    public static List<ChatMessage> added(Conversation conversation, Base base) {
        List<ChatMessage> tail = conversation.tail();
        return List.copyOf(tail.subList(base.tail.size() - dropped(base.tail, tail), tail.size()));
    }

    /**
     * The fewest messages forgotten from the front of {@code before} such that the rest of it starts {@code after}: the
     * remembered messages only ever lose their oldest and gain new ones.
     */
    private static int dropped(List<ChatMessage> before, List<ChatMessage> after) {
        int dropped = 0;
        while (dropped < before.size()) {
            int kept = before.size() - dropped;
            if (kept <= after.size() && before.subList(dropped, before.size()).equals(after.subList(0, kept))) {
                break;
            }
            dropped++;
        }
        return dropped;
    }

    /**
     * Applies {@code delta} to the parts of a conversation restored from its base: its remembered messages (changed in
     * place) and its cache. Returns the token not fed yet. A delta of another model, of another base, a corrupt or a
     * truncated one is an {@link IllegalArgumentException} saying which.
     */
    static int apply(byte[] delta, String fingerprint, List<ChatMessage> tail, SinkCache cache) {
        int body = SnapshotFrame.open(delta, Integer.BYTES, "conversation delta");
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(delta, 0, body))) {
            if (in.readInt() != MAGIC) {
                throw new IllegalArgumentException("not a conversation delta");
            }
            String model = ConversationSnapshot.readString(in);
            if (!model.equals(fingerprint)) {
                throw new IllegalArgumentException("conversation delta was taken on model " + model + ", its base on " + fingerprint);
            }
            int baseTail = in.readInt();
            int dropped = in.readInt();
            if (baseTail != tail.size()) {
                throw new IllegalArgumentException("conversation delta continues a conversation that remembered " + baseTail
                        + " messages; this one remembers " + tail.size());
            }
            if (dropped < 0 || dropped > baseTail) {
                throw new IllegalArgumentException("conversation delta forgets " + dropped + " of " + baseTail + " messages: it is corrupt");
            }
            int unfed = in.readInt();
            List<ChatMessage> added = ConversationSnapshot.readMessages(in);
            byte[] cacheDelta = new byte[in.readInt()];
            in.readFully(cacheDelta);
            if (in.available() != 0) {
                throw new IllegalArgumentException("conversation delta has " + in.available() + " unexpected trailing bytes");
            }
            SinkCacheDelta.apply(cacheDelta, cache);
            tail.subList(0, dropped).clear();
            tail.addAll(added);
            return unfed;
        } catch (IOException | NegativeArraySizeException e) {
            throw new IllegalArgumentException("conversation delta is truncated: " + e.getMessage(), e);
        }
    }
}
