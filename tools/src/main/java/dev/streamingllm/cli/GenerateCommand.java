package dev.streamingllm.cli;

import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Engine;
import dev.streamingllm.session.Generator;
import dev.streamingllm.session.Session;
import dev.streamingllm.template.ChatMessage;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "generate", description = "Streams the continuation of PROMPT (or the reply to it with --chat).")
final class GenerateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Parameters(index = "1", paramLabel = "PROMPT", description = "prompt text")
    String prompt;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    CacheOptions cache;

    @Option(names = "--chat", description = "wrap PROMPT as a user message in the model's chat template")
    boolean chat;

    @Mixin
    BackendOption backend;

    @Override
    public Integer call() {
        SamplingParams params = sampling.params();
        try (Model m = Model.load(model, backend.backend, cache.settings()); Engine engine = new Engine(m)) {
            Session session = engine.newSession(m.cacheConfig());
            String text = chat ? m.chatTemplate().render(List.of(ChatMessage.user(prompt)), true) : prompt;
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
