package dev.streamingllm.backend;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.llama.ModelConfig;
import java.util.List;

/**
 * What a session runs tokens through: the CPU {@code Transformer} or the {@code CudaDecoder}. Both keep the
 * cache's bookkeeping in a {@link SinkCache}, so positions and eviction are the same on every backend.
 */
public interface Decoder extends AutoCloseable {

    ModelConfig config();

    /** A new cache for one session (on a GPU backend its keys and values live on the device). */
    SinkCache newCache(CacheConfig cacheConfig);

    /**
     * Runs {@code count} tokens from {@code tokens[offset]} through the model, appending them to
     * {@code cache}. Returns the logits of every position ({@code count x vocab}) when
     * {@code allLogits}, else only those of the last position.
     */
    default float[] forward(SinkCache cache, int[] tokens, int offset, int count, boolean allLogits) {
        return forward(List.of(new Segment(cache, tokens, offset, count, allLogits)))[0];
    }

    /**
     * Runs every segment through the model in one pass: each weight matrix is read once for the rows of all
     * segments, while each row attends only over its own segment's cache. Returns each segment's logits
     * ({@link Segment#logitRows()} x vocab). A cache may appear in one segment only.
     */
    float[][] forward(List<Segment> segments);

    /** Releases what the decoder holds outside the heap (device memory); the CPU decoder holds nothing. */
    @Override
    default void close() {
    }
}
