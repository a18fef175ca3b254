package dev.streamingllm.cache;

/** How a sink cache stores its keys and values. */
public enum CacheType {
    /** 32-bit floats: exactly what the model computed. */
    F32,
    /** IEEE halves, as llama.cpp's default cache: half the bytes, so twice the sessions per GiB. */
    F16,
    /**
     * llama.cpp's {@code q8_0}: per {@value #Q8_0_BLOCK} values, one IEEE half scale and 32 signed bytes (8.5 bits a
     * value), so a little over half an F16 cache's bytes, and half the bytes a long cache's attention reads per token.
     */
    Q8_0;

    /** Values per scale of a {@link #Q8_0} cache, as ggml's {@code QK8_0}. */
    public static final int Q8_0_BLOCK = 32;

    /** Bytes of {@code values} stored values; a {@link #Q8_0} count must be whole blocks. */
    public long bytes(long values) {
        return switch (this) {
            case F32 -> Float.BYTES * values;
            case F16 -> 2 * values;
            case Q8_0 -> values + 2 * (values / Q8_0_BLOCK);
        };
    }
}
