package dev.streamingllm.cli;

import dev.streamingllm.model.Model;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

@Command(name = "tokenize", description = "Token ids of TEXT as a JSON array.")
final class TokenizeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file, a catalog name or a URL", converter = ModelArgument.class)
    Path model;

    @Parameters(index = "1", paramLabel = "TEXT", description = "text to tokenize")
    String text;

    @Option(names = "--no-bos", description = "do not add the BOS token the model asks for")
    boolean noBos;

    @Option(names = "--parse-special", description = "recognize special-token text such as <|im_start|>")
    boolean parseSpecial;

    @Override
    public Integer call() {
        try (Model m = Model.load(model)) {
            int[] ids = m.tokenizer().encode(text, !noBos, parseSpecial);
            System.out.println(JsonMapper.builder().build().writeValueAsString(ids));
        }
        return 0;
    }
}
