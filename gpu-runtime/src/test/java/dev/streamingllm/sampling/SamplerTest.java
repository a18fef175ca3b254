package dev.streamingllm.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {

    private static float[] logits() {
        // token i has logit i / 10: the highest index is the most likely
        float[] logits = new float[100];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = i / 10f;
        }
        return logits;
    }

    private static Set<Integer> draws(SamplingParams params, int n) {
        Sampler sampler = new Sampler(params);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            seen.add(sampler.sample(logits()));
        }
        return seen;
    }

    @Test
    void greedyTakesTheArgmaxAndTheLowestIndexOnTies() {
        Sampler sampler = new Sampler(SamplingParams.builder().temperature(0).build());
        assertThat(sampler.sample(logits())).isEqualTo(99);
        assertThat(sampler.sample(new float[] {1, 3, 3, 2})).isEqualTo(1);
    }

    @Test
    void topKOnlyEverDrawsTheKBest() {
        Set<Integer> seen = draws(SamplingParams.builder().temperature(5).topK(3).topP(1).minP(0).seed(1L).build(), 5000);
        assertThat(seen).containsExactlyInAnyOrder(97, 98, 99);
    }

    @Test
    void topPKeepsTheSmallestPrefixReachingP() {
        // at temperature 0.1 the probabilities fall by e each step: 0.632, 0.233, 0.086, ...
        Set<Integer> seen = draws(SamplingParams.builder().temperature(0.1f).topK(0).topP(0.8f).minP(0).seed(2L).build(), 5000);
        assertThat(seen).containsExactlyInAnyOrder(98, 99);
    }

    @Test
    void minPDropsTokensFarBelowTheBest() {
        // relative to the best: 1, 1/e = 0.37, 1/e^2 = 0.135, 1/e^3 = 0.05
        Set<Integer> seen = draws(SamplingParams.builder().temperature(0.1f).topK(0).topP(1).minP(0.1f).seed(3L).build(), 5000);
        assertThat(seen).containsExactlyInAnyOrder(97, 98, 99);
    }

    @Test
    void drawsFollowTheDistribution() {
        Sampler sampler = new Sampler(SamplingParams.builder().temperature(1).topK(0).topP(1).minP(0).seed(4L).build());
        int ones = 0;
        for (int i = 0; i < 20000; i++) {
            ones += sampler.sample(new float[] {0, (float) Math.log(3)});
        }
        assertThat(ones / 20000.0).isBetween(0.73, 0.77);
    }

    @Test
    void penaltiesChangeTheArgmax() {
        Sampler repeat = new Sampler(SamplingParams.builder().temperature(0).repeatPenalty(2f).build());
        repeat.accept(2);
        assertThat(repeat.sample(new float[] {0, 1.5f, 2f})).isEqualTo(1); // 2 / 2 = 1 < 1.5

        Sampler frequency = new Sampler(SamplingParams.builder().temperature(0).frequencyPenalty(0.3f).build());
        frequency.accept(2);
        frequency.accept(2);
        assertThat(frequency.sample(new float[] {0, 1.5f, 2f})).isEqualTo(1); // 2 - 0.6 < 1.5

        Sampler presence = new Sampler(SamplingParams.builder().temperature(0).presencePenalty(0.4f).build());
        presence.accept(2);
        presence.accept(2);
        assertThat(presence.sample(new float[] {0, 1.7f, 2f})).isEqualTo(1); // 2 - 0.4 < 1.7

        Sampler forgotten = new Sampler(SamplingParams.builder().temperature(0).repeatPenalty(2f).penaltyLastN(1).build());
        forgotten.accept(2);
        forgotten.accept(0);
        assertThat(forgotten.sample(new float[] {0, 1.5f, 2f})).isEqualTo(2); // token 2 left the penalty window
    }

    @Test
    void anExportedStateContinuesTheSameStream() {
        SamplingParams params = SamplingParams.builder().temperature(2).topK(0).topP(1).minP(0).seed(5L).repeatPenalty(1.1f).build();
        Sampler a = new Sampler(params);
        for (int i = 0; i < 10; i++) {
            a.accept(a.sample(logits()));
        }
        Sampler b = new Sampler(params.toBuilder().seed(999L).build());
        b.importState(a.exportState());
        for (int i = 0; i < 50; i++) {
            int x = a.sample(logits());
            assertThat(b.sample(logits())).isEqualTo(x);
            a.accept(x);
            b.accept(x);
        }
    }

    @Test
    void rejectsInvalidParametersNamingTheField() {
        assertThatThrownBy(() -> SamplingParams.builder().topP(1.5f).build()).hasMessage("topP must be in (0, 1], was 1.5");
        assertThatThrownBy(() -> SamplingParams.builder().temperature(-1).build()).hasMessage("temperature must be >= 0, was -1.0");
        assertThatThrownBy(() -> SamplingParams.builder().maxTokens(0).build()).hasMessage("maxTokens must be >= 1, was 0");
        assertThatThrownBy(() -> SamplingParams.builder().minP(1).build()).hasMessage("minP must be in [0, 1), was 1.0");
        assertThatThrownBy(() -> SamplingParams.builder().stop(java.util.List.of("")).build()).hasMessage("stop strings must not be empty");
    }
}
