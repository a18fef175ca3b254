package dev.streamingllm.session;

/** Why generation ended. */
public enum FinishReason {
    /** The model ended its turn (an end-of-generation token) or a stop string appeared. */
    STOP,
    /** The token budget ran out. */
    LENGTH,
    /** The caller cancelled. */
    CANCELLED
}
