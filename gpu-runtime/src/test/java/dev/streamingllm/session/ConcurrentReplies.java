package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Ten story conversations through one engine, first one at a time, then all at once: the scheduler's cross-talk check,
 * on whichever backend the engine's model runs.
 */
final class ConcurrentReplies {

    private static final String[] PROMPTS = {
        "Once upon a time", "The little dog", "Tom and Sue went to the park", "One day, a bird", "The sun was hot and",
        "Lily had a red ball.", "Mom said", "There was a big tree", "A girl named Mia", "The cat sat on the mat and",
    };

    private ConcurrentReplies() {
    }

    /** Every conversation replies at once exactly as it does alone, and not blank, in fewer than half the passes. */
    static void assertTheyReplyAsAlone(Model model, Engine engine, CacheConfig cache) throws Exception {
        SamplingParams greedy = SamplingParams.builder().temperature(0).maxTokens(60).build();
        List<String> alone = new ArrayList<>();
        long before = engine.scheduler().steps();
        for (String prompt : PROMPTS) {
            alone.add(reply(model, engine, cache, prompt, greedy));
        }
        long sequentialSteps = engine.scheduler().steps() - before;

        CountDownLatch start = new CountDownLatch(1);
        List<CompletableFuture<String>> replies = new ArrayList<>();
        before = engine.scheduler().steps();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (String prompt : PROMPTS) {
                replies.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return reply(model, engine, cache, prompt, greedy);
                }, threads));
            }
            start.countDown();
            for (int i = 0; i < PROMPTS.length; i++) {
                assertThat(replies.get(i).get()).as(PROMPTS[i]).isEqualTo(alone.get(i));
            }
        }
        assertThat(alone).allSatisfy(reply -> assertThat(reply).isNotBlank());
        assertThat(engine.scheduler().steps() - before).isLessThan(sequentialSteps / 2);
    }

    private static String reply(Model model, Engine engine, CacheConfig cache, String prompt, SamplingParams params) {
        Session session = engine.newSession(cache);
        return new Generator(model.tokenizer(), engine.scheduler())
                .generate(session, model.tokenizer().encode(prompt, true, false), params, piece -> { }, () -> false).text();
    }
}
