package dev.streamingllm.cache;

/**
 * A cache as configured, before the model is known: the one place that decides what an unset window means.
 * {@link #resolve} gives the geometry that sizes the CUDA backend's slots and every session's cache.
 *
 * @param window     most recent tokens kept after the sinks; null fills {@link #defaultCapacity the model's default
 *                   capacity}
 * @param evictBatch see {@link CacheConfig}
 * @param type       see {@link CacheConfig}
 */
public record CacheSettings(int sinks, Integer window, int evictBatch, CacheType type) {

    /** The longest default cache: sessions of long-context models would otherwise take gigabytes each. */
    public static final int MAX_DEFAULT_CAPACITY = 2048;

    /** {@value CacheConfig#DEFAULT_SINKS} sinks and the default window, evicting one token at a time, in 32-bit floats. */
    public static final CacheSettings DEFAULT = new CacheSettings(CacheConfig.DEFAULT_SINKS, null, 1, CacheType.F32);

    public CacheSettings {
        if (type == null) {
            throw new IllegalArgumentException("the cache type must be given (f32, f16 or q8_0)");
        }
    }

    /** Settings that resolve to {@code cache} whatever the model. */
    public static CacheSettings of(CacheConfig cache) {
        return new CacheSettings(cache.sinks(), cache.window(), cache.evictBatch(), cache.type());
    }

    /** The capacity (sinks + window) of a cache whose window is not configured: the context length, at most {@value #MAX_DEFAULT_CAPACITY}. */
    public static int defaultCapacity(int contextLength) {
        return Math.min(contextLength, MAX_DEFAULT_CAPACITY);
    }

    /** The geometry for a model of {@code contextLength} tokens; a bad combination is {@link CacheConfig}'s error. */
    public CacheConfig resolve(int contextLength) {
        return new CacheConfig(sinks, window != null ? window : defaultCapacity(contextLength) - sinks, evictBatch, type);
    }
}
