package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cuda.CudaDevice;
import dev.streamingllm.backend.cuda.CudaOptions;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.testing.Shared;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The scheduler driving the CUDA decoder: its passes of many sessions are {@code CudaDecoder.forward} of many
 * segments. Needs a CUDA 13 device; elsewhere skipped with the probe's reason.
 */
@Tag("gpu")
class SchedulerGpuTest {

    private static final String[] PROMPTS = {
        "Once upon a time", "The little dog", "Tom and Sue went to the park", "One day, a bird", "The sun was hot and",
        "Lily had a red ball.", "Mom said", "There was a big tree", "A girl named Mia", "The cat sat on the mat and",
    };

    /**
     * Ten conversations at once reply exactly as each does alone, in fewer passes. Every product goes through the
     * matrix-vector kernels ({@code gemmMinRows} above any pass), whose rows add in the same order however many
     * sessions share a pass, so a row crossing between sessions is the only way for a reply to change.
     */
    @Test
    void concurrentGenerationsReplyAsTheyDoAloneInSharedSteps() throws Exception {
        CudaDevice.Probe probe = CudaDevice.probe();
        assumeTrue(probe.device().isPresent(), "no usable CUDA device: " + probe.reason());
        CacheConfig cache = CacheConfig.streaming(4, 44);
        CudaOptions matrixVector = new CudaOptions(0, 32, CudaOptions.DEFAULT_MAX_ROWS, CudaOptions.DEFAULT_MAX_ROWS + 1);
        try (Model model = Model.load(Shared.model("stories260K.gguf"), Backend.CUDA, CacheSettings.of(cache), matrixVector);
             Engine engine = new Engine(model)) {
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
    }

    private static String reply(Model model, Engine engine, CacheConfig cache, String prompt, SamplingParams params) {
        Session session = engine.newSession(cache);
        return new Generator(model.tokenizer(), engine.scheduler())
                .generate(session, model.tokenizer().encode(prompt, true, false), params, piece -> { }, () -> false).text();
    }
}
