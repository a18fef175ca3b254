package dev.streamingllm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import dev.streamingllm.session.Session;
import dev.streamingllm.testing.Shared;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SinkCacheTest {

    /** Float32 sums in a different order from the naive float64-ish reference: 1e-4 of the largest logit. */
    private static final double TOLERANCE = 1e-4;

    private static GGUFFile gguf;
    private static ModelConfig config;
    private static Weights weights;
    private static Transformer transformer;

    @BeforeAll
    static void load() {
        gguf = GGUFFile.open(Shared.model("stories260K.gguf"));
        config = ModelConfig.from(gguf);
        weights = Weights.load(gguf, config);
        transformer = new Transformer(config, weights);
    }

    @AfterAll
    static void close() {
        gguf.close();
    }

    static int[] tokens(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] tokens = new int[n];
        tokens[0] = 1;
        for (int i = 1; i < n; i++) {
            tokens[i] = 3 + random.nextInt(config.vocabularySize() - 3);
        }
        return tokens;
    }

    @ParameterizedTest(name = "sinks={0} window={1} evictBatch={2} chunk={3}")
    @CsvSource({
            "4, 12, 1, 1",
            "4, 12, 1, 7",
            "4, 12, 1, 40",
            "0, 1, 1, 1",
            "0, 1, 1, 5",
            "1, 1, 1, 3",
            "4, 12, 4, 1",
            "4, 12, 4, 9",
            "2, 9, 9, 4",
            "0, 16, 3, 16"})
    void matchesTheNaiveReferenceAlgorithm(int sinks, int window, int evictBatch, int chunk) {
        int[] tokens = tokens(40, sinks * 100L + window);
        Session session = new Session(transformer, new CacheConfig(sinks, window, evictBatch), chunk);
        float[] actual = session.prefillAll(tokens);
        NaiveStreamingDecoder naive = new NaiveStreamingDecoder(config, weights, sinks, sinks + window, evictBatch);
        assertClose(actual, naive, tokens);
        assertThat(session.cache().size()).isLessThanOrEqualTo(sinks + window);
        assertThat(session.cache().evicted()).isEqualTo(tokens.length - session.cache().size());
    }

    @Test
    void pinnedTokensStayNextToTheSinks() {
        int[] tokens = tokens(48, 7);
        Session session = new Session(transformer, CacheConfig.streaming(2, 14), 5);
        session.cache().pinFirst(6);
        float[] actual = session.prefillAll(tokens);
        assertClose(actual, new NaiveStreamingDecoder(config, weights, 6, 16, 1), tokens);
        assertThat(session.cache().sinkCapacity()).isEqualTo(6);
    }

    @Test
    void reserveMakesRoomBeforeATurn() {
        int[] first = tokens(20, 11);
        int[] second = tokens(9, 12);
        Session session = new Session(transformer, CacheConfig.streaming(4, 20), 8);
        NaiveStreamingDecoder naive = new NaiveStreamingDecoder(config, weights, 4, 24, 1);
        float[] a = session.prefillAll(first);
        session.cache().reserve(second.length + 3);
        naive.reserve(0);
        assertClose(a, naive, first);
        naive.reserve(second.length + 3);
        float[] b = session.prefillAll(second);
        assertClose(b, naive, second);
        assertThat(session.cache().evicted()).isEqualTo(20 + 12 - 24);
    }

    @Test
    void streamingWithAWindowLargerThanTheTextEqualsDense() {
        int[] tokens = tokens(50, 3);
        float[] dense = new Session(transformer, CacheConfig.dense(50)).prefillAll(tokens);
        float[] streaming = new Session(transformer, CacheConfig.streaming(4, 100)).prefillAll(tokens);
        assertThat(streaming).containsExactly(dense);
    }

    @Test
    void aPromptLongerThanTheCacheIsPrefilledInChunks() {
        int[] tokens = tokens(300, 5);
        Session chunked = new Session(transformer, CacheConfig.streaming(4, 28), 64);
        float[] last = chunked.prefill(tokens);
        Session stepwise = new Session(transformer, CacheConfig.streaming(4, 28), 1);
        float[] expected = stepwise.prefill(tokens);
        assertThat(maxRelativeDelta(last, expected)).isLessThan(1e-5);
        assertThat(chunked.cache().size()).isEqualTo(32);
        assertThat(chunked.cache().evicted()).isEqualTo(268);
        assertThat(chunked.tokensSeen()).isEqualTo(300);
    }

    @Test
    void memoryIsAllocatedOnceAndNeverGrows() {
        Session session = new Session(transformer, CacheConfig.streaming(4, 28));
        long bytes = session.cache().bytes();
        float[] keys = session.cache().keys(0);
        session.prefill(tokens(500, 9));
        assertThat(session.cache().bytes()).isEqualTo(bytes);
        assertThat(session.cache().keys(0)).isSameAs(keys);
        // what the arrays hold: at least a key and a value per slot, padded to whole key tiles and value chunks
        long allocated = 0;
        for (int layer = 0; layer < config.layers(); layer++) {
            allocated += (long) (session.cache().keys(layer).length + session.cache().values(layer).length) * Float.BYTES;
        }
        assertThat(bytes).isEqualTo(allocated).isGreaterThanOrEqualTo(2L * config.layers() * (32 + 1) * config.kvDim() * Float.BYTES);
    }

    @Test
    void rejectsImpossibleGeometry() {
        assertThatThrownBy(() -> CacheConfig.streaming(4, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sinks (4) must be smaller than the cache capacity");
        assertThatThrownBy(() -> CacheConfig.streaming(-1, 8)).hasMessageContaining("sinks must be >= 0");
        assertThatThrownBy(() -> new CacheConfig(4, 8, 9)).hasMessageContaining("evictBatch must be in [1, window=8]");
        Session session = new Session(transformer, CacheConfig.streaming(4, 8));
        assertThatThrownBy(() -> session.cache().pinFirst(12)).hasMessageContaining("cannot pin 12 tokens in a cache of 12");
        session.prefill(tokens(6, 1));
        assertThatThrownBy(() -> session.cache().pinFirst(5)).hasMessageContaining("before the window starts");
    }

    private void assertClose(float[] actual, NaiveStreamingDecoder naive, int[] tokens) {
        int vocab = config.vocabularySize();
        for (int i = 0; i < tokens.length; i++) {
            float[] expected = naive.step(tokens[i]);
            float[] row = java.util.Arrays.copyOfRange(actual, i * vocab, (i + 1) * vocab);
            assertThat(maxRelativeDelta(row, expected)).as("position %d", i).isLessThan(TOLERANCE);
        }
    }

    private static double maxRelativeDelta(float[] actual, float[] expected) {
        double delta = 0;
        double magnitude = 0;
        for (int i = 0; i < expected.length; i++) {
            delta = Math.max(delta, Math.abs(actual[i] - expected[i]));
            magnitude = Math.max(magnitude, Math.abs(expected[i]));
        }
        return delta / magnitude;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"F32", "F16", "Q8_0"})
    void theArraysGrowWithTheConversationAndKeepWhatWasStored(CacheType type) {
        // 4 sinks and a window of 300: the arrays start at 64 slots and double as tokens reach past them, to all 305
        int kvDim = 64;
        SinkCache cache = new SinkCache(CacheConfig.streaming(4, 300).withType(type), 2, kvDim);
        assertThat(cache.stride()).isEqualTo(SinkCache.FIRST_STRIDE);
        SplittableRandom random = new SplittableRandom(7);
        float[][] keys = new float[cache.slots()][kvDim];
        float[][] values = new float[cache.slots()][kvDim];
        List<Integer> strides = new ArrayList<>();
        for (int t = 0; t < 280; t++) {
            SinkCache.Step step = cache.admit(t);
            for (int i = 0; i < kvDim; i++) {
                keys[step.slot()][i] = (float) random.nextDouble(-4, 4);
                values[step.slot()][i] = (float) random.nextDouble(-4, 4);
            }
            for (int layer = 0; layer < 2; layer++) {
                cache.store(layer, step.slot(), keys[step.slot()], 0, values[step.slot()], 0);
            }
            assertThat(cache.stride()).isGreaterThan(step.slot()).isLessThanOrEqualTo(cache.slots());
            if (strides.isEmpty() || strides.getLast() != cache.stride()) {
                strides.add(cache.stride());
            }
        }
        assertThat(strides).containsExactly(64, 128, 256, 305);

        // every key stored before the arrays grew reads back as a cache that never grew reads it: through a snapshot
        // restored into a fresh cache, which lays its arrays out for the slots the snapshot holds
        SinkCache restored = SinkCacheSnapshot.read(SinkCacheSnapshot.write(cache), 2, kvDim);
        assertThat(restored.stride()).isBetween(280, cache.slots());
        for (int slot = 0; slot < 280; slot++) {
            for (int i = 0; i < kvDim; i++) {
                float tolerance = type == CacheType.F32 ? 0 : type == CacheType.F16 ? 4e-3f : 4f / 127;
                assertThat(cache.key(1, slot, i)).isCloseTo(keys[slot][i], offset(tolerance));
                assertThat(restored.key(1, slot, i)).isEqualTo(cache.key(1, slot, i));
                if (type == CacheType.F32) {
                    assertThat(cache.values(1)[CacheLayout.valueIndex(cache.stride(), slot, i)]).isEqualTo(values[slot][i]);
                    assertThat(restored.values(1)[CacheLayout.valueIndex(restored.stride(), slot, i)]).isEqualTo(values[slot][i]);
                }
            }
        }
    }

    @Test
    void aPreparedCacheHoldsThePromptWithoutGrowingAgain() {
        SinkCache cache = new SinkCache(CacheConfig.streaming(4, 2044).withType(CacheType.F16), 2, 64);
        cache.prepare(300);
        assertThat(cache.stride()).isEqualTo(304);
        for (int t = 0; t < 300; t++) {
            cache.admit(t);
        }
        assertThat(cache.stride()).isEqualTo(304);
        cache.prepare(9000);
        assertThat(cache.stride()).isEqualTo(cache.slots());
    }
}
