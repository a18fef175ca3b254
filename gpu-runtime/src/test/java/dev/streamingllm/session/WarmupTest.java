package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.testing.Shared;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The warm-up runs on caches and conversations of its own, through the engine's scheduler: a conversation afterwards
 * gets exactly the logits it gets on a model that was never warmed up, and the time allowed bounds the rounds.
 */
class WarmupTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gqa-q4_0.gguf", "tiny-gqa-q8_0.gguf"})
    void aConversationAfterTheWarmupGetsTheLogitsOfAColdModel(String file) {
        int[] prompt = {1, 45, 96, 173, 17, 43, 172, 97, 27, 173, 112, 28, 13};
        float[] cold;
        float[] coldNext;
        try (Model model = Model.load(Shared.model(file))) {
            Session session = new Session(model.decoder(), CacheConfig.streaming(4, 60));
            cold = session.prefill(prompt);
            coldNext = session.decode(29);
        }
        try (Model model = Model.load(Shared.model(file))) {
            Warmup.Report report;
            try (Engine engine = new Engine(model)) {
                report = Warmup.run(engine, CacheConfig.streaming(4, 60), true, SamplingParams.DEFAULTS, Duration.ofSeconds(30));
                assertThat(engine.scheduler().steps()).as("the warm-up's conversations ran through the scheduler").isPositive();
            }
            assertThat(report.rounds()).isGreaterThanOrEqualTo(Warmup.MIN_ROUNDS);
            assertThat(report.elapsed()).isGreaterThanOrEqualTo(report.lastRound());
            Session session = new Session(model.decoder(), CacheConfig.streaming(4, 60));
            assertThat(session.prefill(prompt)).containsExactly(cold);
            assertThat(session.decode(29)).containsExactly(coldNext);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K.gguf"})
    void noTimeAllowedRunsOneRound(String file) {
        try (Model model = Model.load(Shared.model(file)); Engine engine = new Engine(model)) {
            Warmup.Report report = Warmup.run(engine, CacheConfig.streaming(4, 60), true, SamplingParams.DEFAULTS, Duration.ZERO);
            assertThat(report.rounds()).isEqualTo(1);
            assertThat(report.settled()).isFalse();
            assertThat(report.elapsed()).isGreaterThanOrEqualTo(report.lastRound());
        }
    }
}
