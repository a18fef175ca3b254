package dev.streamingllm.cache;

/**
 * Geometry and eviction policy of a sink cache.
 *
 * @param sinks      first tokens of the stream that are never evicted (the paper's attention sinks; default 4)
 * @param window     most recent tokens kept after the sinks
 * @param evictBatch tokens evicted at once when the cache overflows: 1 is the paper's policy; more trades
 *                   exactness for fewer evictions, like llama.cpp's {@code n_discard}
 */
public record CacheConfig(int sinks, int window, int evictBatch) {

    public static final int DEFAULT_SINKS = 4;

    public CacheConfig {
        if (sinks < 0) {
            throw new IllegalArgumentException("sinks must be >= 0, was " + sinks);
        }
        if (window < 1) {
            throw new IllegalArgumentException("sinks (" + sinks + ") must be smaller than the cache capacity sinks + window ("
                    + (sinks + window) + "): the window needs at least one token");
        }
        if (evictBatch < 1 || evictBatch > window) {
            throw new IllegalArgumentException("evictBatch must be in [1, window=" + window + "], was " + evictBatch);
        }
    }

    /** StreamingLLM: {@code sinks} attention sinks plus a rolling window, evicting one token at a time. */
    public static CacheConfig streaming(int sinks, int window) {
        return new CacheConfig(sinks, window, 1);
    }

    /** Plain window attention: no sinks. */
    public static CacheConfig window(int window) {
        return new CacheConfig(0, window, 1);
    }

    /** Dense attention over up to {@code capacity} tokens: nothing is ever evicted before that. */
    public static CacheConfig dense(int capacity) {
        return new CacheConfig(0, capacity, 1);
    }

    /** Tokens the cache holds between steps. */
    public int capacity() {
        return sinks + window;
    }
}
