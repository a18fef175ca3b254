package dev.streamingllm.backend;

import dev.streamingllm.cache.SinkCache;

/**
 * One session's part of a batched forward pass: {@code count} tokens from {@code tokens[offset]}, appended to
 * {@code cache}, with the logits of every one of them ({@code allLogits}) or of the last only.
 */
public record Segment(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits) {

    public Segment {
        if (count < 1 || offset < 0 || offset + count > tokens.length) {
            throw new IllegalArgumentException("segment of " + count + " tokens from " + offset + " in " + tokens.length);
        }
    }

    /** Rows of logits the pass returns for this segment. */
    public int logitRows() {
        return allLogits ? count : 1;
    }
}
