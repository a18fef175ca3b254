package dev.streamingllm.cli;

import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.model.Model;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "info", description = "Architecture, shape, parameter count, tensor types, context length, chat template.")
final class InfoCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Override
    public Integer call() {
        try (Model m = Model.load(model)) {
            ModelConfig c = m.config();
            System.out.printf("file:            %s%n", m.path());
            System.out.printf("architecture:    %s%n", c.architecture());
            System.out.printf("shape:           dim %d, %d layers, %d heads, %d KV heads, head %d, ffn %d, vocab %d%n",
                    c.dim(), c.layers(), c.heads(), c.kvHeads(), c.headDim(), c.ffnDim(), c.vocabularySize());
            System.out.printf("parameters:      %,d%n", m.parameterCount());
            System.out.printf("tensor types:    %s%n", m.tensorTypes());
            System.out.printf("context length:  %d%n", c.contextLength());
            System.out.printf("rope:            base %.1f, scale %.2f, %s%n", c.ropeBase(), c.ropeScale(), c.ropeNeox() ? "neox" : "normal");
            System.out.printf("chat template:   %s%n", m.gguf().contains("tokenizer.chat_template") ? "present" : "absent");
        }
        return 0;
    }
}
