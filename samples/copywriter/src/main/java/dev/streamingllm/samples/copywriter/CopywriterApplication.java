package dev.streamingllm.samples.copywriter;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.annotation.Bean;

/**
 * An editing assistant on the command line: each line is an instruction for the current document;
 * {@code @name} switches to (or starts) the document called name. Every document is its own endless
 * conversation with the model.
 */
@SpringBootApplication
public class CopywriterApplication {

    public static void main(String[] args) {
        SpringApplication.run(CopywriterApplication.class, args);
    }

    @Bean
    @ConditionalOnBooleanProperty("copywriter.repl")
    CommandLineRunner repl(Copywriter copywriter) {
        return args -> {
            var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String document = "draft";
            System.out.printf("Editing '%s'. Type an instruction, or @name to switch documents.%n%s> ", document, document);
            for (String line; (line = in.readLine()) != null; System.out.printf("%n%s> ", document)) {
                line = line.strip();
                if (line.startsWith("@")) {
                    document = line.substring(1).strip();
                } else if (!line.isEmpty()) {
                    copywriter.revise(document, line).doOnNext(System.out::print).blockLast();
                }
            }
        };
    }
}
