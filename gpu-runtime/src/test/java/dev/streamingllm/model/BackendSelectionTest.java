package dev.streamingllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cuda.CudaDevice;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.session.Session;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
        // each way of having no device is one sentence; a library that did not load is named by its file
        assertThat(CudaDevice.probe().reason()).matches(Pattern.compile(String.join("|",
                "the CUDA libraries could not be loaded \\(.*(libcuda\\.so\\.1|libcudart\\.so\\.13|libnvrtc\\.so\\.13|libcublas\\.so\\.13).*\\)",
                "no NVIDIA driver is installed",
                "the NVIDIA driver supports CUDA \\d+\\.\\d+ but this backend needs CUDA 13 \\(driver 580 or newer\\)",
                "cudaGetDeviceCount failed: .+",
                "the driver reports no CUDA device",
                "the CUDA JNI wrappers are bundled for linux-x86_64 only, this is .+"), Pattern.DOTALL));
    }

    @Test
    void anAutoModelRunsOnTheCpu() {
        assumeNoDevice();
        int[] prompt = {1, 403, 407};
        float[] expected;
        try (Model cpu = Model.load(Shared.model("stories260K.gguf"))) {
            expected = new Session(cpu.decoder(), CacheConfig.streaming(4, 28)).prefill(prompt);
        }
        try (Model model = Model.load(Shared.model("stories260K.gguf"), Backend.AUTO, CacheSettings.DEFAULT)) {
            assertThat(model.backend().backend()).isEqualTo(Backend.CPU);
            assertThat(model.backend().reason()).isEqualTo(CudaDevice.probe().reason());
            assertThat(model.decoder()).isSameAs(model.transformer());
            // the same logits as a model loaded for the CPU, bit for bit, and a real distribution
            float[] logits = new Session(model.decoder(), CacheConfig.streaming(4, 28)).prefill(prompt);
            assertThat(logits).containsExactly(expected);
            assertThat(logits).doesNotContain(Float.NaN);
            float max = Float.NEGATIVE_INFINITY;
            float min = Float.POSITIVE_INFINITY;
            for (float v : logits) {
                max = Math.max(max, v);
                min = Math.min(min, v);
            }
            assertThat(max - min).isGreaterThan(1f);
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

    /**
     * The CPU backend keeps its repacked matrices in a directory named by the model's fingerprint, under
     * {@code streamingllm.repacked} (the build's directory in tests) or the directory a load names: one file per matrix
     * held in groups, none where the machine's vectors are too narrow for them.
     */
    @Test
    void theCpuBackendKeepsItsRepackedMatricesUnderTheModelsFingerprint(@TempDir Path named) throws IOException {
        Path file = Shared.model("tiny-gqa-q4_0.gguf");
        Path configured = Path.of(System.getProperty("streamingllm.repacked"));
        try (Model model = Model.load(file, Backend.CPU, CacheSettings.DEFAULT)) {
            assertThat(model.repacked().directory()).isEqualTo(configured.resolve(model.fingerprint()));
            assertThat(copiesOfAttnQ(model.repacked().directory())).isEqualTo(FloatVector.SPECIES_PREFERRED.length() == 16 ? 1 : 0);
        }
        try (Model model = Model.load(file, Backend.CPU, CacheSettings.DEFAULT, null, named)) {
            assertThat(model.repacked().directory()).isEqualTo(named.resolve(model.fingerprint()));
            assertThat(copiesOfAttnQ(model.repacked().directory())).isEqualTo(FloatVector.SPECIES_PREFERRED.length() == 16 ? 1 : 0);
        }
    }

    private static long copiesOfAttnQ(Path directory) throws IOException {
        try (Stream<Path> files = Files.exists(directory) ? Files.list(directory) : Stream.empty()) {
            return files.filter(f -> f.getFileName().toString().startsWith("blk.0.attn_q.weight.")).count();
        }
    }
}
