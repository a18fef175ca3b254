package dev.streamingllm.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.streamingllm.cache.CacheType;
import dev.streamingllm.model.Model;
import dev.streamingllm.testing.Shared;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The language-modelling experiment on stories260K: what every mode sees, and the report of series of unequal length. */
class PerplexityTest {

    private static Model model;
    private static int[] tokens;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(Shared.model("stories260K.gguf"));
        tokens = Arrays.copyOf(model.tokenizer().encode(Files.readString(Shared.root().resolve("text/stories-a.txt")), true, false), 200);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void everyModeAgreesUntilTheBudgetFillsAndStreamingKeepsItsSinksAfter() {
        Perplexity perplexity = new Perplexity(model.transformer(), CacheType.F32);
        int sinks = 4;
        int window = 28;
        double[] dense = perplexity.nll(AttentionMode.DENSE, tokens, sinks, window);
        double[] windowed = perplexity.nll(AttentionMode.WINDOW, tokens, sinks, window);
        double[] streaming = perplexity.nll(AttentionMode.STREAMING, tokens, sinks, window);
        double[] recomputed = perplexity.nll(AttentionMode.RECOMPUTE, tokens, sinks, window);
        // the prediction after token i sees i + 1 tokens: all of them while i + 1 <= sinks + window
        for (int i = 0; i < sinks + window; i++) {
            assertThat(windowed[i]).isCloseTo(dense[i], within(1e-4));
            assertThat(streaming[i]).isCloseTo(dense[i], within(1e-4));
            assertThat(recomputed[i]).isCloseTo(dense[i], within(1e-4));
        }
        // past it the modes see different tokens, so their predictions differ
        assertThat(Arrays.copyOfRange(streaming, 100, 200)).isNotEqualTo(Arrays.copyOfRange(windowed, 100, 200));
        assertThat(Arrays.copyOfRange(streaming, 100, 200)).isNotEqualTo(Arrays.copyOfRange(dense, 100, 200));
        // streaming with no sinks is window attention
        double[] noSinks = perplexity.nll(AttentionMode.STREAMING, tokens, 0, sinks + window);
        for (int i = 0; i < noSinks.length; i++) {
            assertThat(noSinks[i]).isCloseTo(windowed[i], within(1e-4));
        }
    }

    @Test
    void aReportOfUnequalSeriesMarksWhatWasNotScoredAndComparesTheCommonPrefix(@TempDir Path dir) throws IOException {
        PerplexityReport report = new PerplexityReport("test");
        report.add("long", new double[] {1, 1, 1, 1});
        report.add("short", new double[] {2, 2});
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        report.printTable(new PrintStream(bytes, true, StandardCharsets.UTF_8), 2);
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().map(l -> l.replaceAll(" +", " ").strip()).toList();
        assertThat(lines).containsExactly("tokens long short", "1-2 2.718 7.389", "3-4 2.718 -", "all 2.718 7.389", "same 2 2.718 7.389");
        report.write(dir, 2);
        assertThat(Files.readAllLines(dir.resolve("nll.csv"))).containsExactly("token,long,short", "1,1.000000,2.000000",
                "2,1.000000,2.000000", "3,1.000000,", "4,1.000000,");
        assertThat(Files.size(dir.resolve("perplexity.png"))).isGreaterThan(1000);
    }

    @Test
    void aSampledSeriesIsComparedOnTheSamePredictions() {
        double[] sampled = new Perplexity(model.transformer(), CacheType.F32).nll(AttentionMode.RECOMPUTE, Arrays.copyOf(tokens, 41), 0, 8, 10);
        assertThat(sampled).hasSize(40);
        for (int i = 0; i < 40; i++) {
            assertThat(Double.isNaN(sampled[i])).as("prediction %d scored", i).isEqualTo((i + 1) % 10 != 0);
        }
        PerplexityReport report = new PerplexityReport("test");
        report.add("every", new double[] {1, 3, 1, 3});
        report.add("sampled", new double[] {Double.NaN, 2, Double.NaN, 2});
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        report.printTable(new PrintStream(bytes, true, StandardCharsets.UTF_8), 4);
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().map(l -> l.replaceAll(" +", " ").strip()).toList();
        assertThat(lines).containsExactly("tokens every sampled", "1-4 7.389 7.389", "all 7.389 7.389", "same 2 20.086 7.389");
    }

