package dev.streamingllm.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kernel of {@code kernels.cu} compiles. NVRTC through the presets needs the CUDA libraries
 * (libcuda.so.1 from a driver, libnvrtc.so.13); where they are missing that test is skipped with the
 * loader's reason, and the source is compiled with the toolkit's nvcc instead, for the GPU machines'
 * architecture (Hopper, sm_90), through ptxas to machine code.
 */
class KernelCompilationTest {

    @Test
    void theSourceDeclaresEveryKernelTheDecoderLaunches() {
        assertThat(KernelSource.kernelNames()).contains("rmsnorm", "rope_store", "attention", "silu_mul", "add_in_place", "add_bias",
                "matvec_f32", "matvec_f16", "matvec_bf16", "matvec_q8_0", "matvec_q4_0", "matvec_q4_1", "matvec_q5_0", "matvec_q5_1",
                "matvec_q4_k", "matvec_q6_k", "dequant_q8_0_f16", "dequant_q4_0_f16", "dequant_q4_1_f16", "dequant_q5_0_f16", "dequant_q5_1_f16",
                "dequant_q4_k_f16", "dequant_q6_k_f16", "f32_to_f16_rows", "f32_to_bf16_rows");
        assertThat(KernelSource.source()).doesNotContainPattern("(?m)^\\s*#\\s*include");
    }

    /** A launch writes its arguments into {@link Kernels#MAX_ARGUMENTS} slots made once. */
    @Test
    void noKernelTakesMoreParametersThanALaunchHasSlots() {
        Matcher signature = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(([^)]*)\\)")
                .matcher(KernelSource.source());
        int kernels = 0;
        while (signature.find()) {
            kernels++;
            assertThat(signature.group(2).split(",")).as(signature.group(1)).hasSizeLessThanOrEqualTo(Kernels.MAX_ARGUMENTS);
        }
        assertThat(kernels).isEqualTo(KernelSource.kernelNames().size());
    }

    @Test
    void nvrtcCompilesEveryKernelToACubin() {
        try {
            Nvrtc.load();
        } catch (Throwable e) {
            assumeTrue(false, "NVRTC through org.bytedeco:cuda cannot be loaded here: " + e);
        }
        for (String arch : List.of("sm_80", "sm_90")) {
            byte[] cubin = Nvrtc.compileCubin(KernelSource.RESOURCE, KernelSource.source(), arch);
            String image = new String(cubin, StandardCharsets.ISO_8859_1);
            assertThat(image).startsWith("\u007fELF");
            for (String kernel : KernelSource.kernelNames()) {
                assertThat(image).as("%s in the %s cubin", kernel, arch).contains(kernel);
            }
        }
    }

    @Test
    void nvccCompilesEveryKernelForHopper(@TempDir Path dir) throws Exception {
        Optional<Path> nvcc = nvcc();
        assumeTrue(nvcc.isPresent(), "no nvcc (CUDA toolkit) on this machine: PATH, $CUDA_HOME/bin and /usr/local/cuda/bin have none");
        Path source = dir.resolve("kernels.cu");
        Files.writeString(source, KernelSource.source());

        Path ptx = dir.resolve("kernels.ptx");
        String log = run(nvcc.get().toString(), "-x", "cu", "--ptx", "-arch=sm_90", "-o", ptx.toString(), source.toString());
        String ptxText = Files.readString(ptx);
        for (String kernel : KernelSource.kernelNames()) {
            assertThat(ptxText).as("entry %s in the PTX", kernel).contains(".entry " + kernel + "(");
        }

        // Through ptxas too: the resource report must show no spills in any kernel.
        Path cubin = dir.resolve("kernels.cubin");
        log = run(nvcc.get().toString(), "-x", "cu", "-cubin", "-arch=sm_90", "-Xptxas", "-v", "-o", cubin.toString(), source.toString());
        assertThat(Files.size(cubin)).isPositive();
        assertThat(log).doesNotContainPattern("[1-9][0-9]* bytes spill");
        for (String kernel : KernelSource.kernelNames()) {
            assertThat(log).contains("Function properties for " + kernel);
        }
    }

    private static Optional<Path> nvcc() {
        List<Path> candidates = new ArrayList<>();
        Optional.ofNullable(System.getenv("PATH")).ifPresent(path -> Stream.of(path.split(java.io.File.pathSeparator))
                .forEach(d -> candidates.add(Path.of(d, "nvcc"))));
        Optional.ofNullable(System.getenv("CUDA_HOME")).ifPresent(home -> candidates.add(Path.of(home, "bin", "nvcc")));
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as("%s\n%s", String.join(" ", command), output).isZero();
        return output;
    }
}
