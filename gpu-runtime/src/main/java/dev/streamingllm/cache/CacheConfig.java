package dev.streamingllm.cache;

/**
 * Geometry and eviction policy of a sink cache.
 *
 * @param sinks      first tokens of the stream that are never evicted (the paper's attention sinks; default 4)
 * @param window     most recent tokens kept after the sinks
 * @param evictBatch tokens evicted at once when the cache overflows: 1 is the paper's policy; more trades
 *                   exactness for fewer evictions, like llama.cpp's {@code n_discard}
 * @param type       how keys and values are stored
 */
public record CacheConfig(int sinks, int window, int evictBatch, CacheType type) {

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
        if (type == null) {
            throw new IllegalArgumentException("the cache type must be given (f32, f16 or q8_0)");
        }
    }

    /** A cache of 32-bit floats. */
    public CacheConfig(int sinks, int window, int evictBatch) {
        this(sinks, window, evictBatch, CacheType.F32);
    }

    /** The same geometry, storing keys and values as {@code type}. */
    public CacheConfig withType(CacheType type) {
        return new CacheConfig(sinks, window, evictBatch, type);
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

    /** This geometry with {@code sinks} and {@code window} replaced where given (null keeps this one's). */
    public CacheConfig with(Integer sinks, Integer window) {
        return new CacheConfig(sinks != null ? sinks : this.sinks, window != null ? window : this.window, evictBatch, type);
    }

    /** Tokens the cache holds between steps. */
    public int capacity() {
        return sinks + window;
    }

    /**
     * Bytes of keys and values of a cache of this geometry for a model of {@code layers} x {@code kvDim}: one slot more
     * than the capacity, for the token in flight, laid out in whole key tiles and value chunks ({@link CacheLayout}).
     */
    public long bytes(int layers, int kvDim) {
        int slots = capacity() + 1;
        return layers * (type.bytes(CacheLayout.keyLength(slots, kvDim)) + type.bytes(CacheLayout.valueLength(slots, kvDim)));
    }
}
