package dev.streamingllm.cache;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A sink cache as bytes, so that another process can continue the stream exactly: geometry,
 * bookkeeping, the token ids and the keys and values of the occupied slots only (sinks and the live
 * window), followed by a CRC-32C of everything before it.
 */
public final class SinkCacheSnapshot {

    private static final int MAGIC = 0x534e4b33; // "SNK3": SNK2 plus the element type

    private SinkCacheSnapshot() {
    }

    public static byte[] write(SinkCache cache) {
        SinkCache.State state = cache.state();
        int occupied = state.sinkCount() + state.ringCount();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) (64 + 4L * occupied + KvRows.bytes(cache, occupied)));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            CacheFields.writeGeometry(out, cache);
            CacheFields.writeState(out, state);
            for (int token : cache.tokens()) {
                out.writeInt(token);
            }
            KvRows.write(out, cache, cache.occupiedSlots(0, occupied));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return SnapshotFrame.seal(bytes.toByteArray());
    }

    /** Rebuilds a cache of the given model dimensions; any mismatch or corruption is an {@link IllegalArgumentException}. */
    public static SinkCache read(byte[] snapshot, int layers, int kvDim) {
        int body = SnapshotFrame.open(snapshot, 0, "snapshot");
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(snapshot, 0, body))) {
            int magic = in.readInt();
            if (magic == 0x534e4b32) {
                throw new IllegalArgumentException("a sink cache snapshot of the earlier format SNK2, without the element type");
            }
            if (magic != MAGIC) {
                throw new IllegalArgumentException("not a sink cache snapshot");
            }
            int snapshotLayers = in.readInt();
            int snapshotKvDim = in.readInt();
            if (snapshotLayers != layers || snapshotKvDim != kvDim) {
                throw new IllegalArgumentException("snapshot is for " + snapshotLayers + " layers x " + snapshotKvDim
                        + " KV values, the model has " + layers + " x " + kvDim);
            }
            int sinks = in.readInt();
            int window = in.readInt();
            int evictBatch = in.readInt();
            int type = in.readInt();
            if (type < 0 || type >= CacheType.values().length) {
                throw new IllegalArgumentException("snapshot has an unknown cache type " + type);
            }
            SinkCache cache = new SinkCache(new CacheConfig(sinks, window, evictBatch, CacheType.values()[type]), layers, kvDim);
            SinkCache.State state = CacheFields.readState(in);
            cache.restore(state);
            int occupied = state.sinkCount() + state.ringCount();
            for (int j = 0; j < occupied; j++) {
                cache.token(cache.occupiedSlot(j), in.readInt());
            }
            KvRows.read(in, cache, cache.occupiedSlots(0, occupied));
            if (in.available() != 0) {
                throw new IllegalArgumentException("snapshot has " + in.available() + " unexpected trailing bytes");
            }
            return cache;
        } catch (IOException e) {
            throw new IllegalArgumentException("snapshot is truncated: " + e.getMessage(), e);
        }
    }
}
