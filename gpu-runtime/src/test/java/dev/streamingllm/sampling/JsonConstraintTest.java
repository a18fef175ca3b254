package dev.streamingllm.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.pull.ModelCatalog;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullProgress;
import dev.streamingllm.testing.Shared;
import dev.streamingllm.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

/**
 * The mask from the token trie (with plain tokens taken as a block inside strings) against the plain definition:
 * a token is allowed when the automaton takes each of its bytes, one token at a time from the current state.
 */
class JsonConstraintTest {

    private static final String DOCUMENT = "{\"name\": \"Zo\u00eb \\\"Z\\\" \u65e5\u672c\", \"age\": 31,\n  \"email\": \"zoe@example.com\"}";

    @Test
    void theTriesMaskIsExactlyTheTokensTheAutomatonTakesOnSmolLm2() {
        Path model = ModelPuller.standard(PullProgress.QUIET).pull(ModelCatalog.SMOLLM2_135M_INSTRUCT);
        try (GGUFFile gguf = GGUFFile.open(model)) {
            checkAlong(Tokenizer.fromGGUF(gguf), JsonGrammar.fromSchema(JsonAutomatonTest.PERSON), DOCUMENT);
            checkAlong(Tokenizer.fromGGUF(gguf), JsonGrammar.anyObject(), "{\"a\": [1, -2.5e3, {\"b\": null}], \"c\": true}");
        }
    }

    @Test
    void theTriesMaskIsExactlyTheTokensTheAutomatonTakesOnASentencePieceVocabulary() {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            checkAlong(Tokenizer.fromGGUF(gguf), JsonGrammar.fromSchema(JsonAutomatonTest.PERSON), DOCUMENT);
        }
    }

    @Test
    void aStringNearItsMaximumAllowsOnlyTokensThatFit() {
        Path model = ModelPuller.standard(PullProgress.QUIET).pull(ModelCatalog.SMOLLM2_135M_INSTRUCT);
        try (GGUFFile gguf = GGUFFile.open(model)) {
            String schema = "{\"type\":\"object\",\"required\":[\"code\"],\"properties\":{\"code\":{\"type\":\"string\",\"maxLength\":6}}}";
            checkAlong(Tokenizer.fromGGUF(gguf), JsonGrammar.fromSchema(schema), "{\"code\":\"abcdef\"}");
        }
    }

    /** Follows {@code document}'s tokens and compares, before each, the constraint's mask to one found token by token. */
    private static void checkAlong(Tokenizer tokenizer, JsonGrammar grammar, String document) {
        int[] tokens = tokenizer.encode(document, false, false);
        Sampler sampler = new Sampler(SamplingParams.builder().temperature(0).grammar(grammar).build(), tokenizer);
        JsonAutomaton automaton = new JsonAutomaton(grammar);
        int[] stack = JsonAutomaton.newStack();
        int top = automaton.start(stack);
        for (int i = 0; i < tokens.length; i++) {
            int token = tokens[i];
            float[] logits = new float[tokenizer.vocabularySize()];
            logits[token] = 1;
            assertThat(sampler.sample(logits)).as("the document's own token is allowed and the best").isEqualTo(token);
            BitSet masked = new BitSet();
            for (int id = 0; id < logits.length; id++) {
                if (logits[id] != Float.NEGATIVE_INFINITY) {
                    masked.set(id);
                }
            }
            BitSet expected = new BitSet();
            for (int id = 0; id < logits.length; id++) {
                if (takes(automaton, stack, top, tokenizer, id)) {
                    expected.set(id);
                }
            }
            assertThat(masked).as("mask after %s", tokenizer.decode(Arrays.copyOf(tokens, i))).isEqualTo(expected);
            assertThat(masked.cardinality()).isGreaterThan(0);
            sampler.accept(token);
            for (byte b : tokenizer.decodeBytes(token)) {
                top = automaton.step(stack, top, b & 0xFF);
            }
        }
        assertThat(sampler.documentComplete()).isTrue();
    }

    private static boolean takes(JsonAutomaton automaton, int[] stack, int top, Tokenizer tokenizer, int id) {
        if (tokenizer.isEndOfGeneration(id)) {
            return automaton.canEnd(stack, top);
        }
        byte[] bytes = tokenizer.isSpecial(id) ? new byte[0] : tokenizer.decodeBytes(id);
        if (bytes.length == 0) {
            return false;
        }
        int[] copy = stack.clone();
        int height = top;
        for (byte b : bytes) {
            height = automaton.step(copy, height, b & 0xFF);
            if (height < 0) {
                return false;
            }
        }
        return true;
    }
}
