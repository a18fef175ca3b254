package dev.streamingllm.backend.cuda;

import dev.streamingllm.cache.SinkCache;
import java.util.List;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * Where each row of a pass reads and writes: the CPU's {@link SinkCache#admit(int)} plan of every row,
 * uploaded before the pass into per-row device arrays that {@code rope_store} and {@code attention}
 * index by row.
 */
final class RowPlan implements AutoCloseable {

    /** One token of one session in a pass: the session's pool slot, its cache and the plan for this token. */
    record Row(int poolSlot, SinkCache cache, SinkCache.Step step) {
    }

    final Cuda.DevicePtr poolSlot, cacheSlot, windowPos, sinkPos, isSink, sinkCount, ringStart, ringCount, sinkCapacity, ringSize;

    /** Device arrays for up to {@code maxRows} rows. */
    RowPlan(int maxRows) {
        this.poolSlot = Cuda.malloc(maxRows * 4L, "rows");
        this.cacheSlot = Cuda.malloc(maxRows * 4L, "rows");
        this.windowPos = Cuda.malloc(maxRows * 8L, "rows");
        this.sinkPos = Cuda.malloc(maxRows * 8L, "rows");
        this.isSink = Cuda.malloc(maxRows * 4L, "rows");
        this.sinkCount = Cuda.malloc(maxRows * 4L, "rows");
        this.ringStart = Cuda.malloc(maxRows * 4L, "rows");
        this.ringCount = Cuda.malloc(maxRows * 4L, "rows");
        this.sinkCapacity = Cuda.malloc(maxRows * 4L, "rows");
        this.ringSize = Cuda.malloc(maxRows * 4L, "rows");
    }

    void upload(List<Row> rows) {
        int n = rows.size();
        int[] poolSlots = new int[n], cacheSlots = new int[n], isSinks = new int[n], sinkCounts = new int[n], ringStarts = new int[n],
                ringCounts = new int[n], sinkCapacities = new int[n], ringSizes = new int[n];
        long[] windowPositions = new long[n], sinkPositions = new long[n];
        for (int i = 0; i < n; i++) {
            Row r = rows.get(i);
            SinkCache.Step s = r.step();
            poolSlots[i] = r.poolSlot();
            cacheSlots[i] = s.slot();
            isSinks[i] = s.sink() ? 1 : 0;
            sinkCounts[i] = s.sinkCount();
            ringStarts[i] = s.ringStart();
            ringCounts[i] = s.ringCount();
            sinkCapacities[i] = r.cache().sinkCapacity();
            ringSizes[i] = r.cache().slots() - r.cache().sinkCapacity();
            windowPositions[i] = s.windowPosition();
            sinkPositions[i] = s.sinkPosition();
        }
        ints(poolSlot, poolSlots);
        ints(cacheSlot, cacheSlots);
        ints(isSink, isSinks);
        ints(sinkCount, sinkCounts);
        ints(ringStart, ringStarts);
        ints(ringCount, ringCounts);
        ints(sinkCapacity, sinkCapacities);
        ints(ringSize, ringSizes);
        try (LongPointer w = new LongPointer(windowPositions); LongPointer s = new LongPointer(sinkPositions)) {
            Cuda.upload(windowPos, w, n * 8L);
            Cuda.upload(sinkPos, s, n * 8L);
        }
    }

    /** The most cache entries any row attends to. */
    static int maxVisible(List<Row> rows) {
        int max = 0;
        for (Row r : rows) {
            max = Math.max(max, r.step().sinkCount() + r.step().ringCount());
        }
        return max;
    }

    private static void ints(Cuda.DevicePtr destination, int[] values) {
        try (IntPointer host = new IntPointer(values)) {
            Cuda.upload(destination, host, values.length * 4L);
        }
    }

    @Override
    public void close() {
        for (Cuda.DevicePtr p : List.of(poolSlot, cacheSlot, windowPos, sinkPos, isSink, sinkCount, ringStart, ringCount, sinkCapacity,
                ringSize)) {
            Cuda.free(p);
        }
    }
}
