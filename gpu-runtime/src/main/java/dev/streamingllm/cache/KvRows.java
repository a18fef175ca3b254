package dev.streamingllm.cache;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The keys and values of some slots of a cache as bytes, in the cache's own element type (little-endian): for each
 * layer its keys, then its values, each a row per slot in the order given. A Q8_0 row is its quants, then its block
 * scales. Shared by full snapshots and deltas.
 */
final class KvRows {

    private KvRows() {
    }

    static void write(DataOutputStream out, SinkCache cache, int[] slots) throws IOException {
        ByteBuffer row = ByteBuffer.allocate(rowBytes(cache)).order(ByteOrder.LITTLE_ENDIAN);
        for (int layer = 0; layer < cache.layers(); layer++) {
            for (int part = 0; part < 2; part++) {
                for (int slot : slots) {
                    row.clear();
                    copy(cache, layer, part == 0, slot, row, true);
                    out.write(row.array());
                }
            }
        }
    }

    static void read(DataInputStream in, SinkCache cache, int[] slots) throws IOException {
        cache.fit(Arrays.stream(slots).max().orElse(-1) + 1);
        byte[] bytes = new byte[rowBytes(cache)];
        ByteBuffer row = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int layer = 0; layer < cache.layers(); layer++) {
            for (int part = 0; part < 2; part++) {
                for (int slot : slots) {
                    in.readFully(bytes);
                    row.clear();
                    copy(cache, layer, part == 0, slot, row, false);
                }
            }
        }
    }

    /**
     * Copies one slot's key ({@code key}) or value row between the cache and {@code row}: into it, or out of it. A row
     * is the slot's elements in order (a Q8_0 row its quants, then its block scales), whatever the cache's layout.
     */
    private static void copy(SinkCache cache, int layer, boolean key, int slot, ByteBuffer row, boolean out) {
        int kvDim = cache.kvDim();
        int slots = cache.stride();
        switch (cache.type()) {
            case F32 -> {
                float[] elements = key ? cache.keys(layer) : cache.values(layer);
                for (int i = 0; i < kvDim; i++) {
                    int at = key ? CacheLayout.keyIndex(slots, slot, i) : CacheLayout.valueIndex(slots, slot, i);
                    if (out) {
                        row.putFloat(elements[at]);
                    } else {
                        elements[at] = row.getFloat();
                    }
                }
            }
            case F16 -> {
                short[] elements = key ? cache.halfKeys(layer) : cache.halfValues(layer);
                for (int i = 0; i < kvDim; i++) {
                    int at = key ? CacheLayout.halfKeyIndex(slots, slot, i) : CacheLayout.valueIndex(slots, slot, i);
                    if (out) {
                        row.putShort(elements[at]);
                    } else {
                        elements[at] = row.getShort();
                    }
                }
            }
            case Q8_0 -> {
                byte[] quants = key ? cache.quantKeys(layer) : cache.quantValues(layer);
                short[] scales = key ? cache.keyScales(layer) : cache.valueScales(layer);
                for (int i = 0; i < kvDim; i++) {
                    int at = key ? CacheLayout.keyIndex(slots, slot, i) : CacheLayout.valueIndex(slots, slot, i);
                    if (out) {
                        row.put(quants[at]);
                    } else {
                        quants[at] = row.get();
                    }
                }
                for (int b = 0; b < kvDim / CacheType.Q8_0_BLOCK; b++) {
                    int at = key ? CacheLayout.keyScaleIndex(slots, slot, b) : CacheLayout.valueScaleIndex(slots, slot, b);
                    if (out) {
                        row.putShort(scales[at]);
                    } else {
                        scales[at] = row.getShort();
                    }
                }
            }
        }
    }

    private static int rowBytes(SinkCache cache) {
        return (int) cache.type().bytes(cache.kvDim());
    }

    /** Bytes of {@code count} slots' rows. */
    static long bytes(SinkCache cache, int count) {
        return 2L * cache.layers() * count * rowBytes(cache);
    }
}
