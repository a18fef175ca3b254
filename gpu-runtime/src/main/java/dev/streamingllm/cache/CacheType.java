package dev.streamingllm.cache;

/** How a sink cache stores its keys and values. */
public enum CacheType {
    /** 32-bit floats: exactly what the model computed. */
    F32(Float.BYTES),
    /** IEEE halves, as llama.cpp's default cache: half the bytes, so twice the sessions per GiB. */
    F16(2);

    private final int bytes;

    CacheType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per stored value. */
    public int bytes() {
        return bytes;
    }
}
