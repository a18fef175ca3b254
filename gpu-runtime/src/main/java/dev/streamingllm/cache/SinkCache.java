package dev.streamingllm.cache;

import dev.streamingllm.gguf.GGMLQuantizer;

/**
 * One session's key/value cache: {@code sinks} first tokens plus a rolling {@code window} of recent
 * ones, never more than that.
 *
 * <p>Positions are places in the cache (StreamingLLM, section 3.2): sinks sit at 0..S-1 and the
 * window follows in order, the newest token last. Re-rotating every cached key at every step, as the
 * reference implementation does, is O(cache) per token. Instead keys are stored already rotated:
 * sink keys by their fixed place, window keys by an ever-growing window position {@code t}. Window
 * keys are consecutive in {@code t} and in place, so the query/window distance is the same in both
 * numberings; only the distance to the sinks changes as the window slides, so the query is rotated
 * twice: by {@code t} against window keys and by its place against sink keys. That is O(1) per token.
 *
 * <p>Layout per layer: slots [0, sinkCapacity) hold sinks (and pinned tokens); the remaining
 * {@code window + 1} slots are a ring, one slot larger than the window so that the token being
 * processed can attend to a full window before the oldest entry is evicted. Keys and values are
 * 32-bit floats, IEEE halves or Q8_0 blocks ({@link CacheType}), rounded as they are stored, and laid out for the
 * decode kernels ({@link CacheLayout}): keys in tiles of neighbouring slots, values in chunks of 32 elements.
 *
 * <p>The arrays are laid out for {@link #stride()} slots, at first {@value #FIRST_STRIDE}, doubled (up to all the slots)
 * when a token is admitted to the first slot past them: slots are taken in order until the ring first wraps, so a
 * conversation's cache grows with it. A whole cache allocated at once (45 MiB by default) goes through the young
 * generation and is copied out of it, and a burst of new conversations then stops every stream (BENCHMARKS.md,
 * serving).
 */
public final class SinkCache {

    /** The largest finite IEEE half. */
    private static final float HALF_MAX = 65504f;
    /** Slots a new cache's arrays are laid out for. */
    static final int FIRST_STRIDE = 64;

    private final CacheConfig config;
    private final int layers;
    private final int kvDim;
    private final boolean hostStorage;
    /** Slots the arrays are laid out for ({@link CacheLayout}). */
    private int stride;
    private float[][] keys;
    private float[][] values;
    private short[][] halfKeys;
    private short[][] halfValues;
    /** A Q8_0 cache's quants, a byte per value, and block scales, an IEEE half per {@value CacheType#Q8_0_BLOCK}. */
    private byte[][] quantKeys;
    private byte[][] quantValues;
    private short[][] keyScales;
    private short[][] valueScales;
    /** The token id held in each slot, so the window's token history travels with its keys and values. */
    private final int[] tokens;

    private int sinkCapacity;
    private int sinkCount;
    private int ringStart;
    private int ringCount;
    private long nextWindowPosition = -1;
    private long tokensSeen;
    private long evicted;

    public SinkCache(CacheConfig config, int layers, int kvDim) {
        this(config, layers, kvDim, true);
    }

    /**
     * The bookkeeping of a cache whose keys and values live elsewhere (a GPU backend's device slot):
     * {@link #admit(int)} plans exactly as for a host cache, and {@link #keys}/{@link #values} refuse.
     */
    public static SinkCache withoutHostStorage(CacheConfig config, int layers, int kvDim) {
        return new SinkCache(config, layers, kvDim, false);
    }

    private SinkCache(CacheConfig config, int layers, int kvDim, boolean hostStorage) {
        this.config = config;
        this.layers = layers;
        this.kvDim = kvDim;
        this.sinkCapacity = config.sinks();
        this.ringStart = sinkCapacity;
        // Whole chunks of whole key tiles are the longer of the two layouts.
        if (CacheLayout.keyLength(slots(), kvDim) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cache of " + config.capacity() + " tokens x " + kvDim + " values per layer is too large");
        }
        CacheType type = config.type();
        if (type == CacheType.Q8_0 && kvDim % CacheType.Q8_0_BLOCK != 0) {
            throw new IllegalArgumentException("a q8_0 cache stores blocks of " + CacheType.Q8_0_BLOCK
                    + " values; this model's " + kvDim + " key values per token are not whole blocks (use f16)");
        }
        this.hostStorage = hostStorage;
        this.tokens = new int[slots()];
        if (hostStorage) {
            layOut(Math.min(slots(), FIRST_STRIDE));
        } else {
            stride = slots();
        }
    }

