package dev.streamingllm.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Word splits of pre-tokenizers the shared vectors do not cover. The expected words are what the Hugging Face
 * regexes give (checked with Python's regex module), except where llama.cpp's adapted regex differs, as noted.
 */
class TokenizerPreTokenizerTest {

    private static final String TEXT = "Hello world 1234567 I'M here!!\n\n  x\u00A0y";

    private static PreTokenizer pre(String name) {
        return PreTokenizer.forName(name, Path.of("test.gguf"));
    }

    @Test
    void llama3GroupsDigitsByThreeAndKeepsUppercaseContractions() {
        assertThat(pre("llama-bpe").split(TEXT)).containsExactly(
                "Hello", " world", " ", "123", "456", "7", " I", "'M", " here", "!!\n\n", " ", " x", "\u00A0y");
        assertThat(pre("llama3").ignoreMerges()).isTrue();
        assertThat(pre("llama3").addBos()).isTrue();
    }

    @Test
    void qwen2SplitsEveryDigit() {
        assertThat(pre("qwen2").split(TEXT)).containsExactly(
                "Hello", " world", " ", "1", "2", "3", "4", "5", "6", "7", " I", "'M", " here", "!!\n\n", " ", " x", "\u00A0y");
    }

    @Test
    void gpt4oSplitsCamelCase() {
        assertThat(pre("gpt-4o").split("CamelCaseWord HTTPServer don't 12345 Привет!")).containsExactly(
                "Camel", "Case", "Word", " HTTPServer", " don't", " ", "123", "45", " Привет", "!");
        // llama.cpp's rewrite of this regex has no \p{M}: a combining mark leaves its letter (Hugging Face keeps " é")
        assertThat(pre("gpt-4o").split(" e\u0301")).containsExactly(" e", "\u0301");
    }

    @Test
    void gpt2KeepsOneSpaceBeforeEachWord() {
        assertThat(pre("gpt-2").split("  Hello\tworld's   end ")).containsExactly(
                " ", " Hello", "\t", "world", "'s", "  ", " end", " ");
    }
}
