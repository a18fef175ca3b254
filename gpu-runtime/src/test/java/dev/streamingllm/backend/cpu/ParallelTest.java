package dev.streamingllm.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Collections;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The parallel loop the kernels run on: coverage, slice sizes, failures and nesting, at several thread counts. */
class ParallelTest {

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(Runtime.getRuntime().availableProcessors());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void everyIndexRunsExactlyOnceInSlicesOfAtLeastTheGrain(int threads) {
        Parallel.setThreads(threads);
        for (int n : new int[] {1, 7, 100, 1000, 100_003}) {
            for (int grain : new int[] {1, 3, 64, 10_000}) {
                AtomicIntegerArray runs = new AtomicIntegerArray(n);
                var shortSlices = Collections.synchronizedList(new java.util.ArrayList<String>());
                Parallel.forRange(n, grain, (start, end) -> {
                    if (end - start < grain && end != n) {
                        shortSlices.add(start + ".." + end);
                    }
                    for (int i = start; i < end; i++) {
                        runs.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertThat(runs.get(i)).as("index %d of %d, grain %d, %d threads", i, n, grain, threads).isEqualTo(1);
                }
                assertThat(shortSlices).as("slices shorter than the grain %d before the end of %d", grain, n).isEmpty();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void aFailingSliceIsRethrownAndThePoolKeepsWorking(int threads) {
        Parallel.setThreads(threads);
        assertThatThrownBy(() -> Parallel.forRange(1000, 1, (start, end) -> {
            if (start <= 500 && 500 < end) {
                throw new IllegalStateException("slice with 500");
            }
        })).isInstanceOf(IllegalStateException.class).hasMessage("slice with 500");

        AtomicLong sum = new AtomicLong();
        Parallel.forRange(1000, 1, (start, end) -> {
            for (int i = start; i < end; i++) {
                sum.addAndGet(i);
            }
        });
        assertThat(sum.get()).isEqualTo(999L * 1000 / 2);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void aLoopInsideALoopRunsInline(int threads) {
        Parallel.setThreads(threads);
        AtomicIntegerArray runs = new AtomicIntegerArray(64 * 64);
        Parallel.forRange(64, 1, (start, end) -> {
            for (int i = start; i < end; i++) {
                int row = i;
                Parallel.forRange(64, 1, (from, to) -> {
                    for (int j = from; j < to; j++) {
                        runs.incrementAndGet(row * 64 + j);
                    }
                });
            }
        });
        for (int k = 0; k < runs.length(); k++) {
            assertThat(runs.get(k)).as("cell %d", k).isEqualTo(1);
        }
    }
}
