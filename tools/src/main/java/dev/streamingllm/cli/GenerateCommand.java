package dev.streamingllm.cli;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cuda.CudaOptions;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Engine;
import dev.streamingllm.session.Generator;
import dev.streamingllm.session.Session;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "generate", description = "Streams the continuation of PROMPT (or the reply to it with --chat).")
final class GenerateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Parameters(index = "1", paramLabel = "PROMPT", description = "prompt text")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "256", description = "tokens to generate at most (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 is greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40", description = "(default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "(default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "(default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "(default: ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--seed", description = "random seed: the same seed gives the same text")
    Long seed;

    @Option(names = "--stop", description = "stop string (repeatable)")
    List<String> stop = List.of();

    @Option(names = "--sinks", defaultValue = "4", description = "attention sinks (default: ${DEFAULT-VALUE})")
    int sinks;

    @Option(names = "--window", defaultValue = "1020", description = "rolling window (default: ${DEFAULT-VALUE})")
    int window;

    @Option(names = "--chat", description = "wrap PROMPT as a user message in the model's chat template")
    boolean chat;

    @Option(names = "--backend", defaultValue = "cpu", converter = BackendConverter.class,
            description = "auto, cpu or cuda (default: ${DEFAULT-VALUE})")
    Backend backend;

    @Override
    public Integer call() {
        SamplingParams params = SamplingParams.builder().temperature(temperature).topK(topK).topP(topP).minP(minP)
                .repeatPenalty(repeatPenalty).seed(seed).maxTokens(maxTokens).stop(stop).build();
        try (Model m = Model.load(model, backend, CudaOptions.of(sinks + window)); Engine engine = new Engine(m)) {
            Session session = engine.newSession(CacheConfig.streaming(sinks, window));
            String text = chat ? m.chatTemplate().render(List.of(dev.streamingllm.template.ChatMessage.user(prompt)), true) : prompt;
            int[] tokens = m.tokenizer().encode(text, true, chat);
            if (!chat) {
                System.out.print(prompt);
            }
            long start = System.nanoTime();
            Generator.Result result = new Generator(m.tokenizer(), engine.scheduler()).generate(session, tokens, params, piece -> {
                System.out.print(piece);
                System.out.flush();
            }, () -> false);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.println();
            System.err.printf("[%d prompt tokens, %d generated, %s, %.1f tokens/s overall]%n", result.promptTokens(),
                    result.completionTokens(), result.finishReason(), (result.promptTokens() + result.completionTokens()) / seconds);
        }
        return 0;
    }
}
