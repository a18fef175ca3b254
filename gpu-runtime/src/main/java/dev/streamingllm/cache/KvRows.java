package dev.streamingllm.cache;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

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
     * is the slot's elements in order whatever the cache's layout, so keys are gathered from their tiles.
     */
    private static void copy(SinkCache cache, int layer, boolean key, int slot, ByteBuffer row, boolean out) {
        int kvDim = cache.kvDim();
        int at = slot * kvDim;
        switch (cache.type()) {
            case F32 -> {
                if (key) {
                    float[] keys = cache.keys(layer);
                    for (int i = 0; i < kvDim; i++) {
                        int k = KeyTiles.index(kvDim, slot, i);
                        if (out) {
                            row.putFloat(keys[k]);
                        } else {
                            keys[k] = row.getFloat();
                        }
                    }
                } else if (out) {
                    row.asFloatBuffer().put(cache.values(layer), at, kvDim);
                } else {
                    row.asFloatBuffer().get(cache.values(layer), at, kvDim);
                }
            }
            case F16 -> {
                if (key) {
                    short[] keys = cache.halfKeys(layer);
                    for (int i = 0; i < kvDim; i++) {
                        int k = KeyTiles.halfIndex(kvDim, slot, i);
                        if (out) {
                            row.putShort(keys[k]);
                        } else {
                            keys[k] = row.getShort();
                        }
                    }
                } else if (out) {
                    row.asShortBuffer().put(cache.halfValues(layer), at, kvDim);
                } else {
                    row.asShortBuffer().get(cache.halfValues(layer), at, kvDim);
                }
            }
            case Q8_0 -> {
                int blocks = kvDim / CacheType.Q8_0_BLOCK;
                if (key) {
                    byte[] quants = cache.quantKeys(layer);
                    short[] scales = cache.keyScales(layer);
                    for (int i = 0; i < kvDim; i++) {
                        int k = KeyTiles.index(kvDim, slot, i);
                        if (out) {
                            row.put(quants[k]);
                        } else {
                            quants[k] = row.get();
                        }
                    }
                    for (int b = 0; b < blocks; b++) {
                        int k = KeyTiles.scaleIndex(kvDim, slot, b);
                        if (out) {
                            row.putShort(scales[k]);
                        } else {
                            scales[k] = row.getShort();
                        }
                    }
                } else if (out) {
                    row.put(cache.quantValues(layer), at, kvDim).asShortBuffer().put(cache.valueScales(layer), at / CacheType.Q8_0_BLOCK, blocks);
                } else {
                    row.get(cache.quantValues(layer), at, kvDim).asShortBuffer().get(cache.valueScales(layer), at / CacheType.Q8_0_BLOCK, blocks);
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
