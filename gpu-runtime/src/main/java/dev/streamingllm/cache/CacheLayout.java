package dev.streamingllm.cache;

/**
 * Where a sink cache layer keeps each element of its keys and values, laid out for the decode kernels, which read the
 * whole layer every token and so run at the speed of memory once the cache outgrows the processor's caches: each of
 * their units of work reads one stretch of memory from start to end.
 *
 * <p>Both are cut into chunks of {@value #CHUNK} elements (a Q8_0 block, half of a 64-element head): chunk {@code c}
 * of every slot, then chunk {@code c + 1}, the last chunk padded when the elements do not fill it. A KV head's work
 * reads its chunks from end to end, where rows of whole keys and values made it read a third or a sixth of each.
 *
 * <p><b>Keys</b> lie, within a chunk, in tiles of {@value #TILE} slots, element by element within a tile, so that
 * element {@code i} of {@value #TILE} neighbouring slots sits in one run. Decode attention then scores a vector's worth
 * of keys per multiply-add, each lane a key, and sums no lanes across a vector.
 *
 * <p><b>Values</b> lie, within a chunk, a row per slot: a weighted sum broadcasts a slot's weight over its row.
 */
public final class CacheLayout {

    /** Slots per key tile: a vector's lanes, or two vectors' with eight lanes. */
    public static final int TILE = 16;
    /** Elements per value chunk: a Q8_0 block. */
    public static final int CHUNK = CacheType.Q8_0_BLOCK;

    private CacheLayout() {
    }

    /** Key tiles of a layer of {@code slots} slots. */
    public static int tiles(int slots) {
        return Math.ceilDiv(slots, TILE);
    }

    /** Key elements of a layer of {@code slots} slots, whole chunks of whole tiles. */
    public static long keyLength(int slots, int kvDim) {
        return (long) chunks(kvDim) * tiles(slots) * CHUNK * TILE;
    }

    /**
     * Key element {@code i} of slot {@code slot} in a float or Q8_0 layer of {@code slots} slots:
     * {@code [i / CHUNK][tile][i % CHUNK][slot in tile]}.
     */
    public static int keyIndex(int slots, int slot, int i) {
        return ((i / CHUNK * tiles(slots) + slot / TILE) * CHUNK + i % CHUNK) * TILE + slot % TILE;
    }

    /**
     * Key element {@code i} of slot {@code slot} in a layer of halves: {@code [i / CHUNK][tile][i % CHUNK / 2][slot in
     * tile][i % 2]}, elements in pairs, so that a vector of {@code 2 L} halves holds elements {@code i} and
     * {@code i + 1} of {@code L} keys, one key to an int lane (the kernels' half conversion works on such pairs).
     */
    public static int halfKeyIndex(int slots, int slot, int i) {
        return ((i / CHUNK * tiles(slots) + slot / TILE) * CHUNK + (i % CHUNK & ~1)) * TILE + slot % TILE * 2 + (i & 1);
    }

    /** Key block scale {@code block} of slot {@code slot} in a Q8_0 layer: {@code [block][tile][slot in tile]}. */
    public static int keyScaleIndex(int slots, int slot, int block) {
        return (block * tiles(slots) + slot / TILE) * TILE + slot % TILE;
    }

    /** Key block scales of a Q8_0 layer of {@code slots} slots, whole tiles. */
    public static int keyScales(int slots, int kvDim) {
        return kvDim / CacheType.Q8_0_BLOCK * tiles(slots) * TILE;
    }

    private static int chunks(int kvDim) {
        return Math.ceilDiv(kvDim, CHUNK);
    }

    /** Value elements of a layer of {@code slots} slots, whole chunks. */
    public static long valueLength(int slots, int kvDim) {
        return (long) chunks(kvDim) * slots * CHUNK;
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
     * Copies a layer's keys (floats, halves or Q8_0 quants) laid out for {@code from} slots into an array laid out for
     * {@code to} slots, {@code to >= from}: each chunk's tiles are one run in both.
     */
    public static void copyKeys(Object src, int from, Object dst, int to, int kvDim) {
        int run = tiles(from) * CHUNK * TILE;
        for (int c = 0; c < chunks(kvDim); c++) {
            System.arraycopy(src, c * run, dst, c * tiles(to) * CHUNK * TILE, run);
        }
    }

    /** As {@link #copyKeys} for a Q8_0 layer's key block scales. */
    public static void copyKeyScales(short[] src, int from, short[] dst, int to, int kvDim) {
        int run = tiles(from) * TILE;
        for (int b = 0; b < kvDim / CacheType.Q8_0_BLOCK; b++) {
            System.arraycopy(src, b * run, dst, b * tiles(to) * TILE, run);
        }
    }

    /** As {@link #copyKeys} for a layer's values (floats, halves or Q8_0 quants): each chunk's rows are one run. */
    public static void copyValues(Object src, int from, Object dst, int to, int kvDim) {
        for (int c = 0; c < chunks(kvDim); c++) {
            System.arraycopy(src, c * from * CHUNK, dst, c * to * CHUNK, from * CHUNK);
        }
    }

    /** As {@link #copyKeys} for a Q8_0 layer's value block scales. */
    public static void copyValueScales(short[] src, int from, short[] dst, int to, int kvDim) {
        for (int b = 0; b < kvDim / CacheType.Q8_0_BLOCK; b++) {
            System.arraycopy(src, b * from, dst, b * to, from);
        }
    }

    /**
     * Value block scale {@code block} of slot {@code slot} in a Q8_0 layer: {@code [block][slot]}, which is the index
     * of the block's first element divided by the block size, as in a cache of whole rows.
     */
    public static int valueScaleIndex(int slots, int slot, int block) {
        return block * slots + slot;
    }
}