    /** Lays the arrays out for {@code slots} slots, the entries already stored copied over. */
    private void layOut(int slots) {
        int from = stride;
        int keyLength = (int) CacheLayout.keyLength(slots, kvDim);
        int valueLength = (int) CacheLayout.valueLength(slots, kvDim);
        switch (config.type()) {
            case F32 -> {
                float[][] k = new float[layers][keyLength];
                float[][] v = new float[layers][valueLength];
                copy(keys, values, k, v, from, slots);
                keys = k;
                values = v;
            }
            case F16 -> {
                short[][] k = new short[layers][keyLength];
                short[][] v = new short[layers][valueLength];
                copy(halfKeys, halfValues, k, v, from, slots);
                halfKeys = k;
                halfValues = v;
            }
            case Q8_0 -> {
                byte[][] k = new byte[layers][keyLength];
                byte[][] v = new byte[layers][valueLength];
                short[][] ks = new short[layers][CacheLayout.keyScales(slots, kvDim)];
                short[][] vs = new short[layers][valueLength / CacheType.Q8_0_BLOCK];
                copy(quantKeys, quantValues, k, v, from, slots);
                for (int layer = 0; keyScales != null && layer < layers; layer++) {
                    CacheLayout.copyKeyScales(keyScales[layer], from, ks[layer], slots, kvDim);
                    CacheLayout.copyValueScales(valueScales[layer], from, vs[layer], slots, kvDim);
                }
                quantKeys = k;
                quantValues = v;
                keyScales = ks;
                valueScales = vs;
            }
        }
        stride = slots;
    }

    /** Each layer's keys and values laid out for {@code from} slots, copied into arrays for {@code to} (none at first). */
    private void copy(Object[] oldKeys, Object[] oldValues, Object[] newKeys, Object[] newValues, int from, int to) {
        for (int layer = 0; oldKeys != null && layer < layers; layer++) {
            CacheLayout.copyKeys(oldKeys[layer], from, newKeys[layer], to, kvDim);
            CacheLayout.copyValues(oldValues[layer], from, newValues[layer], to, kvDim);
        }
    }

    /** Lays the arrays out for at least {@code slots} slots: double the stride, or all the slots. */
    void fit(int slots) {
        if (hostStorage && slots > stride) {
            layOut(Math.min(slots(), Math.max(slots, 2 * stride)));
        }
    }

    /** Slots the arrays are laid out for ({@link CacheLayout}): at most {@link #slots()}, and more than every slot held. */
    public int stride() {
        return stride;
    }

    /** Where the next token goes and what it may attend to; see {@link #admit(int)}. */
    public record Step(
            int slot,
            boolean sink,
            long windowPosition,
            long sinkPosition,
            int sinkCount,
            int ringStart,
            int ringCount) {

        /** The position its key is rotated with before it is stored. */
        public long keyPosition() {
            return sink ? sinkPosition : windowPosition;
        }
    }

    /**
     * Plans the next token: its slot, its positions, and the visible keys (all sinks, then
     * {@code ringCount} ring entries from {@code ringStart}, including the token itself). Evicts per
     * the policy afterwards, so a chunk of tokens is planned by calling this once per token, in order.
     */
    public Step admit(int token) {
        Step step;
        int place = sinkCount + ringCount;
        if (sinkCount < sinkCapacity) {
            step = new Step(sinkCount, true, place, place, sinkCount + 1, ringStart, 0);
            sinkCount++;
        } else {
            if (nextWindowPosition < 0) {
                nextWindowPosition = place;
            }
            int ringSlot = ringSlot(ringStart + ringCount);
            ringCount++;
            step = new Step(ringSlot, false, nextWindowPosition++, place, sinkCount, ringStart, ringCount);
        }
        fit(step.slot() + 1);
        tokens[step.slot()] = token;
        tokensSeen++;
        if (sinkCount + ringCount > config.capacity()) {
            evict(Math.min(config.evictBatch(), ringCount));
        }
        return step;
    }

    /** The slot of ring entry {@code index} counted from the ring's start (wraps). */
    public int ringSlot(int index) {
        int ringSize = slots() - sinkCapacity;
        return sinkCapacity + Math.floorMod(index - sinkCapacity, ringSize);
    }

    /**
     * Keeps the first {@code tokens} tokens of the stream next to the sinks, never evicted (for a
     * chat's system prompt). Only possible while the window is still empty.
     */
    public void pinFirst(int tokens) {
        if (ringCount > 0 || nextWindowPosition >= 0) {
            throw new IllegalStateException("tokens can only be pinned before the window starts filling");
        }
        if (tokens >= config.capacity()) {
            throw new IllegalArgumentException("cannot pin " + tokens + " tokens in a cache of " + config.capacity()
                    + ": at least one window slot must stay free");
        }
        sinkCapacity = Math.max(config.sinks(), tokens);
        ringStart = sinkCapacity;
    }

