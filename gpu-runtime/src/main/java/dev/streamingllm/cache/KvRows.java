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

    /** Copies one slot's key ({@code key}) or value row between the cache and {@code row}: into it, or out of it. */
    private static void copy(SinkCache cache, int layer, boolean key, int slot, ByteBuffer row, boolean out) {
        int kvDim = cache.kvDim();
        int at = slot * kvDim;
        switch (cache.type()) {
            case F32 -> {
                float[] rows = key ? cache.keys(layer) : cache.values(layer);
                if (out) {
                    row.asFloatBuffer().put(rows, at, kvDim);
                } else {
                    row.asFloatBuffer().get(rows, at, kvDim);
                }
            }
            case F16 -> {
                short[] rows = key ? cache.halfKeys(layer) : cache.halfValues(layer);
                if (out) {
                    row.asShortBuffer().put(rows, at, kvDim);
                } else {
                    row.asShortBuffer().get(rows, at, kvDim);
                }
            }
            case Q8_0 -> {
                byte[] quants = key ? cache.quantKeys(layer) : cache.quantValues(layer);
                short[] scales = key ? cache.keyScales(layer) : cache.valueScales(layer);
                int blocks = kvDim / CacheType.Q8_0_BLOCK;
                if (out) {
                    row.put(quants, at, kvDim).asShortBuffer().put(scales, at / CacheType.Q8_0_BLOCK, blocks);
                } else {
                    row.get(quants, at, kvDim).asShortBuffer().get(scales, at / CacheType.Q8_0_BLOCK, blocks);
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
