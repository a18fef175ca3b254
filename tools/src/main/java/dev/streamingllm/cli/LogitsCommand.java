package dev.streamingllm.cli;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Session;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

@Command(name = "logits", description = "Logits of every position as JSON, in the layout of ../shared/reference.")
final class LogitsCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Option(names = "--tokens", required = true, split = ",", description = "comma-separated token ids")
    int[] tokens;

    @Option(names = "--sinks", description = "attention sinks (with --window; default: dense attention)")
    Integer sinks;

    @Option(names = "--window", description = "rolling window size (with --sinks)")
    Integer window;

    @Mixin
    BackendOption backend;

    @Override
    public Integer call() {
        if ((sinks == null) != (window == null)) {
            throw new IllegalArgumentException("--sinks and --window go together");
        }
        CacheConfig cache = sinks == null ? CacheConfig.dense(tokens.length) : CacheConfig.streaming(sinks, window);
        try (Model m = Model.load(model, backend.backend, CacheSettings.of(cache))) {
            Session session = new Session(m.decoder(), cache);
            float[] logits = session.prefillAll(tokens);
            int vocab = m.config().vocabularySize();
            float[][] rows = new float[tokens.length][];
            for (int i = 0; i < tokens.length; i++) {
                rows[i] = Arrays.copyOfRange(logits, i * vocab, (i + 1) * vocab);
            }
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("model", m.path().getFileName().toString());
            json.put("tokens", tokens);
            json.put("sinks", sinks);
            json.put("window", window);
            json.put("logits", rows);
            System.out.println(JsonMapper.builder().build().writeValueAsString(json));
        }
        return 0;
    }
}
