package dev.streamingllm.cli;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cuda.CudaDecoder;
import dev.streamingllm.backend.cuda.CudaOptions;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.model.Model;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

@Command(name = "gpu-bench", description = {
        "Decode throughput of the CUDA backend with N concurrent sessions, each step one batched pass advancing every session by a token.",
        "Each session is prefilled with --prompt tokens first; steps are timed after --warmup steps."})
final class GpuBenchCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file (e.g. from bench --synthetic llama2-7b --type F16 --write FILE), a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Option(names = "--sessions", split = ",", defaultValue = "1,8,32,128", description = "concurrent sessions per run (default: ${DEFAULT-VALUE})")
    List<Integer> sessions;

    @Mixin
    CacheOptions cacheOptions;

    @Option(names = "--prompt", defaultValue = "64", description = "prefilled tokens per session (default: ${DEFAULT-VALUE})")
    int prompt;

    @Option(names = "--steps", defaultValue = "64", description = "timed decode steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--warmup", defaultValue = "8")
    int warmup;

    @Option(names = "--json", description = "print the table as JSON")
    boolean json;

    @Option(names = "--gemm-min-rows", paramLabel = "N", defaultValue = "" + CudaOptions.DEFAULT_GEMM_MIN_ROWS,
            description = "rows from which a product with a quantized or BF16 matrix goes through cuBLAS instead of the matrix-vector kernels (default: ${DEFAULT-VALUE})")
    int gemmMinRows;

    @Option(names = "--f16-gemm-min-rows", paramLabel = "N", defaultValue = "" + CudaOptions.DEFAULT_F16_GEMM_MIN_ROWS,
            description = "the same for F16 and F32 matrices (default: ${DEFAULT-VALUE})")
    int f16GemmMinRows;

    @Override
    public Integer call() throws Exception {
        int most = sessions.stream().mapToInt(Integer::intValue).max().orElse(1);
        CudaOptions options = new CudaOptions(0, most, Math.max(most, 64), gemmMinRows, f16GemmMinRows);
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Model m = Model.load(model, Backend.CUDA, cacheOptions.settings(), options)) {
            CacheConfig cacheConfig = m.cacheConfig();
            CudaDecoder decoder = (CudaDecoder) m.decoder();
            int vocab = m.config().vocabularySize();
            for (int n : sessions) {
                List<SinkCache> caches = new ArrayList<>();
                int[] promptTokens = new int[prompt];
                for (int i = 0; i < prompt; i++) {
                    promptTokens[i] = 1 + (i * 7919) % (vocab - 1);
                }
                for (int s = 0; s < n; s++) {
                    SinkCache cache = decoder.newCache(cacheConfig);
                    decoder.forward(cache, promptTokens, 0, prompt, false);
                    caches.add(cache);
                }
                int[] tokens = new int[n];
                for (int s = 0; s < n; s++) {
                    tokens[s] = 1 + (s * 104729) % (vocab - 1);
                }
                for (int i = 0; i < warmup; i++) {
                    decoder.decodeBatch(caches, tokens);
                }
                long start = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    decoder.decodeBatch(caches, tokens);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                caches.forEach(decoder::release);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("device", decoder.device().name());
                row.put("model", model.getFileName().toString());
                row.put("sessions", n);
                row.put("stepMs", seconds * 1000 / steps);
                row.put("tokensPerSecond", n * steps / seconds);
                row.put("perSessionTokensPerSecond", steps / seconds);
                rows.add(row);
                if (!json) {
                    System.out.printf(Locale.ROOT, "%-24s %4d sessions  %8.2f ms/step  %9.1f tok/s  (%.1f tok/s per session)%n",
                            decoder.device().name(), n, seconds * 1000 / steps, n * steps / seconds, steps / seconds);
                }
            }
        }
        if (json) {
            System.out.println(JsonMapper.builder().build().writeValueAsString(rows));
        }
        return 0;
    }
}
