package dev.streamingllm.backend.cpu.decoder;

/**
 * Sees the attention probabilities of the CPU {@link Transformer}, for looking at where attention goes
 * (the paper's Figure 2). Called on the forward pass's thread, once per layer, head and token, after the
 * softmax and after every head of that token is done.
 */
@FunctionalInterface
public interface AttentionObserver {

    /**
     * {@code probabilities[j]} for {@code j < visible} is the attention the token at stream position
     * {@code position} pays to the {@code j}-th key it sees, in cache order: sinks, then the window oldest
     * first, the token itself last. With a dense cache, key {@code j} is the token at position {@code j}.
     * The array is reused: copy what is kept.
     */
    void scores(int layer, int head, long position, float[] probabilities, int visible);
}
