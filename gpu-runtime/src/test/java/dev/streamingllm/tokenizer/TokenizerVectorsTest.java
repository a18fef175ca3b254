package dev.streamingllm.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.DynamicContainer.dynamicContainer;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * llama.cpp's tokenizer vectors (test-tokenizer-0): for every vocabulary in shared/tokenizer, each input of
 * {@code .inp} must encode, without BOS and without parsing special-token text, to the ids on the same line of
 * {@code .out}, and decode back to itself.
 */
class TokenizerVectorsTest {

    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    record Vector(int index, String input, int[] expected) {
    }

    @TestFactory
    Stream<DynamicContainer> everyVocabulary() throws IOException {
        List<Path> vocabularies;
        try (Stream<Path> files = Files.list(Shared.root().resolve("tokenizer"))) {
            vocabularies = files.filter(p -> p.toString().endsWith(".gguf")).sorted().toList();
        }
        assertThat(vocabularies).isNotEmpty();
        return vocabularies.stream().map(file -> {
            Tokenizer tokenizer = load(file);
            String name = file.getFileName().toString().replace("ggml-vocab-", "").replace(".gguf", "");
            return dynamicContainer(name, vectors(file).stream().map(v -> test(name, tokenizer, v)));
        });
    }

    private static DynamicTest test(String vocabulary, Tokenizer tokenizer, Vector vector) {
        return dynamicTest("#" + vector.index() + " " + printable(vector.input()), () -> {
            int[] ids = tokenizer.encode(vector.input(), false, false);
            assertThat(ids).as("%s: ids of %s", vocabulary, printable(vector.input())).containsExactly(vector.expected());
            assertThat(tokenizer.decode(ids)).as("%s: decoded", vocabulary).isEqualTo(vector.input());
        });
    }

    private static Tokenizer load(Path file) {
        try (GGUFFile gguf = GGUFFile.open(file)) {
            return Tokenizer.fromGGUF(gguf);
        }
    }

    /** Splits .inp exactly as test-tokenizer-0.cpp does: at each separator, the text before the last one ends it. */
    static List<Vector> vectors(Path vocabulary) {
        try {
            String raw = Files.readString(Path.of(vocabulary + ".inp"));
            List<String> inputs = new ArrayList<>();
            for (int pos = 0; pos < raw.length(); ) {
                int next = raw.indexOf(SEPARATOR, pos);
                if (next < 0) {
                    inputs.add(raw.substring(pos));
                    break;
                }
                inputs.add(raw.substring(pos, next));
                pos = next + SEPARATOR.length();
            }
            List<String> lines = Arrays.asList(Files.readString(Path.of(vocabulary + ".out")).split("\n", -1));
            List<String> outputs = lines.subList(0, lines.size() - 1); // the file ends with a newline
            assertThat(outputs).as("lines of %s.out", vocabulary).hasSameSizeAs(inputs);
            return IntStream.range(0, inputs.size())
                    .mapToObj(i -> new Vector(i, inputs.get(i), ids(outputs.get(i))))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ids(String line) {
        String stripped = line.strip();
        return stripped.isEmpty() ? new int[0] : Arrays.stream(stripped.split(" ")).mapToInt(Integer::parseInt).toArray();
    }

    static String printable(String s) {
        String escaped = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r");
        return "'" + (escaped.length() > 40 ? escaped.substring(0, 40) + "…" : escaped) + "'";
    }
}
