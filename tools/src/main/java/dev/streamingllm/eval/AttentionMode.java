package dev.streamingllm.eval;

import java.util.Locale;

/** The attention schemes of the StreamingLLM paper (Figure 1), all run on the same engine. */
public enum AttentionMode {
    /** Every token attends to every earlier token: nothing is evicted. */
    DENSE,
    /** A rolling window without sinks: the first tokens are evicted like any other. */
    WINDOW,
    /** Sliding window with re-computation: each token re-runs the last window tokens from scratch. */
    RECOMPUTE,
    /** StreamingLLM: attention sinks plus a rolling window. */
    STREAMING;

    public static AttentionMode parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown mode '" + name + "' (known: dense, window, recompute, streaming)");
        }
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
