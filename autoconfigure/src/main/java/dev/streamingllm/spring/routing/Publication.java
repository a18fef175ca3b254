package dev.streamingllm.spring.routing;

import java.util.List;

/**
 * A session's state after a turn, as the registry stores it: the record, the exact snapshot ({@code ConversationSnapshot})
 * with the deltas written on it since, in order ({@code ConversationDelta}), and the transcript for the approximate
 * fallback: JSON arrays of messages, in order, the one written with the snapshot and then the messages each delta added.
 */
public record Publication(SessionRecord record, byte[] snapshot, List<byte[]> deltas, List<byte[]> transcript) {

    public Publication {
        deltas = List.copyOf(deltas);
        transcript = List.copyOf(transcript);
    }

    /** A full state: a snapshot with no deltas, and its whole transcript. */
    public Publication(SessionRecord record, byte[] snapshot, byte[] transcript) {
        this(record, snapshot, List.of(), List.of(transcript));
    }
}
