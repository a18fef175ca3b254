package dev.streamingllm.cli;

import dev.streamingllm.sampling.SamplingParams;
import java.util.List;
import picocli.CommandLine.Option;

/** The sampling options, defaulting to the runtime's own {@link SamplingParams#DEFAULTS}; {@code --temperature 0} is greedy. */
final class SamplingOptions {

    @Option(names = "--max-tokens", defaultValue = "" + SamplingParams.DEFAULT_MAX_TOKENS,
            description = "tokens to generate at most (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "" + SamplingParams.DEFAULT_TEMPERATURE, description = "0 is greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "" + SamplingParams.DEFAULT_TOP_K, description = "0 is off (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "" + SamplingParams.DEFAULT_TOP_P, description = "(default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "" + SamplingParams.DEFAULT_MIN_P, description = "(default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "" + SamplingParams.DEFAULT_REPEAT_PENALTY, description = "1 is off (default: ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--seed", description = "random seed: the same seed gives the same text")
    Long seed;

    @Option(names = "--stop", description = "stop string (repeatable)")
    List<String> stop = List.of();

    SamplingParams params() {
        return SamplingParams.DEFAULTS.toBuilder().temperature(temperature).topK(topK).topP(topP).minP(minP)
                .repeatPenalty(repeatPenalty).seed(seed).maxTokens(maxTokens).stop(stop).build();
    }
}