    /** Evicts the oldest window tokens so that {@code tokens} more fit without eviction (as far as the window allows). */
    public void reserve(int tokens) {
        int overflow = sinkCount + ringCount + tokens - config.capacity();
        if (overflow > 0) {
            evict(Math.min(overflow, ringCount));
        }
    }

    /**
     * Lays the arrays out at once for {@code tokens} more tokens, as far as the slots go: a long prompt grows its cache
     * in one copy before its prefill, not in one per doubling inside the steps that prefill it, beside other streams.
     * Until the ring first wraps, every slot taken is below {@code sinkCapacity + tokensSeen}.
     */
    public void prepare(int tokens) {
        fit((int) Math.min(slots(), (long) sinkCapacity + tokensSeen + tokens));
    }

    private void evict(int count) {
        ringStart = ringSlot(ringStart + count);
        ringCount -= count;
        evicted += count;
    }

    /** The bookkeeping a snapshot must carry besides the keys and values. */
    record State(int sinkCapacity, int sinkCount, int ringStart, int ringCount, long nextWindowPosition, long tokensSeen, long evicted) {
    }

    State state() {
        return new State(sinkCapacity, sinkCount, ringStart, ringCount, nextWindowPosition, tokensSeen, evicted);
    }

    void restore(State state) {
        if (state.sinkCapacity < config.sinks() || state.sinkCapacity >= config.capacity()
                || state.sinkCount > state.sinkCapacity || state.ringCount > config.capacity() - state.sinkCount
                || state.ringStart < state.sinkCapacity || state.ringStart >= slots()) {
            throw new IllegalArgumentException("snapshot state " + state + " does not fit a cache of " + config);
        }
        sinkCapacity = state.sinkCapacity;
        sinkCount = state.sinkCount;
        ringStart = state.ringStart;
        ringCount = state.ringCount;
        nextWindowPosition = state.nextWindowPosition;
        tokensSeen = state.tokensSeen;
        evicted = state.evicted;
    }

    /** The token ids the cache holds, in cache order: sinks (and pinned tokens), then the window oldest first. */
    public int[] tokens() {
        int[] held = new int[size()];
        for (int j = 0; j < held.length; j++) {
            held[j] = tokens[occupiedSlot(j)];
        }
        return held;
    }

    /** The slot of the {@code j}-th held token in cache order. */
    int occupiedSlot(int j) {
        return j < sinkCount ? j : ringSlot(ringStart + j - sinkCount);
    }

    /** The slots of held entries {@code from} to {@code to} (exclusive) in cache order. */
    int[] occupiedSlots(int from, int to) {
        int[] slots = new int[to - from];
        for (int j = from; j < to; j++) {
            slots[j - from] = occupiedSlot(j);
        }
        return slots;
    }

    /** Sets the token id of a slot (restoring a snapshot). */
    void token(int slot, int token) {
        tokens[slot] = token;
    }

    /** Layer {@code layer}'s keys in tiles ({@link CacheLayout#keyIndex}), of a {@link CacheType#F32} cache. */
    public float[] keys(int layer) {
        requireStorage(CacheType.F32);
        return keys[layer];
    }

    /** Element {@code i} of slot {@code slot}'s key in layer {@code layer} as a float, whatever the cache's type. */
    public float key(int layer, int slot, int i) {
        int slots = stride;
        return switch (config.type()) {
            case F32 -> keys[layer][CacheLayout.keyIndex(slots, slot, i)];
            case F16 -> Float.float16ToFloat(halfKeys[layer][CacheLayout.halfKeyIndex(slots, slot, i)]);
            case Q8_0 -> quantKeys[layer][CacheLayout.keyIndex(slots, slot, i)]
                    * Float.float16ToFloat(keyScales[layer][CacheLayout.keyScaleIndex(slots, slot, i / CacheType.Q8_0_BLOCK)]);
        };
    }

    /** Layer {@code layer}'s values in chunks ({@link CacheLayout#valueIndex}), of a {@link CacheType#F32} cache. */
    public float[] values(int layer) {
        requireStorage(CacheType.F32);
        return values[layer];
    }

    /** Layer {@code layer}'s keys as IEEE half bits in tiles ({@link CacheLayout#halfKeyIndex}), of a {@link CacheType#F16} cache. */
    public short[] halfKeys(int layer) {
        requireStorage(CacheType.F16);
        return halfKeys[layer];
    }

    /** Layer {@code layer}'s values as IEEE half bits in chunks ({@link CacheLayout#valueIndex}), of a {@link CacheType#F16} cache. */
    public short[] halfValues(int layer) {
        requireStorage(CacheType.F16);
        return halfValues[layer];
    }

    /**
     * Layer {@code layer}'s key quants in tiles ({@link CacheLayout#keyIndex}), of a {@link CacheType#Q8_0} cache: element
     * {@code i} of a slot is its quant times the half of its block {@code i / 32} ({@link CacheLayout#keyScaleIndex}).
     */
    public byte[] quantKeys(int layer) {
        requireStorage(CacheType.Q8_0);
        return quantKeys[layer];
    }

