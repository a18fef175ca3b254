package dev.streamingllm.cache;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The keys and values of some slots of a cache as bytes, in the cache's own element type (little-endian): for each
 * layer its keys, then its values, each a row per slot in the order given. Shared by full snapshots and deltas.
 */
final class KvRows {

    private KvRows() {
    }

    static void write(DataOutputStream out, SinkCache cache, int[] slots) throws IOException {
        int kvDim = cache.kvDim();
        ByteBuffer row = ByteBuffer.allocate(kvDim * cache.type().bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int layer = 0; layer < cache.layers(); layer++) {
            for (int part = 0; part < 2; part++) {
                for (int slot : slots) {
                    int at = slot * kvDim;
                    row.clear();
                    if (cache.type() == CacheType.F16) {
                        row.asShortBuffer().put(part == 0 ? cache.halfKeys(layer) : cache.halfValues(layer), at, kvDim);
                    } else {
                        row.asFloatBuffer().put(part == 0 ? cache.keys(layer) : cache.values(layer), at, kvDim);
                    }
                    out.write(row.array());
                }
            }
        }
    }

    static void read(DataInputStream in, SinkCache cache, int[] slots) throws IOException {
        int kvDim = cache.kvDim();
        byte[] row = new byte[kvDim * cache.type().bytes()];
        for (int layer = 0; layer < cache.layers(); layer++) {
            for (int part = 0; part < 2; part++) {
                for (int slot : slots) {
                    int at = slot * kvDim;
                    in.readFully(row);
                    ByteBuffer buffer = ByteBuffer.wrap(row).order(ByteOrder.LITTLE_ENDIAN);
                    if (cache.type() == CacheType.F16) {
                        buffer.asShortBuffer().get(part == 0 ? cache.halfKeys(layer) : cache.halfValues(layer), at, kvDim);
                    } else {
                        buffer.asFloatBuffer().get(part == 0 ? cache.keys(layer) : cache.values(layer), at, kvDim);
                    }
                }
            }
        }
    }

    /** Bytes of {@code count} slots' rows. */
    static long bytes(SinkCache cache, int count) {
        return 2L * cache.layers() * count * cache.kvDim() * cache.type().bytes();
    }
}
