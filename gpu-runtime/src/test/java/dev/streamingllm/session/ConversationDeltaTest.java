package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import dev.streamingllm.template.ChatTemplate;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConversationDeltaTest extends TwoInstances {

    private static final SamplingParams SHORT = SamplingParams.builder().temperature(0.9f).seed(3L).maxTokens(6).build();

    private static Conversation.Turn talk(Conversation conversation, List<ChatMessage> history, String user) {
        history.add(ChatMessage.user(user));
        Conversation.Turn turn = conversation.reply(history, SHORT, piece -> { }, () -> false);
        history.add(ChatMessage.assistant(turn.text()));
        return turn;
    }

    private static Conversation read(byte[] snapshot, List<byte[]> deltas) {
        return ConversationSnapshot.read(snapshot, deltas, elsewhere, elsewhere.model().chatTemplate());
    }

    @Test
    void aSnapshotAndItsDeltasRestoreTheConversationBitForBit() {
        for (CacheType type : CacheType.values()) {
            Conversation original = new Conversation(engine, new CacheConfig(4, 28, 1, type), true);
            List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories.")));
            talk(original, history, "Once upon a time");
            byte[] snapshot = ConversationSnapshot.write(original);
            ConversationDelta.Base base = ConversationDelta.base(original);
            List<byte[]> deltas = new ArrayList<>();
            // past 64 remembered messages, so that the oldest are forgotten; the window wraps many times over
            for (int turn = 0; turn < 36; turn++) {
                assertThat(talk(original, history, turn % 2 == 0 ? "The cat" : "A dog ran").reset()).isFalse();
                deltas.add(ConversationDelta.write(original, base).orElseThrow());
                base = ConversationDelta.base(original);
                if (turn % 7 == 0 || turn >= 32) {
                    assertThat(ConversationSnapshot.write(read(snapshot, deltas))).as("%s after %d deltas", type, deltas.size())
                            .isEqualTo(ConversationSnapshot.write(original));
                }
            }
            assertThat(original.tail()).hasSize(64);
            assertThat(original.session().cache().evicted()).isGreaterThan(100);

            Conversation restored = read(snapshot, deltas);
            List<ChatMessage> restoredHistory = new ArrayList<>(history);
            assertThat(talk(restored, restoredHistory, "The sun")).isEqualTo(talk(original, history, "The sun"));
        }
    }

    @Test
    void aConversationThatStartsOverHasNoDelta() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 28), true);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories.")));
        talk(conversation, history, "Once upon a time");
        ConversationDelta.Base base = ConversationDelta.base(conversation);
        // an edited history: the conversation starts over on a new session
        List<ChatMessage> edited = new ArrayList<>(List.of(ChatMessage.system("Tell stories."), ChatMessage.user("Another"),
                ChatMessage.assistant("No"), ChatMessage.user("Again")));
        assertThat(conversation.reply(edited, SHORT, piece -> { }, () -> false).reset()).isTrue();
        assertThat(ConversationDelta.write(conversation, base)).isEmpty();
    }

    @Test
    void refusesADeltaOnAnotherBase() {
        Conversation original = new Conversation(engine, CacheConfig.streaming(4, 28), true);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories.")));
        talk(original, history, "Once upon a time");
        byte[] snapshot = ConversationSnapshot.write(original);
        ConversationDelta.Base base = ConversationDelta.base(original);
        talk(original, history, "The cat");
        byte[] first = ConversationDelta.write(original, base).orElseThrow();
        base = ConversationDelta.base(original);
        talk(original, history, "The dog");
        byte[] second = ConversationDelta.write(original, base).orElseThrow();

        assertThatThrownBy(() -> read(snapshot, List.of(second))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("conversation delta continues a conversation that remembered 4 messages; this one remembers 2");
        byte[] corrupt = second.clone();
        corrupt[40] ^= 1;
        assertThatThrownBy(() -> read(snapshot, List.of(first, corrupt))).hasMessageContaining("checksum mismatch");
        assertThat(ConversationSnapshot.write(read(snapshot, List.of(first, second)))).isEqualTo(ConversationSnapshot.write(original));
    }

    @Test
    void aTwentyTokenTurnOnAFullCacheWritesAboutOnePercentOfAWholeSnapshot() {
        // a template of bare lines, so that a turn can be as short as twenty tokens
        ChatTemplate lines = ChatTemplate.of("lines", "{%- for message in messages -%}{{ message['content'] + '\\n' }}{%- endfor -%}", "", "");
        for (CacheType type : CacheType.values()) {
            Conversation conversation = new Conversation(engine, lines, new CacheConfig(4, 2044, 1, type), false);
            List<ChatMessage> history = new ArrayList<>();
            talk(conversation, history, "Once upon a time there was a little cat who liked to play in the sun. ".repeat(100));
            assertThat(conversation.session().cache().size()).isEqualTo(2048);
            ConversationDelta.Base base = ConversationDelta.base(conversation);
            long before = conversation.session().tokensSeen();
            history.add(ChatMessage.user("Hi"));
            conversation.reply(history, SamplingParams.builder().temperature(0).maxTokens(15).build(), piece -> { }, () -> false);
            long fed = conversation.session().tokensSeen() - before;

            byte[] delta = ConversationDelta.write(conversation, base).orElseThrow();
            byte[] whole = ConversationSnapshot.write(conversation);
            System.out.printf("%s cache of 2048 tokens, stories260K: a turn of %d tokens writes a delta of %d bytes, a whole snapshot"
                    + " is %d bytes: %.2f%%%n", type, fed, delta.length, whole.length, 100.0 * delta.length / whole.length);
            assertThat(fed).isEqualTo(20);
            assertThat((double) delta.length / whole.length).isLessThanOrEqualTo(0.02);
        }
    }
}
