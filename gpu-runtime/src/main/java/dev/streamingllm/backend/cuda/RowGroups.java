package dev.streamingllm.backend.cuda;

import dev.streamingllm.cache.SinkCache;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a prefill chunk of one session into groups that the GPU may run as one batch. The CPU writes
 * each token's key and attends before the next token writes; the GPU writes a whole group's keys, then
 * attends for every row. The two agree unless a later row overwrites a slot that an earlier row of
 * the same group still sees (the ring wraps over an entry about to be evicted), so a group ends just
 * before such a row. Before the cache is full a chunk is one group; at steady state with one-token
 * eviction each token is its own group, with batch eviction ({@code evictBatch}, {@code reserve})
 * groups grow back.
 */
final class RowGroups {

    private RowGroups() {
    }

    /** The end index (exclusive) of each group, in order; the last is {@code steps.size()}. */
    static int[] split(List<SinkCache.Step> steps, int sinkCapacity, int ringSize) {
        List<Integer> ends = new ArrayList<>();
        int start = 0;
        for (int j = 0; j < steps.size(); j++) {
            if (j > start && overwritesVisible(steps, start, j, sinkCapacity, ringSize)) {
                ends.add(j);
                start = j;
            }
        }
        ends.add(steps.size());
        return ends.stream().mapToInt(Integer::intValue).toArray();
    }

    private static boolean overwritesVisible(List<SinkCache.Step> steps, int from, int j, int sinkCapacity, int ringSize) {
        SinkCache.Step writer = steps.get(j);
        if (writer.sink()) {
            return false; // sink slots fill in order and are never reused, so no earlier row sees this one
        }
        int slot = writer.slot();
        for (int i = from; i < j; i++) {
            SinkCache.Step reader = steps.get(i);
            int index = Math.floorMod(slot - reader.ringStart(), ringSize);
            if (slot >= sinkCapacity && index < reader.ringCount()) {
                return true;
            }
        }
        return false;
    }
}
