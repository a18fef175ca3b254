package dev.streamingllm.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GPU writes a group's keys before any row of it attends; the CPU writes and attends token by
 * token. Simulating which token sits in each slot, both orders must show every row the same tokens.
 */
class RowGroupsTest {

    @ParameterizedTest(name = "sinks={0} window={1} evictBatch={2} chunk={3} pin={4}")
    @CsvSource({
            "4, 28, 1, 64, 0",
            "4, 28, 7, 64, 0",
            "0, 16, 1, 5, 0",
            "2, 14, 14, 64, 0",
            "4, 8, 3, 13, 6",
            "1, 1, 1, 4, 0",
            "4, 100, 1, 64, 0"})
    void groupedWritesShowEveryRowWhatTheCpuShowsIt(int sinks, int window, int evictBatch, int chunk, int pin) {
        SinkCache cache = SinkCache.withoutHostStorage(new CacheConfig(sinks, window, evictBatch), 1, 1);
        if (pin > 0) {
            cache.pinFirst(pin);
        }
        int[] sequential = new int[cache.slots()];
        int[] grouped = new int[cache.slots()];
        Arrays.fill(sequential, -1);
        Arrays.fill(grouped, -1);
        int token = 0;
        int groups = 0;
        for (int c = 0; c < 12; c++) {
            List<SinkCache.Step> steps = new ArrayList<>();
            for (int i = 0; i < chunk; i++) {
                steps.add(cache.admit(i));
            }
            int ringSize = cache.slots() - cache.sinkCapacity();
            int[] ends = RowGroups.split(steps, cache.sinkCapacity(), ringSize);
            assertThat(ends[ends.length - 1]).isEqualTo(chunk);
            groups += ends.length;
            int start = 0;
            for (int end : ends) {
                for (int i = start; i < end; i++) {
                    grouped[steps.get(i).slot()] = token + i;
                }
                for (int i = start; i < end; i++) {
                    sequential[steps.get(i).slot()] = token + i;
                    SinkCache.Step s = steps.get(i);
                    assertThat(visible(grouped, s, cache)).as("row %d of chunk %d", i, c).isEqualTo(visible(sequential, s, cache));
                }
                start = end;
            }
            token += chunk;
        }
        // Never worse than one group per token, and one group per chunk while the cache fills.
        assertThat(groups).isBetween(12, 12 * chunk);
    }

    private static List<Integer> visible(int[] slots, SinkCache.Step step, SinkCache cache) {
        List<Integer> tokens = new ArrayList<>();
        for (int j = 0; j < step.sinkCount(); j++) {
            tokens.add(slots[j]);
        }
        for (int j = 0; j < step.ringCount(); j++) {
            tokens.add(slots[cache.ringSlot(step.ringStart() + j)]);
        }
        return tokens;
    }

    @ParameterizedTest(name = "evictBatch={0}")
    @CsvSource({"1, 1", "8, 8"})
    void groupsAreAsLargeAsTheEvictionAllows(int evictBatch, int expectedAtSteadyState) {
        SinkCache cache = SinkCache.withoutHostStorage(new CacheConfig(4, 16, evictBatch), 1, 1);
        List<SinkCache.Step> filling = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            filling.add(cache.admit(i));
        }
        assertThat(RowGroups.split(filling, cache.sinkCapacity(), cache.slots() - cache.sinkCapacity())).containsExactly(20);
        List<SinkCache.Step> steady = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            steady.add(cache.admit(i));
        }
        int[] ends = RowGroups.split(steady, cache.sinkCapacity(), cache.slots() - cache.sinkCapacity());
        assertThat(ends[0]).isLessThanOrEqualTo(expectedAtSteadyState);
        assertThat(ends[0]).isPositive();
    }
}
