package dev.streamingllm.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.testing.Shared;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The measurements BENCHMARKS.md quotes, on the real stories260K: they run and report what they claim. */
class BenchmarksTest {

    static Model model;
    static Benchmarks bench;

    @BeforeAll
    static void load() {
        model = Model.load(Shared.model("stories260K.gguf"));
        bench = new Benchmarks(model.transformer());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void throughputCountsTheTokensItTimed() {
        Benchmarks.Throughput result = bench.throughput(16, 8, 1);
        assertThat(result.promptTokens()).isEqualTo(16);
        assertThat(result.generatedTokens()).isEqualTo(8);
        assertThat(result.prefillTokensPerSecond()).isPositive();
        assertThat(result.decodeTokensPerSecond()).isPositive();
    }

    @Test
    void latencyIsMeasuredForRecomputeAndStreamingOnly() {
        assertThat(bench.latency(AttentionMode.RECOMPUTE, 32, 2).msPerToken()).isPositive();
        assertThat(bench.latency(AttentionMode.STREAMING, 32, 2).msPerToken()).isPositive();
        assertThatThrownBy(() -> bench.latency(AttentionMode.WINDOW, 32, 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void streamReportsEveryBlock() {
        List<Benchmarks.StreamBlock> seen = new ArrayList<>();
        List<Benchmarks.StreamBlock> blocks = bench.stream(CacheConfig.streaming(4, 28), 50, 250, 100, seen::add);
        assertThat(blocks).extracting(Benchmarks.StreamBlock::tokens).containsExactly(100L, 200L, 250L);
        assertThat(seen).isEqualTo(blocks);
        assertThat(blocks).allSatisfy(b -> assertThat(b.p50Ms()).isPositive().isLessThanOrEqualTo(b.p99Ms()));
    }

    @Test
    void theMappedWeightsAreFileBackedResidentMemory() throws Exception {
        assumeTrue(Files.exists(java.nio.file.Path.of("/proc/self/status")), "needs Linux /proc");
        long file = Benchmarks.residentBytes("RssFile");
        long anon = Benchmarks.residentBytes("RssAnon");
        assertThat(file).isPositive();
        assertThat(anon).isPositive();
        assertThat(Benchmarks.residentBytes("VmRSS")).isGreaterThanOrEqualTo(Math.max(file, anon));
        assertThat(Benchmarks.residentBytes("NoSuchField")).isEqualTo(-1);
    }

    @Test
    void snapshotBenchmarkFillsTheCacheAndRestoresWhatItSaved() {
        CacheConfig cache = CacheConfig.streaming(4, 60);
        SnapshotBenchmark.Result result = SnapshotBenchmark.measure(model, cache, 3);
        long kvBytes = 2L * model.config().layers() * cache.capacity() * model.config().kvDim() * Float.BYTES;
        assertThat(result.tokensHeld()).isEqualTo(cache.capacity());
        assertThat(result.cacheBytes()).isGreaterThanOrEqualTo(kvBytes);
        // keys and values of every held token, plus the bookkeeping, token ids and checksum
        assertThat((long) result.snapshotBytes()).isGreaterThan(kvBytes).isLessThan(kvBytes + 4096 + 4L * cache.capacity());
        assertThat(result.saveMs()).isPositive();
        assertThat(result.restoreMs()).isPositive();
    }
}