    /** Layer {@code layer}'s key block scales as IEEE half bits in tiles ({@link CacheLayout#keyScaleIndex}), of a {@link CacheType#Q8_0} cache. */
    public short[] keyScales(int layer) {
        requireStorage(CacheType.Q8_0);
        return keyScales[layer];
    }

    /**
     * Layer {@code layer}'s value quants in chunks ({@link CacheLayout#valueIndex}), of a {@link CacheType#Q8_0} cache:
     * the quant at index {@code e} times the half {@code valueScales(layer)[e / 32]}.
     */
    public byte[] quantValues(int layer) {
        requireStorage(CacheType.Q8_0);
        return quantValues[layer];
    }

    /** Layer {@code layer}'s value block scales as IEEE half bits ({@link CacheLayout#valueScaleIndex}), of a {@link CacheType#Q8_0} cache. */
    public short[] valueScales(int layer) {
        requireStorage(CacheType.Q8_0);
        return valueScales[layer];
    }

    /**
     * Stores one token's key and value rows of layer {@code layer} in {@code slot}, in the cache's type. Halves and
     * Q8_0 inputs saturate at the largest finite half (65504): the CPU kernels read them as finite numbers, and an
     * attention score against an infinite key would be NaN anyway.
     */
    public void store(int layer, int slot, float[] key, int keyOffset, float[] value, int valueOffset) {
        requireStorage(config.type());
        int slots = stride;
        switch (config.type()) {
            case F32 -> {
                for (int i = 0; i < kvDim; i++) {
                    keys[layer][CacheLayout.keyIndex(slots, slot, i)] = key[keyOffset + i];
                    values[layer][CacheLayout.valueIndex(slots, slot, i)] = value[valueOffset + i];
                }
            }
            case F16 -> {
                for (int i = 0; i < kvDim; i++) {
                    halfKeys[layer][CacheLayout.halfKeyIndex(slots, slot, i)] = half(key[keyOffset + i]);
                    halfValues[layer][CacheLayout.valueIndex(slots, slot, i)] = half(value[valueOffset + i]);
                }
            }
            case Q8_0 -> {
                float[] block = new float[CacheType.Q8_0_BLOCK];
                byte[] quants = new byte[CacheType.Q8_0_BLOCK];
                for (int b = 0; b < kvDim / block.length; b++) {
                    int first = b * block.length;
                    keyScales[layer][CacheLayout.keyScaleIndex(slots, slot, b)] = q8_0(key, keyOffset + first, block, quants, 0);
                    for (int i = 0; i < block.length; i++) {
                        quantKeys[layer][CacheLayout.keyIndex(slots, slot, first + i)] = quants[i];
                    }
                    valueScales[layer][CacheLayout.valueScaleIndex(slots, slot, b)] =
                            q8_0(value, valueOffset + first, block, quantValues[layer], CacheLayout.valueIndex(slots, slot, first));
                }
            }
        }
    }

    private static short half(float value) {
        return Float.floatToFloat16(Math.clamp(value, -HALF_MAX, HALF_MAX));
    }

    /** One saturated Q8_0 block of {@code row} from {@code offset} into {@code quants[at ..]}; returns its scale. */
    private static short q8_0(float[] row, int offset, float[] block, byte[] quants, int at) {
        for (int i = 0; i < block.length; i++) {
            block[i] = Math.clamp(row[offset + i], -HALF_MAX, HALF_MAX);
        }
        return GGMLQuantizer.q8_0Block(block, 0, quants, at);
    }

    private void requireStorage(CacheType type) {
        if (keys == null && halfKeys == null && quantKeys == null) {
            throw new IllegalStateException("this cache's keys and values live on a device, not on the heap");
        }
        if (config.type() != type) {
            throw new IllegalStateException("this cache stores " + config.type() + ", not " + type);
        }
    }

    public CacheConfig config() {
        return config;
    }

    public int layers() {
        return layers;
    }

    public int kvDim() {
        return kvDim;
    }

    /** Slots per layer: the capacity plus one for the token in flight. */
    public int slots() {
        return config.capacity() + 1;
    }

    /** Tokens held between steps (sinks, pinned tokens and window). */
    public int size() {
        return sinkCount + ringCount;
    }

    public int sinkCapacity() {
        return sinkCapacity;
    }

    public long tokensSeen() {
        return tokensSeen;
    }

    public long evicted() {
        return evicted;
    }

    public CacheType type() {
        return config.type();
    }

    /** Bytes of keys and values the cache holds once its conversation fills it (it grows to that: {@link #stride()}). */
    public long bytes() {
        return config.bytes(layers, kvDim);
    }
}
