package dev.streamingllm.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.testing.ReferenceLogits;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The real vocabularies: stories260K (SentencePiece) and the vocab-only files of shared/tokenizer. */
class TokenizerTest {

    static Tokenizer load(Path file) {
        try (GGUFFile gguf = GGUFFile.open(file)) {
            return Tokenizer.fromGGUF(gguf);
        }
    }

    static Tokenizer vocab(String name) {
        return load(Shared.root().resolve("tokenizer").resolve("ggml-vocab-" + name + ".gguf"));
    }

    @Test
    void storiesEncodesOnceUponATimeAfterBos() {
        Tokenizer tokenizer = load(Shared.model("stories260K.gguf"));
        int[] ids = tokenizer.encode("Once upon a time", true, false);
        assertThat(ids).containsExactly(1, 403, 407, 261, 378);
        assertThat(IntStream.of(ids).mapToObj(tokenizer::piece)).containsExactly("<s>", "▁Once", "▁upon", "▁a", "▁time");
        assertThat(tokenizer.decode(ids)).isEqualTo("Once upon a time");
        assertThat(tokenizer.encode("Once upon a time", false, false)).containsExactly(403, 407, 261, 378);
        assertThat(tokenizer.vocabularySize()).isEqualTo(512);
        assertThat(tokenizer.bos()).isEqualTo(1);
        assertThat(tokenizer.eos()).isEqualTo(2);
        assertThat(tokenizer.isEndOfGeneration(2)).isTrue();
        assertThat(tokenizer.isEndOfGeneration(1)).isFalse();
        assertThat(tokenizer.isSpecial(1)).isTrue();
        assertThat(tokenizer.isSpecial(403)).isFalse();
    }

    @Test
    void storiesReproducesTheReferenceTokens() {
        Tokenizer tokenizer = load(Shared.model("stories260K.gguf"));
        int[] reference = ReferenceLogits.read(Shared.reference("stories260K-dense-64.json")).tokens();
        String text = tokenizer.decode(reference);
        assertThat(text).startsWith("Once upon a time, there was a little girl named Lily.");
        assertThat(tokenizer.encode(text, true, false)).containsExactly(reference);
    }

    @Test
    void longStoriesRoundTripWithEveryVocabulary() throws IOException {
        String text = Files.readString(Shared.root().resolve("text/stories-a.txt"));
        for (String name : new String[] {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "falcon", "mpt", "starcoder"}) {
            Tokenizer tokenizer = vocab(name);
            assertThat(tokenizer.decode(tokenizer.encode(text, true, false))).as(name).isEqualTo(text);
        }
    }

    @Test
    void controlTokenTextIsParsedOnlyWhenAsked() {
        Tokenizer phi3 = vocab("phi-3");
        int user = 32010;
        int end = 32007;
        int assistant = 32001;
        int[] parsed = phi3.encode("<|user|>\nHello<|end|>\n<|assistant|>", false, true);
        // phi-3's special tokens swallow the newline after them (llama.cpp's RSTRIP), and SentencePiece puts a space
        // before text that follows a special token
        assertThat(parsed).containsExactly(user, phi3.encode("Hello", false, false)[0], end, assistant);
        assertThat(phi3.piece(parsed[1])).isEqualTo("▁Hello");

        int[] literal = phi3.encode("<|user|>\nHello<|end|>", false, false);
        assertThat(literal).doesNotContain(user, end);
        assertThat(phi3.decode(literal)).isEqualTo("<|user|>\nHello<|end|>");
        // control tokens add no text; only the space prefix at the very start is removed
        assertThat(phi3.decode(parsed)).isEqualTo(" Hello");
    }

    @Test
    void userDefinedTokensAreMatchedEvenWithoutParseSpecial() {
        Tokenizer deepseek = vocab("deepseek-llm");
        int uUmlaut = 100014; // 'ü', a user-defined token
        assertThat(deepseek.isSpecial(uUmlaut)).isTrue();
        assertThat(deepseek.encode("Führer", false, false)).contains(uUmlaut);
        Tokenizer mpt = vocab("mpt");
        assertThat(mpt.piece(50274)).isEqualTo("    ");
        assertThat(mpt.encode("a    b", false, false)).contains(50274);
    }

