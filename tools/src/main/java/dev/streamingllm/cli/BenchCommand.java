package dev.streamingllm.cli;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.eval.AttentionMode;
import dev.streamingllm.eval.Benchmarks;
import dev.streamingllm.eval.SnapshotBenchmark;
import dev.streamingllm.eval.SyntheticModel;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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

@Command(name = "bench", description = {
        "Prefill and decode tokens/s of MODEL;",
        "--latency: per-token decode latency per cache size and mode (the paper's Figure 10);",
        "--stream N: N tokens through one session with latency percentiles and resident memory;",
        "--snapshot: bytes, save and restore time of one conversation's snapshot with a full cache;",
        "--synthetic SHAPE --type TYPE --write FILE: write a random-weight model to time elsewhere too."})
final class BenchCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Option(names = "--threads", description = "worker threads (default: all cores)")
    Integer threads;

    @Option(names = "--json", description = "print results as JSON on stdout")
    boolean json;

    @Option(names = "--prompt", defaultValue = "128", description = "prefill tokens, into an empty context (default: ${DEFAULT-VALUE})")
    int prompt;

    @Option(names = "--generate", defaultValue = "64", description = "decoded tokens, from an empty context like llama-bench's tg test (default: ${DEFAULT-VALUE})")
    int generate;

    @Option(names = "--repetitions", defaultValue = "3", description = "timed repetitions, best kept (default: ${DEFAULT-VALUE})")
    int repetitions;

    @Option(names = "--latency", description = "measure per-token latency per cache size and mode")
    boolean latency;

    @Option(names = "--cache", split = ",", defaultValue = "256,512,1024,2048,4096", description = "cache sizes for --latency (default: ${DEFAULT-VALUE})")
    int[] caches;

    @Option(names = "--modes", split = ",", defaultValue = "recompute,streaming", description = "modes for --latency (default: ${DEFAULT-VALUE})")
    String[] modes;

    @Option(names = "--tokens", defaultValue = "8", description = "timed tokens per cache size for --latency (default: ${DEFAULT-VALUE})")
    int latencyTokens;

    @Option(names = "--stream", description = "stream this many tokens through one session")
    Long stream;

    @Option(names = "--warmup", defaultValue = "10000", description = "untimed tokens before --stream's first block (default: ${DEFAULT-VALUE})")
    long warmup;

    @Option(names = "--snapshot", description = "measure a conversation snapshot (session routing's takeover) with a full cache")
    boolean snapshot;

    /** The cache of --stream and --snapshot. */
    @Mixin
    CacheOptions cacheOptions;

    @Option(names = "--synthetic", paramLabel = "SHAPE", description = "write a random-weight model of this shape: ${COMPLETION-CANDIDATES}",
            completionCandidates = Shapes.class)
    String synthetic;

    @Option(names = "--type", defaultValue = "Q8_0", description = "weight type for --synthetic: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--write", paramLabel = "FILE", description = "output file for --synthetic")
    Path write;

    static final class Shapes extends ArrayList<String> {
        Shapes() {
            super(SyntheticModel.SHAPES.keySet());
        }
    }

    @Override
    public Integer call() throws Exception {
        if (synthetic != null) {
            if (write == null) {
                throw new IllegalArgumentException("--synthetic needs --write FILE");
            }
            GGMLType ggmlType = GGMLType.valueOf(type.toUpperCase(Locale.ROOT));
            long start = System.nanoTime();
            SyntheticModel.write(SyntheticModel.shape(synthetic), ggmlType, write, 42);
            System.err.printf("wrote %s (%s, %s) in %.1f s%n", write, synthetic, ggmlType, (System.nanoTime() - start) / 1e9);
            return 0;
        }
        if (model == null) {
            throw new IllegalArgumentException("MODEL is required (or --synthetic SHAPE --write FILE)");
        }
        atLeastOne("--prompt", prompt);
        atLeastOne("--generate", generate);
        atLeastOne("--repetitions", repetitions);
        if (threads != null) {
            dev.streamingllm.backend.cpu.Parallel.setThreads(threads);
        }
        try (Model m = Model.load(model, Backend.CPU, cacheOptions.settings())) {
            Benchmarks bench = new Benchmarks(m.transformer());
            if (latency) {
                latency(bench);
            } else if (snapshot) {
                snapshot(m);
            } else if (stream != null) {
                stream(bench, m.cacheConfig());
            } else {
                throughput(bench);
            }
        }
        return 0;
    }

    private static void atLeastOne(String option, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(option + " must be at least 1, was " + value);
        }
    }

    private void throughput(Benchmarks bench) throws Exception {
        Benchmarks.Throughput result = bench.throughput(prompt, generate, repetitions);
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", model.toString());
            out.put("threads", dev.streamingllm.backend.cpu.Parallel.threads());
            out.put("prompt_tokens", result.promptTokens());
            out.put("generated_tokens", result.generatedTokens());
            out.put("prefill_tokens_per_s", result.prefillTokensPerSecond());
            out.put("decode_tokens_per_s", result.decodeTokensPerSecond());
            // Mapped, not copied: the weights show up as file-backed pages, the heap as anonymous ones.
            out.put("file_bytes", Files.size(model));
            out.put("rss_bytes", Benchmarks.residentBytes("VmRSS"));
            out.put("rss_file_bytes", Benchmarks.residentBytes("RssFile"));
            out.put("rss_anon_bytes", Benchmarks.residentBytes("RssAnon"));
            System.out.println(JsonMapper.builder().build().writeValueAsString(out));
        } else {
            System.out.printf("prefill %d tokens: %.1f tokens/s%ndecode %d tokens: %.1f tokens/s%n"
                            + "resident %.1f MiB: %.1f MiB mapped from the file, %.1f MiB heap and other memory%n",
                    result.promptTokens(), result.prefillTokensPerSecond(), result.generatedTokens(), result.decodeTokensPerSecond(),
                    Benchmarks.residentBytes("VmRSS") / 1048576.0, Benchmarks.residentBytes("RssFile") / 1048576.0,
                    Benchmarks.residentBytes("RssAnon") / 1048576.0);
        }
    }

    private void latency(Benchmarks bench) throws Exception {
        // An untimed pass of each mode at the smallest cache first: in a fresh JVM the first size timed also paid for
        // C2 compiling the kernels (the default model's streaming decode at cache 256 read 11.9-14.5 ms a token when
        // timed first, 6.8-9.8 after a pass at 4096).
        int smallest = Arrays.stream(caches).min().orElseThrow();
        for (String name : modes) {
            bench.latency(AttentionMode.parse(name), smallest, latencyTokens, cacheOptions.type);
        }
        System.err.printf("warm-up: cache %d, untimed%n", smallest);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int cache : caches) {
            for (String name : modes) {
                AttentionMode mode = AttentionMode.parse(name);
                Benchmarks.Latency result = bench.latency(mode, cache, latencyTokens, cacheOptions.type);
                System.err.printf("cache %5d  %-10s %9.2f ms/token%n", cache, mode.label(), result.msPerToken());
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("mode", mode.label());
                row.put("cache", cache);
                row.put("ms_per_token", result.msPerToken());
                rows.add(row);
            }
        }
        if (json) {
            System.out.println(JsonMapper.builder().build().writeValueAsString(rows));
        } else {
            System.out.printf("%-8s %-10s %12s%n", "cache", "mode", "ms/token");
            for (Map<String, Object> row : rows) {
                System.out.printf("%-8d %-10s %12.2f%n", row.get("cache"), row.get("mode"), row.get("ms_per_token"));
            }
        }
    }

    private void stream(Benchmarks bench, CacheConfig cache) {
        System.out.printf("%-10s %9s %9s %9s %9s %12s%n", "tokens", "p50 ms", "p90 ms", "p99 ms", "max ms", "RSS MiB");
        bench.stream(cache, warmup, stream, 100_000, block ->
                System.out.printf("%-10d %9.3f %9.3f %9.3f %9.3f %12.1f%n", block.tokens(), block.p50Ms(), block.p90Ms(),
                        block.p99Ms(), block.maxMs(), block.residentBytes() / 1048576.0));
    }

    private void snapshot(Model m) throws Exception {
        CacheConfig cache = m.cacheConfig();
        SnapshotBenchmark.Result result = SnapshotBenchmark.measure(m, cache, repetitions);
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", model.toString());
            out.put("sinks", cache.sinks());
            out.put("window", cache.window());
            out.put("tokens_held", result.tokensHeld());
            out.put("cache_bytes", result.cacheBytes());
            out.put("snapshot_bytes", result.snapshotBytes());
            out.put("save_ms", result.saveMs());
            out.put("restore_ms", result.restoreMs());
            System.out.println(JsonMapper.builder().build().writeValueAsString(out));
        } else {
            System.out.printf("cache %d sinks + %d window, %d tokens held, %d cache bytes%nsnapshot %d bytes: save %.1f ms, restore %.1f ms (median of %d)%n",
                    cache.sinks(), cache.window(), result.tokensHeld(), result.cacheBytes(), result.snapshotBytes(), result.saveMs(), result.restoreMs(), repetitions);
        }
    }
}
