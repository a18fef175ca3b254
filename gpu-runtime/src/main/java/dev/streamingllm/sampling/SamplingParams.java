package dev.streamingllm.sampling;

import java.util.List;

/**
 * How to pick the next token. Defaults follow llama.cpp; {@code temperature = 0} is greedy.
 *
 * @param repeatPenalty    llama.cpp's repetition penalty over the last {@code penaltyLastN} tokens (1 = off)
 * @param frequencyPenalty OpenAI's: subtracted once per earlier occurrence (0 = off)
 * @param presencePenalty  OpenAI's: subtracted once if the token occurred at all (0 = off)
 * @param seed             the random stream; the same seed over the same logits gives the same tokens (null = random)
 * @param stop             strings that end generation; the stop string itself is not returned
 * @param grammar          the JSON documents the reply must be, enforced token by token (null = any text)
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repeatPenalty,
        float frequencyPenalty,
        float presencePenalty,
        int penaltyLastN,
        Long seed,
        int maxTokens,
        List<String> stop,
        JsonGrammar grammar) {

    // The defaults, as constants so that option annotations (the command-line tool's) can name them.
    public static final float DEFAULT_TEMPERATURE = 0.8f;
    public static final int DEFAULT_TOP_K = 40;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final float DEFAULT_MIN_P = 0.05f;
    public static final float DEFAULT_REPEAT_PENALTY = 1f;
    public static final int DEFAULT_PENALTY_LAST_N = 64;
    public static final int DEFAULT_MAX_TOKENS = 256;

    public static final SamplingParams DEFAULTS = builder().build();

    public SamplingParams {
        require(temperature >= 0 && Float.isFinite(temperature), "temperature must be >= 0", temperature);
        require(topK >= 0, "topK must be >= 0 (0 = off)", topK);
        require(topP > 0 && topP <= 1, "topP must be in (0, 1]", topP);
        require(minP >= 0 && minP < 1, "minP must be in [0, 1)", minP);
        require(repeatPenalty > 0 && Float.isFinite(repeatPenalty), "repeatPenalty must be > 0 (1 = off)", repeatPenalty);
        require(Float.isFinite(frequencyPenalty), "frequencyPenalty must be finite", frequencyPenalty);
        require(Float.isFinite(presencePenalty), "presencePenalty must be finite", presencePenalty);
        require(penaltyLastN >= 0, "penaltyLastN must be >= 0", penaltyLastN);
        require(maxTokens >= 1, "maxTokens must be >= 1", maxTokens);
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    private static void require(boolean valid, String rule, Object value) {
        if (!valid) {
            throw new IllegalArgumentException(rule + ", was " + value);
        }
    }

    public boolean greedy() {
        return temperature == 0;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().temperature(temperature).topK(topK).topP(topP).minP(minP).repeatPenalty(repeatPenalty)
                .frequencyPenalty(frequencyPenalty).presencePenalty(presencePenalty).penaltyLastN(penaltyLastN)
                .seed(seed).maxTokens(maxTokens).stop(stop).grammar(grammar);
    }

    public static final class Builder {
        private float temperature = DEFAULT_TEMPERATURE;
        private int topK = DEFAULT_TOP_K;
        private float topP = DEFAULT_TOP_P;
        private float minP = DEFAULT_MIN_P;
        private float repeatPenalty = DEFAULT_REPEAT_PENALTY;
        private float frequencyPenalty;
        private float presencePenalty;
        private int penaltyLastN = DEFAULT_PENALTY_LAST_N;
        private Long seed;
        private int maxTokens = DEFAULT_MAX_TOKENS;
        private List<String> stop = List.of();
        private JsonGrammar grammar;

        public Builder temperature(float temperature) {
            this.temperature = temperature;
            return this;
        }

        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        public Builder topP(float topP) {
            this.topP = topP;
            return this;
        }

        public Builder minP(float minP) {
            this.minP = minP;
            return this;
        }

        public Builder repeatPenalty(float repeatPenalty) {
            this.repeatPenalty = repeatPenalty;
            return this;
        }

        public Builder frequencyPenalty(float frequencyPenalty) {
            this.frequencyPenalty = frequencyPenalty;
            return this;
        }

        public Builder presencePenalty(float presencePenalty) {
            this.presencePenalty = presencePenalty;
            return this;
        }

        public Builder penaltyLastN(int penaltyLastN) {
            this.penaltyLastN = penaltyLastN;
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        public Builder stop(List<String> stop) {
            this.stop = stop;
            return this;
        }

        public Builder grammar(JsonGrammar grammar) {
            this.grammar = grammar;
            return this;
        }

        public SamplingParams build() {
            return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty,
                    penaltyLastN, seed, maxTokens, stop, grammar);
        }
    }
}
