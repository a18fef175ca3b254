package dev.streamingllm.cli;

import dev.streamingllm.eval.AttentionMode;
import dev.streamingllm.eval.Perplexity;
import dev.streamingllm.eval.PerplexityReport;
import dev.streamingllm.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "perplexity", description = {
        "Per-token NLL of TEXT (a file) under each attention mode, with the same cache budget sinks + window:",
        "writes DIR/nll.csv and DIR/perplexity.png (log perplexity against tokens) and prints a per-segment table."})
final class PerplexityCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Parameters(index = "1", paramLabel = "TEXT", description = "text file to score")
    Path text;

    @Option(names = "--modes", split = ",", defaultValue = "dense,window,recompute,streaming", description = "(default: ${DEFAULT-VALUE})")
    String[] modes;

    @Option(names = "--sinks", defaultValue = "4", description = "(default: ${DEFAULT-VALUE})")
    int sinks;

    @Option(names = "--window", required = true, description = "rolling window; window and recompute modes get sinks + window recent tokens")
    int window;

    @Option(names = "--tokens", description = "score only the first N tokens")
    Integer tokens;

    @Option(names = "--segment", defaultValue = "1000", description = "tokens per row of the table (default: ${DEFAULT-VALUE})")
    int segment;

    @Option(names = "--out", required = true, description = "output directory")
    Path out;

    @Override
    public Integer call() throws Exception {
        AttentionMode[] parsed = Arrays.stream(modes).map(AttentionMode::parse).toArray(AttentionMode[]::new);
        try (Model m = Model.load(model)) {
            int[] ids = m.tokenizer().encode(Files.readString(text), true, false);
            if (tokens != null) {
                ids = Arrays.copyOf(ids, Math.min(tokens, ids.length));
            }
            System.err.printf("%s: %d tokens, sinks %d, window %d%n", text.getFileName(), ids.length, sinks, window);
            Perplexity perplexity = new Perplexity(m.transformer());
            PerplexityReport report = new PerplexityReport(m.path().getFileName() + " on " + text.getFileName()
                    + " (sinks " + sinks + ", window " + window + ")");
            for (AttentionMode mode : parsed) {
                long start = System.nanoTime();
                report.add(mode, perplexity.nll(mode, ids, sinks, window));
                System.err.printf("%-10s done in %.1f s%n", mode.label(), (System.nanoTime() - start) / 1e9);
            }
            report.write(out, Math.min(segment, 256));
            report.printTable(System.out, segment);
            System.err.println("wrote " + out.resolve("nll.csv") + " and " + out.resolve("perplexity.png"));
        }
        return 0;
    }
}
