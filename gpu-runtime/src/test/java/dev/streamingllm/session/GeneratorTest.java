package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.testing.Shared;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GeneratorTest {

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

    private Generator.Result generate(String prompt, SamplingParams params, List<String> pieces) {
        Session session = engine.newSession(CacheConfig.streaming(4, 508));
        int[] tokens = model.tokenizer().encode(prompt, true, false);
        return new Generator(model.tokenizer(), engine.scheduler()).generate(session, tokens, params, pieces::add, () -> false);
    }

    @Test
    void greedyContinuesTheStoryLikeTheReference() {
        List<String> pieces = new ArrayList<>();
        Generator.Result result = generate("Once upon a time", SamplingParams.builder().temperature(0).maxTokens(30).build(), pieces);
        assertThat(result.text()).startsWith(", there was a little girl named Lily. She loved to play outside in the park.");
        assertThat(String.join("", pieces)).isEqualTo(result.text());
        assertThat(result.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(result.completionTokens()).isEqualTo(30);
        assertThat(result.promptTokens()).isEqualTo(5);
        assertThat(result.unfed()).isPositive();
    }

    @Test
    void theSameSeedGivesTheSameTextAndAnotherSeedAnother() {
        SamplingParams params = SamplingParams.builder().temperature(1.0f).seed(7L).maxTokens(40).build();
        String a = generate("Once upon a time", params, new ArrayList<>()).text();
        String b = generate("Once upon a time", params, new ArrayList<>()).text();
        String c = generate("Once upon a time", params.toBuilder().seed(8L).build(), new ArrayList<>()).text();
        assertThat(a).isEqualTo(b).isNotEqualTo(c);
    }

    @Test
    void stopsAtAStopStringWithoutReturningIt() {
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(40).stop(List.of("Lily")).build();
        Generator.Result result = generate("Once upon a time", params, new ArrayList<>());
        assertThat(result.text()).isEqualTo(", there was a little girl named ");
        assertThat(result.finishReason()).isEqualTo(FinishReason.STOP);
    }

    @Test
    void cancellationStopsAtTheNextStepAndLeavesTheSessionUsable() {
        Session session = engine.newSession(CacheConfig.streaming(4, 60));
        AtomicInteger polls = new AtomicInteger();
        Generator generator = new Generator(model.tokenizer(), engine.scheduler());
        // polled before each step: the prompt, then three decode steps go through
        Generator.Result result = generator.generate(session, model.tokenizer().encode("Once upon a time", true, false),
                SamplingParams.builder().temperature(0).maxTokens(100).build(), p -> { }, () -> polls.incrementAndGet() > 4);
        assertThat(result.finishReason()).isEqualTo(FinishReason.CANCELLED);
        assertThat(result.completionTokens()).isEqualTo(4);
        Generator.Result next = generator.generate(session, model.tokenizer().encode(" The end.", false, false),
                SamplingParams.builder().temperature(0).maxTokens(100).build(), p -> { }, () -> false);
        assertThat(next.completionTokens()).isPositive();
        assertThat(session.cache().evicted()).isPositive();
    }

    /** The text goes to {@code onText} on the caller's thread: a consumer that blocks holds up only its own generation. */
    @Test
    void aBlockedConsumerHoldsUpOnlyItsOwnGeneration() throws Exception {
        Generator generator = new Generator(model.tokenizer(), engine.scheduler());
        java.util.concurrent.CountDownLatch firstPiece = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        List<String> blockedPieces = new java.util.concurrent.CopyOnWriteArrayList<>();
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(30).build();
        Thread blocked = Thread.ofVirtual().start(() -> generator.generate(engine.newSession(CacheConfig.streaming(4, 508)),
                model.tokenizer().encode("Once upon a time", true, false), params, piece -> {
                    blockedPieces.add(piece);
                    firstPiece.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, () -> false));
        firstPiece.await();
        Generator.Result other = generate("Once upon a time", params, new ArrayList<>());
        assertThat(other.completionTokens()).isEqualTo(30);
        assertThat(blockedPieces).hasSize(1);
        release.countDown();
        blocked.join();
        assertThat(String.join("", blockedPieces)).isEqualTo(other.text());
    }
}
