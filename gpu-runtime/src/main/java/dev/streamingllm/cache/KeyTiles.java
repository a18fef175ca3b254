package dev.streamingllm.cache;

/**
 * Where a sink cache keeps each element of its keys: in tiles of {@value #SLOTS} slots, element by element within a
 * tile, so that element {@code i} of {@value #SLOTS} neighbouring slots sits in one run. Decode attention then scores
 * a vector's worth of keys per multiply-add, each lane a key, and sums no lanes across a vector; keys stored a slot
 * per row needed a sum across lanes for every key. Values stay a slot per row: a weighted sum reads them row by row.
 *
 * <p>A tile holds {@link #width(int)} elements per slot: the key's elements rounded up to an even count, as halves are
 * kept in pairs ({@link #halfIndex}). A layer of {@code slots} slots takes {@link #length} elements.
 */
public final class KeyTiles {

    /** Slots per tile. */
    public static final int SLOTS = 16;

    private KeyTiles() {
    }

    /** Elements per slot in a tile: {@code kvDim} rounded up to an even count. */
    public static int width(int kvDim) {
        return (kvDim + 1) & ~1;
    }

    /** Elements of a layer of {@code slots} slots, whole tiles. */
    public static int length(int slots, int kvDim) {
        return (slots + SLOTS - 1) / SLOTS * width(kvDim) * SLOTS;
    }

    /** Element {@code i} of slot {@code slot} in a float or Q8_0 layer: {@code [tile][i][slot in tile]}. */
    public static int index(int kvDim, int slot, int i) {
        return (slot / SLOTS * width(kvDim) + i) * SLOTS + slot % SLOTS;
    }

    /**
     * Element {@code i} of slot {@code slot} in a layer of halves: {@code [tile][i / 2][slot in tile][i % 2]}, elements
     * in pairs, so that a vector of {@code 2 L} halves holds elements {@code i} and {@code i + 1} of {@code L} keys, one
     * key to an int lane (the kernels' half conversion works on such pairs).
     */
    public static int halfIndex(int kvDim, int slot, int i) {
        return (slot / SLOTS * width(kvDim) + (i & ~1)) * SLOTS + slot % SLOTS * 2 + (i & 1);
    }

    /** Block scale {@code block} of slot {@code slot} in a Q8_0 layer: {@code [tile][block][slot in tile]}. */
    public static int scaleIndex(int kvDim, int slot, int block) {
        return (slot / SLOTS * (kvDim / CacheType.Q8_0_BLOCK) + block) * SLOTS + slot % SLOTS;
    }

    /** Block scales of a Q8_0 layer of {@code slots} slots, whole tiles. */
    public static int scales(int slots, int kvDim) {
        return (slots + SLOTS - 1) / SLOTS * (kvDim / CacheType.Q8_0_BLOCK) * SLOTS;
    }
}
