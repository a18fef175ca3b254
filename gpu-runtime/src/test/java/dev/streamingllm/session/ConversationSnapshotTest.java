package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import dev.streamingllm.testing.Shared;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConversationSnapshotTest extends TwoInstances {

    private static final SamplingParams GREEDY = SamplingParams.builder().temperature(0).maxTokens(12).build();
    private static final SamplingParams SEEDED = SamplingParams.builder().temperature(0.9f).seed(7L).maxTokens(12).build();

    /** Runs {@code turns} user messages through {@code conversation}, growing {@code history}. */
    private static List<Conversation.Turn> talk(Conversation conversation, List<ChatMessage> history, SamplingParams params, String... users) {
        List<Conversation.Turn> turns = new ArrayList<>();
        for (String user : users) {
            history.add(ChatMessage.user(user));
            Conversation.Turn turn = conversation.reply(history, params, piece -> { }, () -> false);
            history.add(ChatMessage.assistant(turn.text()));
            turns.add(turn);
        }
        return turns;
    }

    @Test
    void aRestoredConversationContinuesTokenForToken() {
        for (SamplingParams params : List.of(GREEDY, SEEDED)) {
            // a small window so that the cache has slid before the snapshot
            Conversation original = new Conversation(engine, CacheConfig.streaming(4, 48), true);
            List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories.")));
            talk(original, history, params, "Once upon a time", "The cat", "The dog");
            assertThat(original.session().cache().evicted()).isPositive();

            byte[] snapshot = ConversationSnapshot.write(original);
            Conversation restored = ConversationSnapshot.read(snapshot, elsewhere, elsewhere.model().chatTemplate());
            assertThat(restored.session().cache().tokens()).containsExactly(original.session().cache().tokens());
            assertThat(restored.transcript()).isEqualTo(original.transcript());

            List<ChatMessage> restoredHistory = new ArrayList<>(history);
            List<Conversation.Turn> uninterrupted = talk(original, history, params, "A bird", "The sun");
            List<Conversation.Turn> continued = talk(restored, restoredHistory, params, "A bird", "The sun");
            assertThat(continued).isEqualTo(uninterrupted);
            assertThat(continued).noneMatch(Conversation.Turn::reset);
            // the same token ids in the same places: the window's whole token history
            assertThat(restored.session().cache().tokens()).containsExactly(original.session().cache().tokens());
            assertThat(restored.session().tokensSeen()).isEqualTo(original.session().tokensSeen());
        }
    }

    @Test
    void rejectsAnotherModelsCorruptAndTruncatedSnapshots() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 48), false);
        talk(conversation, new ArrayList<>(), GREEDY, "Once upon a time");
        byte[] snapshot = ConversationSnapshot.write(conversation);

        try (Model other = Model.load(Shared.model("tiny-gqa-q8_0.gguf")); Engine otherEngine = new Engine(other)) {
            assertThat(other.fingerprint()).isNotEqualTo(engine.model().fingerprint());
            assertThatThrownBy(() -> ConversationSnapshot.read(snapshot, otherEngine, other.chatTemplate()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("taken on model " + engine.model().fingerprint());
        }
        byte[] corrupt = snapshot.clone();
        corrupt[corrupt.length / 2] ^= 1;
        assertThatThrownBy(() -> ConversationSnapshot.read(corrupt, engine, engine.model().chatTemplate())).hasMessageContaining("checksum mismatch");
        assertThatThrownBy(() -> ConversationSnapshot.read(new byte[3], engine, engine.model().chatTemplate())).hasMessageContaining("truncated");
    }

    @Test
    void theFingerprintIsStableAcrossLoads() {
        assertThat(elsewhere.model().fingerprint()).isEqualTo(engine.model().fingerprint()).hasSize(64);
    }

    @Test
    void aReplayedTranscriptContinuesWithOnlyTheNewMessages() {
        Conversation original = new Conversation(engine, CacheConfig.streaming(4, 64), false);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories.")));
        talk(original, history, GREEDY, "Once upon a time", "The cat");

        Conversation replayed = Conversation.replay(elsewhere, elsewhere.model().chatTemplate(), CacheConfig.streaming(4, 64), false, original.transcript());
        assertThat(replayed.transcript()).isEqualTo(original.transcript());
        assertThat(replayed.session().tokensSeen()).isPositive();

        history.add(ChatMessage.user("The dog"));
        Conversation.Turn turn = replayed.reply(history, GREEDY, piece -> { }, () -> false);
        assertThat(turn.reset()).isFalse();
        int whole = engine.model().tokenizer().encode(engine.model().chatTemplate().render(history, true), true, true).length;
        assertThat(turn.promptTokens()).isLessThan(whole / 2);
    }

    @Test
    void aTranscriptWithoutAReplyCannotBeReplayed() {
        assertThatThrownBy(() -> Conversation.replay(engine, engine.model().chatTemplate(), CacheConfig.streaming(4, 64), false,
                List.of(ChatMessage.user("Hello"))))
                .hasMessageContaining("must end with an assistant reply");
    }
}
