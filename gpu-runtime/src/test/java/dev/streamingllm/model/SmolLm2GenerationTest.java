package dev.streamingllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import dev.streamingllm.pull.ModelCatalog;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullProgress;
import dev.streamingllm.session.Session;
import dev.streamingllm.template.ChatMessage;
import dev.streamingllm.testing.Oracle;
import dev.streamingllm.testing.ReferenceLogits;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The default model, SmolLM2-135M-Instruct (Q4_1), pulled through the runtime's own pull code: logits against the
 * float64 oracle, and greedy generation against llama.cpp's {@code llama-simple} on the same file and prompts
 * ({@code smollm2-greedy.json}: 48 tokens or up to the end of the turn, prompts parsed with special tokens, no BOS
 * as the file says).
 *
 * <p>llama.cpp rounds where this runtime does not: it multiplies Q4_1 weights with activations rounded to 8 bits per
 * block of 32 (Q8_1) and the Q8_0 output matrix with Q8_0 activations, and keeps keys and values in F16; here
 * activations and the cache stay F32. Greedy decoding therefore parts from llama.cpp's where two tokens are nearly
 * tied, and only there: teacher-forced on llama.cpp's own continuation, every token it chose is this runtime's
 * first choice or within {@link #NEAR_TIE} of it.
 */
class SmolLm2GenerationTest {

    /** How far (relative to the position's largest logit) llama.cpp's rounding moves a choice: measured at most 1.4e-2. */
    static final double NEAR_TIE = 2e-2;

    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(ModelPuller.standard(PullProgress.QUIET).pull(ModelCatalog.SMOLLM2_135M_INSTRUCT));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void theFileIsTheModelTheCatalogDescribes() {
        ModelConfig c = model.config();
        assertThat(List.of(c.architecture(), c.layers(), c.dim(), c.heads(), c.kvHeads(), c.vocabularySize(), c.contextLength()))
                .containsExactly("llama", 30, 576, 9, 3, 49_152, 8192);
        assertThat(model.gguf().contains("output.weight")).as("output matrix tied to the embeddings").isFalse();
        assertThat(model.chatTemplate().render(List.of(ChatMessage.user("Hi")), true)).isEqualTo(
                "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                        + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        assertThat(model.chatTemplate().render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi")), true)).isEqualTo(
                "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void logitsMatchTheFloat64Oracle(@TempDir Path tmp) {
        String prompt = model.chatTemplate().render(List.of(ChatMessage.user("What is the capital of France?")), true);
        int[] tokens = model.tokenizer().encode(prompt, true, true);
        assertThat(tokens).hasSize(37);
        ReferenceLogits oracle = Oracle.logits(model.path(), tokens, tmp.resolve("smollm2.json"));
        float[] batched = ReferenceLogitsTest.run(model.path(), oracle, tokens.length);
        float[] oneByOne = ReferenceLogitsTest.run(model.path(), oracle, 1);
        double batchedError = oracle.worstRowError(batched);
        double oneByOneError = oracle.worstRowError(oneByOne);
        System.out.printf("SmolLM2 Q4_1: max |logit - oracle| over the row's largest |logit|: %.2e batched, %.2e token by token%n",
                batchedError, oneByOneError);
        int vocab = model.config().vocabularySize();
        double[] answer = oracle.logits()[tokens.length - 1];
        int ours = argmax(oneByOne, (tokens.length - 1) * vocab, vocab);
        if (Weights.load(model.gguf(), model.config()).layers()[0].attnQ().roundsActivations()) {
            // 256-bit machines: the Q4_1 kernels round activations to 11 bits per block, as llama.cpp rounds them to 8,
            // which moves the logits of this 30-layer model by about 1.2e-2 to 1.4e-2 of the largest
            assertThat(batchedError).isLessThanOrEqualTo(2.5e-2);
            assertThat(oneByOneError).isLessThanOrEqualTo(2.5e-2);
            // the answer's first token is a near tie ("The" or "L", 0.3% apart): ours is one of the oracle's best two
            assertThat(answer[argmax(answer)] - answer[ours]).isLessThanOrEqualTo(1e-2 * Math.abs(answer[argmax(answer)]));
        } else {
            assertThat(batchedError).isLessThanOrEqualTo(1e-2);
            assertThat(oneByOneError).isLessThanOrEqualTo(1e-2);
            // the answer's first token, where llama.cpp's rounding picks "L" (0.3% behind): the oracle's choice is ours
            assertThat(ours).isEqualTo(argmax(answer)).isEqualTo(model.tokenizer().encode("The", false, false)[0]);
        }
    }

    @Test
    void llamaCppsGreedyTokensAreOursExceptAtNearTies() throws IOException {
        List<String> report = new ArrayList<>();
        int positions = 0;
        int differ = 0;
        for (JsonNode g : generations()) {
            String prompt = g.get("prompt").asString();
            int[] promptTokens = model.tokenizer().encode(prompt, true, true);
            int[] all = model.tokenizer().encode(prompt + g.get("continuation").asString(), true, true);
            assertThat(all).startsWith(promptTokens);
            Session session = new Session(model.decoder(), CacheConfig.streaming(4, 1020));
            float[] logits = session.prefill(promptTokens);
            for (int i = promptTokens.length; i < all.length; i++, positions++) {
                int ours = argmax(logits, 0, logits.length);
                if (ours != all[i]) {
                    differ++;
                    double gap = (logits[ours] - logits[all[i]]) / maxAbs(logits);
                    if (gap > NEAR_TIE) {
                        report.add(String.format("%s… token %d: llama.cpp's %d is %.3f behind our %d", prompt.substring(0, 20),
                                i - promptTokens.length, all[i], gap, ours));
                    }
                }
                logits = session.decode(all[i]);
            }
        }
        System.out.printf("SmolLM2 greedy: %d of %d of llama.cpp's tokens are not our first choice, each a near tie%n", differ, positions);
        assertThat(positions).isGreaterThan(300);
        assertThat(report).isEmpty();
        assertThat(differ).isLessThan(positions / 20);
    }

    /**
     * The cache types on the default model: 384 tokens of a novel through 4 sinks and a 124-token window (past 250
     * evictions), every position's logits from F16 and Q8_0 caches against an F32 cache's: halves keep every first
     * choice, the median row within 5e-4 and the worst within 2.5e-3 (the serving issue's 2e-3 holds on the reference
     * files, {@code CacheTypeTest}); Q8_0 within 6e-2 and at least 95% of the first choices kept. The worst of 384 rows
     * turns on which cache elements round across a half's boundary: matmuls whose float results moved by 5e-6 of the
     * largest logit moved it from 1.35e-3 to 2.01e-3, and the median from 2.7e-4 to 2.8e-4.
     */
    @Test
    void narrowerCachesKeepTheFloatCachesChoices() throws IOException {
        String novel = Files.readString(Shared.root().resolve("text").resolve("pride-and-prejudice.txt"));
        int[] tokens = Arrays.copyOf(model.tokenizer().encode(novel.substring(20_000, 24_000), false, false), 384);
        CacheConfig floats = CacheConfig.streaming(4, 124);
        float[] expected = new Session(model.decoder(), floats, 64).prefillAll(tokens);
        int vocab = model.config().vocabularySize();
        for (CacheType type : List.of(CacheType.F16, CacheType.Q8_0)) {
            float[] actual = new Session(model.decoder(), floats.withType(type), 64).prefillAll(tokens);
            double[] rows = ReferenceLogits.rowErrors(expected, actual, vocab);
            double worst = Arrays.stream(rows).max().orElseThrow();
            double median = Arrays.stream(rows).sorted().toArray()[rows.length / 2];
            int same = 0;
            for (int row = 0; row < tokens.length; row++) {
                same += argmax(actual, row * vocab, vocab) == argmax(expected, row * vocab, vocab) ? 1 : 0;
            }
            System.out.printf("SmolLM2 %s cache against F32: worst logit error %.2e of the row's largest (median row %.2e), same first choice at %d of %d%n",
                    type, worst, median, same, tokens.length);
            if (type == CacheType.F16) {
                // measured 2.0e-3 (median 2.8e-4), every choice the same
                assertThat(worst).isLessThanOrEqualTo(2.5e-3);
                assertThat(median).isLessThanOrEqualTo(5e-4);
                assertThat(same).isEqualTo(tokens.length);
            } else {
                // measured 4.2e-2, 374 of 384 the same: the other 10 are near ties that 8 bits per key element tip over
                assertThat(worst).isLessThanOrEqualTo(6e-2);
                assertThat(same).isGreaterThanOrEqualTo(tokens.length * 95 / 100);
            }
        }
    }

    private static List<JsonNode> generations() throws IOException {
        try (InputStream in = SmolLm2GenerationTest.class.getResourceAsStream("/smollm2-greedy.json")) {
            return JsonMapper.builder().build().readTree(in).get("generations").valueStream().toList();
        }
    }

    private static int argmax(float[] values, int from, int length) {
        int best = from;
        for (int i = from; i < from + length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best - from;
    }

    private static int argmax(double[] values) {
        int best = 0;
        for (int i = 0; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    private static double maxAbs(float[] values) {
        double max = 0;
        for (float v : values) {
            max = Math.max(max, Math.abs(v));
        }
        return max;
    }
}
