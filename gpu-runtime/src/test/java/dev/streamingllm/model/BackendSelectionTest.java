package dev.streamingllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.backend.cuda.CudaDevice;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.session.Session;
import dev.streamingllm.testing.Shared;
import org.junit.jupiter.api.Test;

/** Backend selection where no usable CUDA device is present (this machine, CI); skipped where one is. */
class BackendSelectionTest {

    private static void assumeNoDevice() {
        CudaDevice.Probe probe = CudaDevice.probe();
        assumeTrue(probe.device().isEmpty(), "a CUDA device is present (" + probe.reason() + "): the fallback cannot be observed here");
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        assumeNoDevice();
        Backends.Choice choice = Backends.select(Backend.AUTO);
        assertThat(choice.backend()).isEqualTo(Backend.CPU);
        assertThat(choice.device()).isEmpty();
        assertThat(choice.reason()).isNotBlank().isEqualTo(CudaDevice.probe().reason());
    }

    @Test
    void cudaWithoutADeviceIsAClearError() {
        assumeNoDevice();
        assertThatThrownBy(() -> Backends.select(Backend.CUDA))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("backend 'cuda' was requested but CUDA is not usable: ")
                .hasMessageContaining(CudaDevice.probe().reason());
    }

    @Test
    void cpuNeverProbes() {
        Backends.Choice choice = Backends.select(Backend.CPU);
        assertThat(choice.backend()).isEqualTo(Backend.CPU);
        assertThat(choice.reason()).isEqualTo("requested");
    }

    @Test
    void theProbeNamesWhatIsMissing() {
        assumeNoDevice();
        // Here: no driver (libcuda.so.1), or no CUDA 13 runtime, or no device; each reason names its cause.
        assertThat(CudaDevice.probe().reason()).containsAnyOf("libcuda", "libcudart", "driver", "device", "linux-x86_64");
    }

    @Test
    void anAutoModelRunsOnTheCpu() {
        assumeNoDevice();
        try (Model model = Model.load(Shared.model("stories260K.gguf"), Backend.AUTO, CacheSettings.DEFAULT)) {
            assertThat(model.backend().backend()).isEqualTo(Backend.CPU);
            assertThat(model.decoder()).isInstanceOf(Transformer.class);
            float[] logits = new Session(model.decoder(), CacheConfig.streaming(4, 28)).prefill(new int[] {1, 403, 407});
            assertThat(logits).hasSize(model.config().vocabularySize());
        }
    }

    @Test
    void backendNamesParse() {
        assertThat(Backend.parse("auto")).isEqualTo(Backend.AUTO);
        assertThat(Backend.parse(" CUDA ")).isEqualTo(Backend.CUDA);
        assertThat(Backend.parse("Cpu")).isEqualTo(Backend.CPU);
        assertThatThrownBy(() -> Backend.parse("rocm"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown backend 'rocm' (expected one of [auto, cpu, cuda])");
    }
}
