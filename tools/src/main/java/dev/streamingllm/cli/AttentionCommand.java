package dev.streamingllm.cli;

import dev.streamingllm.eval.AttentionSinks;
import dev.streamingllm.eval.AttentionSinksReport;
import dev.streamingllm.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "attention", description = {
        "The attention sink (the paper's Figure 2): per layer, the share of attention on each of the first key positions,",
        "averaged over heads and over the queries at positions >= --keys, from one dense pass over the first --tokens of TEXT:",
        "writes DIR/attention.csv and DIR/attention.png (layers x key positions) and prints the share on the first token."})
final class AttentionCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Parameters(index = "1", paramLabel = "TEXT", description = "text file to read")
    Path text;

    @Option(names = "--tokens", defaultValue = "256", description = "tokens of TEXT to run (default: ${DEFAULT-VALUE})")
    int tokens;

    @Option(names = "--keys", defaultValue = "64", description = "key positions to show (default: ${DEFAULT-VALUE})")
    int keys;

    @Option(names = "--out", required = true, description = "output directory")
    Path out;

    @Override
    public Integer call() throws Exception {
        try (Model m = Model.load(model)) {
            int[] ids = m.tokenizer().encode(Files.readString(text), true, false);
            ids = Arrays.copyOf(ids, Math.min(tokens, ids.length));
            System.err.printf("%s: %d tokens, keys 0-%d, queries %d-%d%n", text.getFileName(), ids.length, keys - 1, keys, ids.length - 1);
            long start = System.nanoTime();
            AttentionSinks sinks = AttentionSinks.measure(m.transformer(), ids, keys);
            System.err.printf("dense pass done in %.1f s%n", (System.nanoTime() - start) / 1e9);
            AttentionSinksReport report = new AttentionSinksReport(sinks, m.path().getFileName() + " on " + text.getFileName(),
                    "share of attention per key position, mean over heads and queries " + keys + "-" + (ids.length - 1));
            report.write(out);
            report.printTable(System.out);
            System.err.println("wrote " + out.resolve("attention.csv") + " and " + out.resolve("attention.png"));
        }
        return 0;
    }
}