    @Test
    void endOfGenerationCoversEosAndChatEndTokens() {
        Tokenizer phi3 = vocab("phi-3");
        assertThat(phi3.eos()).isEqualTo(32000);
        assertThat(phi3.piece(32007)).isEqualTo("<|end|>");
        assertThat(phi3.isEndOfGeneration(32000)).isTrue();
        assertThat(phi3.isEndOfGeneration(32007)).isTrue();
        assertThat(phi3.isEndOfGeneration(32010)).isFalse(); // <|user|>
        assertThat(phi3.isEndOfGeneration(-1)).isFalse();

        Tokenizer gpt2 = vocab("gpt-2");
        assertThat(gpt2.eos()).isEqualTo(50256);
        assertThat(gpt2.isEndOfGeneration(50256)).isTrue();
        assertThat(gpt2.encode("Hello", true, false)).as("gpt-2 adds no BOS").containsExactly(15496);

        Tokenizer deepseek = vocab("deepseek-llm");
        assertThat(deepseek.piece(100001)).isEqualTo("<｜end▁of▁sentence｜>");
        assertThat(deepseek.isEndOfGeneration(100001)).isTrue();
        assertThat(deepseek.encode("Hello", true, false)[0]).as("add_bos_token").isEqualTo(100000);

        Tokenizer starcoder = vocab("starcoder");
        assertThat(starcoder.piece(4)).isEqualTo("<fim_pad>");
        assertThat(starcoder.isEndOfGeneration(4)).as("FIM pad ends generation in llama.cpp").isTrue();
    }

    @Test
    void streamingDecoderHoldsBackSplitCharacters() {
        Tokenizer spm = vocab("llama-spm");
        int[] llama = spm.encode("🦙", false, false); // ▁ then four byte tokens
        assertThat(llama).hasSize(5);
        TokenDecoder decoder = spm.newDecoder();
        assertThat(Arrays.stream(llama).mapToObj(decoder::append)).containsExactly(" ", "", "", "", "🦙");
        assertThat(decoder.flush()).isEmpty();

        Tokenizer gpt2 = vocab("gpt-2");
        String text = "Emoji 😶‍🌫️, Khmer កាន់តែ and 我想在apple工作";
        int[] ids = gpt2.encode(text, false, false);
        TokenDecoder stream = gpt2.newDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = stream.append(id);
            assertThat(piece).doesNotContain("\uFFFD");
            out.append(piece);
        }
        assertThat(out.append(stream.flush())).hasToString(text);

        TokenDecoder cut = spm.newDecoder();
        assertThat(cut.append(llama[1]) + cut.append(llama[2])).isEmpty();
        assertThat(cut.flush()).isEqualTo("\uFFFD");
        assertThat(cut.append(spm.encode("ok", false, false)[0])).isEqualTo(" ok");
    }

    @Test
    void decodeBytesGivesRawBytesOfByteTokens() {
        Tokenizer spm = vocab("llama-spm");
        int newline = spm.encode("\n", false, false)[1];
        assertThat(spm.piece(newline)).isEqualTo("<0x0A>");
        assertThat(spm.decodeBytes(newline)).containsExactly('\n');
        assertThat(spm.decodeBytes(spm.bos())).isEmpty();
        assertThatThrownBy(() -> spm.decodeBytes(32000)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("32000");
    }

    @Test
    void longTextRoundTripsThroughEveryTokenizerKind() throws IOException {
        // Speed is a benchmark's business; here a 40,000-character text must encode and decode back exactly.
        String text = Files.readString(Shared.root().resolve("text/stories-long.txt")).substring(0, 40_000);
        for (String name : new String[] {"gpt-2", "llama-spm", "deepseek-llm"}) {
            Tokenizer tokenizer = vocab(name);
            int[] ids = tokenizer.encode(text, false, false);
            assertThat(ids.length).as(name).isGreaterThan(9_000);
            assertThat(tokenizer.decode(ids)).as(name).isEqualTo(text);
        }
    }
}
