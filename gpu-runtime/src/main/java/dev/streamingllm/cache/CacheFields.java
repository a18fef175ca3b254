package dev.streamingllm.cache;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** The geometry and bookkeeping fields that full snapshots and deltas of a sink cache both carry, in one byte order. */
final class CacheFields {

    private CacheFields() {
    }

    /** Layers, kvDim, sinks, window, evict batch and element type. */
    static void writeGeometry(DataOutputStream out, SinkCache cache) throws IOException {
        CacheConfig config = cache.config();
        out.writeInt(cache.layers());
        out.writeInt(cache.kvDim());
        out.writeInt(config.sinks());
        out.writeInt(config.window());
        out.writeInt(config.evictBatch());
        out.writeInt(config.type().ordinal());
    }

    static void writeState(DataOutputStream out, SinkCache.State state) throws IOException {
        out.writeInt(state.sinkCapacity());
        out.writeInt(state.sinkCount());
        out.writeInt(state.ringStart());
        out.writeInt(state.ringCount());
        out.writeLong(state.nextWindowPosition());
        out.writeLong(state.tokensSeen());
        out.writeLong(state.evicted());
    }

    static SinkCache.State readState(DataInputStream in) throws IOException {
        return new SinkCache.State(in.readInt(), in.readInt(), in.readInt(), in.readInt(), in.readLong(), in.readLong(), in.readLong());
    }
}
