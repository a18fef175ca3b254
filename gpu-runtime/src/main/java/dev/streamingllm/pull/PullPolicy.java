package dev.streamingllm.pull;

/** Whether a model named by catalog name or URL is downloaded when the cache lacks it (Spring AI's Ollama pull strategy). */
public enum PullPolicy {
    /** Download it when the cache lacks it. */
    WHEN_MISSING,
    /** Use the cache only; a missing model is an error. */
    NEVER
}
