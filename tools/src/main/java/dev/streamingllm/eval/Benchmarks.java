package dev.streamingllm.eval;

import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.session.Session;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Speed and memory measurements on one model: prefill/decode throughput, per-token latency of
 * re-computation against StreamingLLM per cache size (the paper's Figure 10), and a long stream
 * through one session with latency percentiles and resident memory along the way.
 */
public final class Benchmarks {

    private final Transformer transformer;
    private final SplittableRandom random = new SplittableRandom(1234);

    public Benchmarks(Transformer transformer) {
        this.transformer = transformer;
    }

    public record Throughput(int promptTokens, int generatedTokens, double prefillTokensPerSecond, double decodeTokensPerSecond) {
    }

    /**
     * Prefill of {@code promptTokens} into an empty session, and {@code generatedTokens} decode steps in
     * another empty session, best of {@code repetitions}: the pp and tg tests of llama-bench, which is
     * the peer these figures are compared with (its tg test also decodes from an empty context, so
     * neither pays for attention over a prompt).
     */
    public Throughput throughput(int promptTokens, int generatedTokens, int repetitions) {
        double bestPrefill = 0;
        double bestDecode = 0;
        for (int r = 0; r < repetitions + 1; r++) { // the first round warms the JIT up
            Session prefill = new Session(transformer, CacheConfig.dense(promptTokens + 1));
            long start = System.nanoTime();
            prefill.prefill(randomTokens(promptTokens));
            long prefilled = System.nanoTime();

            Session decode = new Session(transformer, CacheConfig.dense(generatedTokens + 1));
            int token = randomTokens(1)[0];
            long decodeStart = System.nanoTime();
            for (int i = 0; i < generatedTokens; i++) {
                token = argmax(decode.decode(token));
            }
            long decoded = System.nanoTime();
            if (r > 0) {
                bestPrefill = Math.max(bestPrefill, promptTokens / seconds(prefilled - start));
                bestDecode = Math.max(bestDecode, generatedTokens / seconds(decoded - decodeStart));
            }
        }
        return new Throughput(promptTokens, generatedTokens, bestPrefill, bestDecode);
    }

    public record Latency(AttentionMode mode, int cache, double msPerToken) {
    }

    /**
     * Per-token decode latency with a full cache of {@code cache} tokens. Streaming decodes against
     * 4 sinks and a full window; re-computation re-runs the last {@code cache} tokens for every token. The cached
     * keys and values are stored as {@code type}.
     */
    public Latency latency(AttentionMode mode, int cache, int tokens, CacheType type) {
        int[] context = randomTokens(cache);
        return switch (mode) {
            case STREAMING -> {
                Session session = new Session(transformer, CacheConfig.streaming(CacheConfig.DEFAULT_SINKS, cache - CacheConfig.DEFAULT_SINKS).withType(type));
                float[] logits = session.prefill(context);
                for (int i = 0; i < 4; i++) {
                    logits = session.decode(argmax(logits));
                }
                long start = System.nanoTime();
                for (int i = 0; i < tokens; i++) {
                    logits = session.decode(argmax(logits));
                }
                yield new Latency(mode, cache, seconds(System.nanoTime() - start) * 1000 / tokens);
            }
            case RECOMPUTE -> {
                new Session(transformer, CacheConfig.dense(cache).withType(type)).prefill(context);
                long start = System.nanoTime();
                for (int i = 0; i < tokens; i++) {
                    new Session(transformer, CacheConfig.dense(cache).withType(type)).prefill(context);
                }
                yield new Latency(mode, cache, seconds(System.nanoTime() - start) * 1000 / tokens);
            }
            default -> throw new IllegalArgumentException("latency is measured for recompute and streaming, not " + mode.label());
        };
    }

    public record StreamBlock(long tokens, double p50Ms, double p90Ms, double p99Ms, double maxMs, long residentBytes) {
    }

    /**
     * Streams {@code total} greedy tokens through one session, reporting every {@code block} tokens, after
     * {@code warmup} untimed tokens through the same session (the JIT's warm-up is not the steady state).
     */
    public List<StreamBlock> stream(CacheConfig config, long warmup, long total, int block, Consumer<StreamBlock> progress) {
        Session session = new Session(transformer, config);
        float[] logits = session.prefill(new int[] {1});
        for (long i = 0; i < warmup; i++) {
            logits = session.decode(argmax(logits));
        }
        long[] latencies = new long[block];
        List<StreamBlock> blocks = new ArrayList<>();
        for (long done = 0; done < total; ) {
            int n = (int) Math.min(block, total - done);
            for (int i = 0; i < n; i++) {
                long start = System.nanoTime();
                logits = session.decode(argmax(logits));
                latencies[i] = System.nanoTime() - start;
            }
            done += n;
            long[] sorted = Arrays.copyOf(latencies, n);
            Arrays.sort(sorted);
            StreamBlock result = new StreamBlock(done, ms(sorted, 0.50), ms(sorted, 0.90), ms(sorted, 0.99),
                    sorted[n - 1] / 1e6, residentBytes());
            blocks.add(result);
            progress.accept(result);
        }
        return blocks;
    }

    private int[] randomTokens(int n) {
        int[] tokens = new int[n];
        tokens[0] = 1;
        for (int i = 1; i < n; i++) {
            tokens[i] = 3 + random.nextInt(transformer.config().vocabularySize() - 3);
        }
        return tokens;
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private static double ms(long[] sorted, double quantile) {
        return sorted[Math.min(sorted.length - 1, (int) (quantile * sorted.length))] / 1e6;
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** Resident set size of this process (Linux), or -1 where /proc is absent. */
    public static long residentBytes() {
        return residentBytes("VmRSS");
    }

    /**
     * One resident-memory figure of this process from {@code /proc/self/status} (Linux), or -1 where
     * it is absent: {@code VmRSS} in all, {@code RssFile} for mapped files such as the model's
     * weights, {@code RssAnon} for the heap and everything else the process allocated.
     */
    public static long residentBytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
