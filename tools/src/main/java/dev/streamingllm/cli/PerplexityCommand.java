package dev.streamingllm.cli;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.eval.AttentionMode;
import dev.streamingllm.eval.LongStream;
import dev.streamingllm.eval.Perplexity;
import dev.streamingllm.eval.PerplexityReport;
import dev.streamingllm.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "perplexity", description = {
        "Per-token NLL of TEXT (a file) under each attention mode, with the same cache budget sinks + window:",
        "writes DIR/nll.csv and DIR/perplexity.png (log perplexity against tokens) and prints a per-segment table.",
        "With several --sinks and --cache, compares sink counts at one cache size (the paper's Table 2).",
        "With --stream N, reads TEXT over and over for N tokens through one session per mode (window, streaming):",
        "perplexity and resident memory per --block, in DIR/blocks.csv and a table."})
final class PerplexityCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Parameters(index = "1", paramLabel = "TEXT", description = "text file to score")
    Path text;

    @Option(names = "--modes", split = ",", defaultValue = "dense,window,recompute,streaming", description = "(default: ${DEFAULT-VALUE})")
    String[] modes;

    @Option(names = "--sinks", split = ",", defaultValue = "4", description = "attention sinks; a list compares them (default: ${DEFAULT-VALUE})")
    int[] sinks;

    @ArgGroup(multiplicity = "1")
    Budget budget;

    static final class Budget {
        @Option(names = "--window", description = "rolling window; window and recompute modes get sinks + window recent tokens")
        Integer window;

        @Option(names = "--cache", description = "cache size sinks + window, the same for every sink count")
        Integer cache;
    }

    @Option(names = "--tokens", description = "score only the first N tokens")
    Integer tokens;

    @Option(names = "--limit", paramLabel = "MODE=N", description = "score MODE on the first N tokens only (e.g. recompute=1000)")
    Map<String, Integer> limits = Map.of();

    @Option(names = "--every", paramLabel = "MODE=K", description = "score only every K-th prediction of MODE (recompute only: e.g. recompute=10)")
    Map<String, Integer> every = Map.of();

    @Option(names = "--stream", paramLabel = "N", description = "stream N tokens, the text repeated, per block (window and streaming modes)")
    Long stream;

    @Option(names = "--block", defaultValue = "100000", description = "tokens per block of --stream (default: ${DEFAULT-VALUE})")
    int block;

    @Option(names = "--checkpoint", paramLabel = "DIR", description = "keep --stream's progress in DIR after each block and continue from it when run again")
    Path checkpoint;

    @Option(names = "--segment", defaultValue = "1000", description = "tokens per row of the table (default: ${DEFAULT-VALUE})")
    int segment;

    @Option(names = "--cache-type", defaultValue = "f32", converter = CacheTypeConverter.class,
            description = "element type of the cached keys and values: f32, f16 or q8_0 (default: ${DEFAULT-VALUE})")
    CacheType cacheType;

    @Option(names = "--out", required = true, description = "output directory")
    Path out;

    @Override
    public Integer call() throws Exception {
        AttentionMode[] parsed = Arrays.stream(modes).map(AttentionMode::parse).toArray(AttentionMode[]::new);
        Map<AttentionMode, Integer> limit = new EnumMap<>(AttentionMode.class);
        limits.forEach((mode, n) -> limit.put(AttentionMode.parse(mode), n));
        Map<AttentionMode, Integer> stride = new EnumMap<>(AttentionMode.class);
        every.forEach((mode, k) -> stride.put(AttentionMode.parse(mode), k));
        for (int s : sinks) {
            if (budget.cache != null && s >= budget.cache) {
                throw new ParameterException(spec.commandLine(), "--sinks " + s + " leaves no window in a cache of " + budget.cache);
            }
        }
        try (Model m = Model.load(model)) {
            int[] ids = m.tokenizer().encode(Files.readString(text), true, false);
            if (tokens != null) {
                ids = Arrays.copyOf(ids, Math.min(tokens, ids.length));
            }
            if (stream != null) {
                longStream(m, ids, parsed);
                return 0;
            }
            Perplexity perplexity = new Perplexity(m.transformer(), cacheType);
            PerplexityReport report = new PerplexityReport(m.path().getFileName() + " on " + text.getFileName() + " ("
                    + (budget.cache != null ? "cache " + budget.cache : "sinks " + sinks[0] + ", window " + budget.window) + ")");
            for (AttentionMode mode : parsed) {
                int[] scored = limit.containsKey(mode) ? Arrays.copyOf(ids, Math.min(limit.get(mode), ids.length)) : ids;
                // sink counts matter only where sinks exist; the others run once
                int[] counts = mode == AttentionMode.STREAMING ? sinks : new int[] {sinks[0]};
                for (int s : counts) {
                    int window = budget.cache != null ? budget.cache - s : budget.window;
                    String label = sinks.length > 1 && mode == AttentionMode.STREAMING ? mode.label() + " " + s + "+" + window : mode.label();
                    System.err.printf("%s: %s on %d tokens, sinks %d, window %d%n", text.getFileName(), label, scored.length, s, window);
                    long start = System.nanoTime();
                    report.add(label, perplexity.nll(mode, scored, s, window, stride.getOrDefault(mode, 1)));
                    System.err.printf("%-18s done in %.1f s%n", label, (System.nanoTime() - start) / 1e9);
                }
            }
            report.write(out, Math.min(segment, 256));
            report.printTable(System.out, segment);
            System.err.println("wrote " + out.resolve("nll.csv") + " and " + out.resolve("perplexity.png"));
        }
        return 0;
    }

    /** Each mode's blocks as they end, on stdout, then all of them in {@code blocks.csv}. */
    private void longStream(Model m, int[] ids, AttentionMode[] parsed) throws java.io.IOException {
        LongStream longStream = new LongStream(m.transformer());
        Files.createDirectories(out);
        try (java.io.PrintWriter csv = new java.io.PrintWriter(Files.newBufferedWriter(out.resolve("blocks.csv")))) {
            csv.println("series,tokens,perplexity,rss_mib,process");
            System.out.printf("%-18s %12s %12s %10s %8s%n", "series", "tokens", "perplexity", "RSS MiB", "process");
            for (AttentionMode mode : parsed) {
                if (mode != AttentionMode.STREAMING && mode != AttentionMode.WINDOW) {
                    throw new ParameterException(spec.commandLine(), "--stream runs window and streaming only, not " + mode.label());
                }
                for (int s : mode == AttentionMode.STREAMING ? sinks : new int[] {0}) {
                    int window = budget.cache != null ? budget.cache - s : budget.window + (mode == AttentionMode.WINDOW ? sinks[0] : 0);
                    String label = mode.label() + " " + s + "+" + window;
                    long start = System.nanoTime();
                    Path series = checkpoint == null ? null : checkpoint.resolve(label.replace(' ', '-'));
                    longStream.run(new CacheConfig(s, window, 1, cacheType), ids, stream, block, series, b -> {
                        System.out.printf("%-18s %12d %12.3f %10.1f %8d%n", label, b.tokens(), b.perplexity(), b.residentBytes() / 1048576.0, b.process());
                        csv.printf("%s,%d,%.4f,%.1f,%d%n", label, b.tokens(), b.perplexity(), b.residentBytes() / 1048576.0, b.process());
                        csv.flush();
                    });
                    System.err.printf("%-18s done in %.1f s%n", label, (System.nanoTime() - start) / 1e9);
                }
            }
        }
    }
}
