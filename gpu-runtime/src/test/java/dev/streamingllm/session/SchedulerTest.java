package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.Segment;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.testing.Shared;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SchedulerTest {

    private static Model model;
    private static Engine engine;

    @BeforeAll
    static void load() {
        model = Model.load(Shared.model("stories260K.gguf"));
        engine = new Engine(model);
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    /**
     * One pass over several sessions gives each the logits it gets alone, up to rounding: a batch multiplies float
     * activations (tiles of dequantized weights) where on 256-bit machines a lone row of Q4_0 multiplies activations
     * rounded to 8 bits. Rows crossing between sessions would differ by whole logits.
     */
    @ParameterizedTest
    @ValueSource(strings = {"stories260K.gguf", "tiny-gqa-q8_0.gguf", "tiny-gqa-q4_0.gguf"})
    void aBatchedPassGivesEverySessionItsOwnLogits(String file) {
        try (Model m = Model.load(Shared.model(file))) {
            Decoder decoder = m.decoder();
            int vocab = m.config().vocabularySize();
            int[][] histories = {tokens(m, 40, 1), tokens(m, 7, 2), tokens(m, 90, 3)};
            int[][] next = {tokens(m, 1, 4), tokens(m, 9, 5), tokens(m, 1, 6)};
            // cache 4 + 28: the longer histories have evicted, so rows see different windows
            SinkCache[] alone = new SinkCache[3];
            SinkCache[] together = new SinkCache[3];
            for (int s = 0; s < 3; s++) {
                alone[s] = decoder.newCache(CacheConfig.streaming(4, 28));
                together[s] = decoder.newCache(CacheConfig.streaming(4, 28));
                decoder.forward(alone[s], histories[s], 0, histories[s].length, false);
                decoder.forward(together[s], histories[s], 0, histories[s].length, false);
            }
            float[][] batched = decoder.forward(List.of(
                    new Segment(together[0], next[0], 0, 1, false),
                    new Segment(together[1], next[1], 0, 9, true),
                    new Segment(together[2], next[2], 0, 1, false)));
            for (int s = 0; s < 3; s++) {
                float[] single = decoder.forward(alone[s], next[s], 0, next[s].length, s == 1);
                assertThat(batched[s]).hasSize((s == 1 ? 9 : 1) * vocab);
                float largest = 0;
                for (float v : single) {
                    largest = Math.max(largest, Math.abs(v));
                }
                for (int i = 0; i < single.length; i++) {
                    assertThat(batched[s][i]).as("session %d logit %d", s, i).isCloseTo(single[i], org.assertj.core.data.Offset.offset(5e-3f * largest));
                }
                assertThat(together[s].tokens()).containsExactly(alone[s].tokens());
            }
        }
    }

    @Test
    void aCacheMayAppearInOneSegmentOnly() {
        SinkCache cache = model.decoder().newCache(CacheConfig.streaming(4, 28));
        int[] token = {1};
        assertThatThrownBy(() -> model.decoder().forward(List.of(new Segment(cache, token, 0, 1, false), new Segment(cache, token, 0, 1, false))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("more than one segment");
    }

    /** Ten conversations at once reply exactly as each does alone, in fewer forward passes than one at a time. */
    @Test
    void concurrentGenerationsReplyAsTheyDoAloneInSharedSteps() throws Exception {
        ConcurrentReplies.assertTheyReplyAsAlone(model, engine, CacheConfig.streaming(4, 44));
    }

    /**
     * While one generation decodes, a long prompt goes in small chunks: every step carries the decoding row and at
     * most {@code prefillWhileDecoding} prompt tokens; alone, the prompt goes a whole chunk at a time.
     */
    @Test
    void aLongPromptIsFedInSmallChunksWhileOthersDecode() throws Exception {
        Recorder recorder = new Recorder(model.decoder());
        try (Scheduler scheduler = new Scheduler(recorder, new Scheduler.Settings(64, 8))) {
            Generator generator = new Generator(model.tokenizer(), scheduler);
            Session decoding = new Session(recorder, CacheConfig.streaming(4, 252));
            Session prefilling = new Session(recorder, CacheConfig.streaming(4, 252));
            CountDownLatch firstPiece = new CountDownLatch(1);
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<Generator.Result> running = CompletableFuture.supplyAsync(() -> generator.generate(decoding,
                    model.tokenizer().encode("Once upon a time", true, false), SamplingParams.builder().temperature(0).maxTokens(100_000).build(),
                    piece -> firstPiece.countDown(), stop::get));
            firstPiece.await();
            int[] longPrompt = tokens(model, 600, 9);
            Generator.Result prefilled = generator.generate(prefilling, longPrompt, SamplingParams.builder().temperature(0).maxTokens(1).build(),
                    piece -> { }, () -> false);
            stop.set(true);
            assertThat(running.get().finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(prefilled.promptTokens()).isEqualTo(600);
            assertThat(prefilling.prefilled()).isEqualTo(600);

            // Every step that fed the prompt also decoded the running stream and carried at most 8 prompt tokens (fewer
            // when the measured costs say so, see PrefillBudgetTest); together they fed the whole prompt.
            List<List<Segment>> steps = recorder.steps();
            List<List<Segment>> withPrompt = steps.stream().filter(step -> step.stream().anyMatch(s -> s.cache() == prefilling.cache())).toList();
            assertThat(withPrompt).hasSizeGreaterThanOrEqualTo(600 / 8);
            int fed = 0;
            for (List<Segment> step : withPrompt) {
                assertThat(step).anyMatch(s -> s.cache() == decoding.cache() && s.count() == 1);
                int promptTokens = step.stream().filter(s -> s.cache() == prefilling.cache()).mapToInt(Segment::count).sum();
                assertThat(promptTokens).isBetween(1, 8);
                fed += promptTokens;
            }
            assertThat(fed).isEqualTo(600);

            recorder.clear();
            Session alone = new Session(recorder, CacheConfig.streaming(4, 252));
            generator.generate(alone, longPrompt, SamplingParams.builder().temperature(0).maxTokens(1).build(), piece -> { }, () -> false);
            assertThat(recorder.steps()).hasSize((600 + 63) / 64);
        }
    }

    @Test
    void aCancelledPromptStopsBeforeItIsFedWhole() {
        Recorder recorder = new Recorder(model.decoder());
        try (Scheduler scheduler = new Scheduler(recorder, new Scheduler.Settings(16, 8))) {
            Session session = new Session(recorder, CacheConfig.streaming(4, 252));
            Generator.Result result = new Generator(model.tokenizer(), scheduler).generate(session, tokens(model, 400, 11),
                    SamplingParams.builder().temperature(0).maxTokens(50).build(), piece -> { }, () -> recorder.steps().size() >= 3);
            assertThat(result.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(result.completionTokens()).isZero();
            assertThat(session.prefilled()).isEqualTo(3 * 16);
            assertThat(session.tokensSeen()).isEqualTo(3 * 16);
        }
    }

    @Test
    void aFailedPassFailsItsGenerationsAndTheSchedulerGoesOn() {
        Recorder recorder = new Recorder(model.decoder());
        try (Scheduler scheduler = new Scheduler(recorder, Scheduler.Settings.DEFAULT)) {
            Generator generator = new Generator(model.tokenizer(), scheduler);
            Session session = new Session(recorder, CacheConfig.streaming(4, 60));
            assertThatThrownBy(() -> generator.generate(session, new int[] {1, model.config().vocabularySize() + 5},
                    SamplingParams.DEFAULTS, piece -> { }, () -> false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the vocabulary");
            Session next = new Session(recorder, CacheConfig.streaming(4, 60));
            assertThat(generator.generate(next, model.tokenizer().encode("Once upon a time", true, false),
                    SamplingParams.builder().temperature(0).maxTokens(5).build(), piece -> { }, () -> false).completionTokens()).isEqualTo(5);
        }
    }

    /** Before the fix a throwing cancellation check killed the scheduler's thread: every later generation waited forever. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aGenerationThatBreaksOutsideThePassFailsAloneAndTheSchedulerGoesOn() {
        try (Scheduler scheduler = new Scheduler(model.decoder(), Scheduler.Settings.DEFAULT)) {
            Generator generator = new Generator(model.tokenizer(), scheduler);
            int[] prompt = model.tokenizer().encode("Once upon a time", true, false);
            SamplingParams five = SamplingParams.builder().temperature(0).maxTokens(5).build();
            assertThatThrownBy(() -> generator.generate(new Session(model.decoder(), CacheConfig.streaming(4, 60)), prompt, five,
                    piece -> { }, () -> {
                        throw new IllegalStateException("the client's cancellation flag broke");
                    }))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("cancellation flag");
            assertThat(generator.generate(new Session(model.decoder(), CacheConfig.streaming(4, 60)), prompt, five,
                    piece -> { }, () -> false).completionTokens()).isEqualTo(5);
        }
    }

    private static int[] tokens(Model m, int count, int seed) {
        java.util.Random random = new java.util.Random(seed);
        // ordinary tokens: skip the first ids, which are special in these vocabularies
        return IntStream.range(0, count).map(i -> 3 + random.nextInt(m.config().vocabularySize() - 3)).toArray();
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The decoder, recording each pass's segments. */
    private static final class Recorder implements Decoder {

        private final Decoder decoder;
        private final List<List<Segment>> steps = Collections.synchronizedList(new ArrayList<>());

        Recorder(Decoder decoder) {
            this.decoder = decoder;
        }

        List<List<Segment>> steps() {
            synchronized (steps) {
                return List.copyOf(steps);
            }
        }

        void clear() {
            steps.clear();
        }

        @Override
        public ModelConfig config() {
            return decoder.config();
        }

        @Override
        public SinkCache newCache(CacheConfig cacheConfig) {
            return decoder.newCache(cacheConfig);
        }

        @Override
        public float[][] forward(List<Segment> segments) {
            steps.add(List.copyOf(segments));
            return decoder.forward(segments);
        }
    }
}