    /** The cache type reaches the modes' caches: halves and Q8_0 blocks score the text close to floats, but not exactly. */
    @Test
    void everyModeStoresItsCacheInTheTypeAskedFor() {
        for (CacheType type : List.of(CacheType.F16, CacheType.Q8_0)) {
            Perplexity perplexity = new Perplexity(model.transformer(), type);
            for (AttentionMode mode : List.of(AttentionMode.STREAMING, AttentionMode.WINDOW, AttentionMode.DENSE)) {
                double narrow = PerplexityReport.perplexity(perplexity.nll(mode, tokens, 4, 28), 0, tokens.length - 1);
                double wide = PerplexityReport.perplexity(new Perplexity(model.transformer(), CacheType.F32).nll(mode, tokens, 4, 28), 0,
                        tokens.length - 1);
                assertThat(narrow).as("%s %s", type, mode).isNotEqualTo(wide).isCloseTo(wide, within(0.02 * wide));
            }
        }
    }

    @Test
    void aLongStreamRepeatsTheTextAndScoresEachBlockAsTheSameCacheWould() {
        dev.streamingllm.cache.CacheConfig config = dev.streamingllm.cache.CacheConfig.streaming(4, 28);
        List<LongStream.Block> seen = new java.util.ArrayList<>();
        List<LongStream.Block> blocks = new LongStream(model.transformer()).run(config, tokens, 450, 100, seen::add);
        assertThat(blocks).isEqualTo(seen).extracting(LongStream.Block::tokens).containsExactly(100L, 200L, 300L, 400L, 450L);
        assertThat(blocks).allSatisfy(b -> assertThat(b.residentBytes()).isPositive());
        // the first block is the plain streaming run over the text itself (the second ends with the wrap to its start)
        double[] nll = new Perplexity(model.transformer(), CacheType.F32).nll(AttentionMode.STREAMING, tokens, 4, 28);
        assertThat(blocks.get(0).perplexity()).isCloseTo(PerplexityReport.perplexity(nll, 0, 100), within(1e-6));
        // past the text's end it starts over: the stream is 450 tokens of a 200-token text
        assertThat(blocks.get(2).perplexity()).isNotEqualTo(blocks.get(0).perplexity());
    }

    @Test
    void aStreamStoppedAfterABlockContinuesFromItsCheckpointAsIfNeverStopped(@TempDir Path checkpoint) {
        dev.streamingllm.cache.CacheConfig config = dev.streamingllm.cache.CacheConfig.streaming(4, 28);
        LongStream stream = new LongStream(model.transformer());
        List<LongStream.Block> whole = stream.run(config, tokens, 450, 100, b -> { });

        class Stop extends RuntimeException {
        }
        List<LongStream.Block> first = new java.util.ArrayList<>();
        try {
            stream.run(config, tokens, 450, 100, checkpoint, b -> {
                first.add(b);
                if (b.tokens() == 200) {
                    throw new Stop(); // the process dies while block 3 is under way
                }
            });
        } catch (Stop expected) {
            // the checkpoint of block 1 is on disk; block 2's was not written before the stop
        }
        List<LongStream.Block> resumed = stream.run(config, tokens, 450, 100, checkpoint, b -> { });

        assertThat(resumed).extracting(LongStream.Block::tokens).containsExactly(100L, 200L, 300L, 400L, 450L);
        // block 1 comes from the checkpoint, the rest are scored by the second run as one run scores them (up to the
        // last bits, which differ between JIT tiers: the vector exp of a compiled softmax is not Math.exp)
        assertThat(resumed).extracting(LongStream.Block::process).containsExactly(1, 2, 2, 2, 2);
        for (int b = 0; b < whole.size(); b++) {
            assertThat(resumed.get(b).perplexity()).as("block %d", b).isCloseTo(whole.get(b).perplexity(), within(1e-5 * whole.get(b).perplexity()));
        }
        // a checkpoint of another stream is refused by name
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> stream.run(config, tokens, 500, 100, checkpoint, b -> { }))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("belongs to another stream");
    }
}
