package dev.streamingllm.session;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cuda.CudaDevice;
import dev.streamingllm.backend.cuda.CudaOptions;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.model.Model;
import dev.streamingllm.testing.Shared;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The scheduler driving the CUDA decoder: its passes of many sessions are {@code CudaDecoder.forward} of many
 * segments. Needs a CUDA 13 device; elsewhere skipped with the probe's reason.
 */
@Tag("gpu")
class SchedulerGpuTest {

    /**
     * Ten conversations at once reply exactly as each does alone, in fewer passes. Every product goes through the
     * matrix-vector kernels (both cuBLAS thresholds above any pass), whose rows add in the same order however many
     * sessions share a pass, so a row crossing between sessions is the only way for a reply to change.
     */
    @Test
    void concurrentGenerationsReplyAsTheyDoAloneInSharedSteps() throws Exception {
        CudaDevice.Probe probe = CudaDevice.probe();
        assumeTrue(probe.device().isPresent(), "no usable CUDA device: " + probe.reason());
        CacheConfig cache = CacheConfig.streaming(4, 44);
        CudaOptions matrixVector = new CudaOptions(0, 32, CudaOptions.DEFAULT_MAX_ROWS, CudaOptions.DEFAULT_MAX_ROWS + 1,
                CudaOptions.DEFAULT_MAX_ROWS + 1);
        try (Model model = Model.load(Shared.model("stories260K.gguf"), Backend.CUDA, CacheSettings.of(cache), matrixVector);
             Engine engine = new Engine(model)) {
            ConcurrentReplies.assertTheyReplyAsAlone(model, engine, cache);
        }
    }
}
