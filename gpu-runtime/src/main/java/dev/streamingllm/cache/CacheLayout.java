package dev.streamingllm.cache;

/**
 * Where a sink cache layer keeps each element of its keys and values, laid out for the decode kernels, which read the
 * whole layer every token and so run at the speed of memory once the cache outgrows the processor's caches: each of
 * their units of work reads one stretch of memory from start to end.
 *
 * <p><b>Keys</b> lie in tiles of {@value #TILE} slots, element by element within a tile, so that element {@code i} of
 * {@value #TILE} neighbouring slots sits in one run. Decode attention then scores a vector's worth of keys per
 * multiply-add, each lane a key, and sums no lanes across a vector. A tile holds {@link #width(int)} elements per slot:
 * the key's elements rounded up to an even count, as halves are kept in pairs ({@link #halfKeyIndex}).
 *
 * <p><b>Values</b> lie in chunks of {@value #CHUNK} elements: chunk {@code c} of every slot, a row per slot, then chunk
 * {@code c + 1}. A weighted sum over one chunk (a Q8_0 block, half of a 64-element head) reads its rows one after
 * another, where rows of whole values made it read a sixth of each.
 */
public final class CacheLayout {

    /** Slots per key tile. */
    public static final int TILE = 16;
    /** Elements per value chunk: a Q8_0 block. */
    public static final int CHUNK = CacheType.Q8_0_BLOCK;

    private CacheLayout() {
    }

    /** Elements per slot in a key tile: {@code kvDim} rounded up to an even count. */
    public static int width(int kvDim) {
        return (kvDim + 1) & ~1;
    }

    /** Key elements of a layer of {@code slots} slots, whole tiles. */
    public static int keyLength(int slots, int kvDim) {
        return (slots + TILE - 1) / TILE * width(kvDim) * TILE;
    }

    /** Key element {@code i} of slot {@code slot} in a float or Q8_0 layer: {@code [tile][i][slot in tile]}. */
    public static int keyIndex(int kvDim, int slot, int i) {
        return (slot / TILE * width(kvDim) + i) * TILE + slot % TILE;
    }

    /**
     * Key element {@code i} of slot {@code slot} in a layer of halves: {@code [tile][i / 2][slot in tile][i % 2]},
     * elements in pairs, so that a vector of {@code 2 L} halves holds elements {@code i} and {@code i + 1} of {@code L}
     * keys, one key to an int lane (the kernels' half conversion works on such pairs).
     */
    public static int halfKeyIndex(int kvDim, int slot, int i) {
        return (slot / TILE * width(kvDim) + (i & ~1)) * TILE + slot % TILE * 2 + (i & 1);
    }

    /** Key block scale {@code block} of slot {@code slot} in a Q8_0 layer: {@code [tile][block][slot in tile]}. */
    public static int keyScaleIndex(int kvDim, int slot, int block) {
        return (slot / TILE * (kvDim / CacheType.Q8_0_BLOCK) + block) * TILE + slot % TILE;
    }

    /** Key block scales of a Q8_0 layer of {@code slots} slots, whole tiles. */
    public static int keyScales(int slots, int kvDim) {
        return (slots + TILE - 1) / TILE * (kvDim / CacheType.Q8_0_BLOCK) * TILE;
    }

    /** Value elements of a layer of {@code slots} slots, whole chunks. */
    public static int valueLength(int slots, int kvDim) {
        return (kvDim + CHUNK - 1) / CHUNK * slots * CHUNK;
    }

    /** Where chunk {@code i / CHUNK} of a layer of {@code slots} slots begins: its row of slot 0. */
    public static int valueChunk(int slots, int i) {
        return i / CHUNK * slots * CHUNK;
    }

    /** Value element {@code i} of slot {@code slot} in a layer of {@code slots} slots: {@code [i / CHUNK][slot][i % CHUNK]}. */
    public static int valueIndex(int slots, int slot, int i) {
        return valueChunk(slots, i) + slot * CHUNK + i % CHUNK;
    }

    /**
     * Value block scale {@code block} of slot {@code slot} in a Q8_0 layer: {@code [block][slot]}, which is the index
     * of the block's first element divided by the block size, as in a cache of whole rows.
     */
    public static int valueScaleIndex(int slots, int slot, int block) {
        return block * slots + slot;
    }
}
