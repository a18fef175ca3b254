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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ConversationTest {

    private static final SamplingParams GREEDY = SamplingParams.builder().temperature(0).maxTokens(8).build();

    private static Model model;
    private static Engine engine;

    @BeforeAll
    static void load() {
        model = Model.load(Shared.model("stories260K.gguf"));
        engine = new Engine(model);
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    private static Conversation.Turn turn(Conversation conversation, List<ChatMessage> history) {
        return conversation.reply(history, GREEDY, piece -> { }, () -> false);
    }

    /** Tokens a turn put into the cache: a turn that ran out of budget leaves its last token for the next. */
    private static int fed(Conversation.Turn turn) {
        return turn.promptTokens() + turn.completionTokens() - (turn.finishReason() == FinishReason.LENGTH ? 1 : 0);
    }

    private static int tokens(String text) {
        return model.tokenizer().encode(text, false, true).length;
    }

    @Test
    void laterTurnsPrefillOnlyTheirNewMessages() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories."), ChatMessage.user("Once upon a time")));

        Conversation.Turn first = turn(conversation, history);
        assertThat(first.promptTokens()).isEqualTo(model.tokenizer().encode(model.chatTemplate().render(history, true), true, true).length);
        history.add(ChatMessage.assistant(first.text()));
        history.add(ChatMessage.user("The cat"));

        Conversation.Turn second = turn(conversation, history);
        assertThat(second.reset()).isFalse();
        // the unfed last token of turn 1 (it ran out of budget), the end of its turn, the new message, the generation prompt
        assertThat(second.promptTokens()).isEqualTo(1 + tokens("<|im_end|>\n<|im_start|>user\nThe cat<|im_end|>\n<|im_start|>assistant\n"));
        history.add(ChatMessage.assistant(second.text()));
        history.add(ChatMessage.user("The dog"));

        Conversation.Turn third = turn(conversation, history);
        assertThat(third.reset()).isFalse();
        assertThat(third.promptTokens()).isEqualTo(1 + tokens("<|im_end|>\n<|im_start|>user\nThe dog<|im_end|>\n<|im_start|>assistant\n"));
        assertThat(third.promptTokens()).isLessThan(tokens(model.chatTemplate().render(history, true)) / 2);
        assertThat(conversation.session().tokensSeen()).isEqualTo(fed(first) + fed(second) + fed(third));
    }

    @Test
    void onlyTheNewMessageContinuesAsTheWholeHistoryWould() {
        Conversation whole = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        Conversation onlyNew = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        ChatMessage system = ChatMessage.system("Tell stories.");
        List<ChatMessage> history = new ArrayList<>(List.of(system));
        // the system messages may be left out (unchanged) or sent again each turn
        List<List<ChatMessage>> sent = List.of(List.of(system, ChatMessage.user("Once upon a time")),
                List.of(ChatMessage.user("The cat")), List.of(system, ChatMessage.user("The dog")));
        for (List<ChatMessage> message : sent) {
            history.add(message.getLast());
            Conversation.Turn expected = turn(whole, history);
            Conversation.Turn turn = turn(onlyNew, message);
            assertThat(turn.reset()).isFalse();
            assertThat(turn).isEqualTo(expected);
            history.add(ChatMessage.assistant(expected.text()));
        }
        assertThat(onlyNew.transcript()).isEqualTo(whole.transcript());
        assertThat(onlyNew.session().tokensSeen()).isEqualTo(whole.session().tokensSeen());
    }

    @Test
    void onlyTheNewMessageWithAChangedSystemPromptStartsOver() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        turn(conversation, List.of(ChatMessage.system("Tell stories."), ChatMessage.user("Once upon a time")));
        List<ChatMessage> changed = List.of(ChatMessage.system("Tell jokes."), ChatMessage.user("The cat"));
        Conversation.Turn turn = turn(conversation, changed);
        assertThat(turn.reset()).isTrue();
        assertThat(turn.promptTokens()).isEqualTo(model.tokenizer().encode(model.chatTemplate().render(changed, true), true, true).length);
        assertThat(conversation.transcript().getFirst()).isEqualTo(ChatMessage.system("Tell jokes."));
    }

    @Test
    void onlyTheNewMessageContinuesAConversationRestoredFromASnapshot() {
        Conversation original = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        turn(original, List.of(ChatMessage.system("Tell stories."), ChatMessage.user("Once upon a time")));
        Conversation restored = ConversationSnapshot.read(ConversationSnapshot.write(original), engine, model.chatTemplate());
        Conversation.Turn expected = turn(original, List.of(ChatMessage.user("The cat")));
        Conversation.Turn turn = turn(restored, List.of(ChatMessage.user("The cat")));
        assertThat(turn.reset()).isFalse();
        assertThat(turn).isEqualTo(expected);
    }

    @Test
    void aHistoryCutFromTheFrontStillContinues() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.user("Once upon a time")));
        history.add(ChatMessage.assistant(turn(conversation, history).text()));
        history.add(ChatMessage.user("The cat"));
        history.add(ChatMessage.assistant(turn(conversation, history).text()));
        history.add(ChatMessage.user("The dog"));
        // a memory window of three messages drops the first exchange
        Conversation.Turn turn = turn(conversation, history.subList(2, 5));
        assertThat(turn.reset()).isFalse();
        assertThat(turn.promptTokens()).isEqualTo(1 + tokens("<|im_end|>\n<|im_start|>user\nThe dog<|im_end|>\n<|im_start|>assistant\n"));
    }

    @Test
    void anEditedHistoryStartsOver() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.user("Once upon a time")));
        history.add(ChatMessage.assistant(turn(conversation, history).text()));
        history.add(ChatMessage.user("The cat"));
        List<ChatMessage> edited = new ArrayList<>(history);
        edited.set(1, ChatMessage.assistant("Something else entirely."));

        Conversation.Turn turn = turn(conversation, edited);
        assertThat(turn.reset()).isTrue();
        assertThat(turn.promptTokens()).isEqualTo(model.tokenizer().encode(model.chatTemplate().render(edited, true), true, true).length);
        assertThat(conversation.session().tokensSeen()).isEqualTo(fed(turn));
    }

    @Test
    void aCancelledReplyTheClientNeverSawStartsOver() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 200), false);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.user("Once upon a time")));
        Conversation.Turn cancelled = conversation.reply(history, GREEDY, piece -> { }, () -> true);
        assertThat(cancelled.finishReason()).isEqualTo(FinishReason.CANCELLED);
        history.add(ChatMessage.assistant("A reply from elsewhere."));
        history.add(ChatMessage.user("The cat"));
        assertThat(turn(conversation, history).reset()).isTrue();
    }

    @Test
    void theSystemPromptIsPinnedNextToTheSinks() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 130), true);
        List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("You tell short stories about cats."), ChatMessage.user("Go")));
        for (int i = 0; i < 12; i++) {
            history.add(ChatMessage.assistant(turn(conversation, history).text()));
            history.add(ChatMessage.user("More " + i));
        }
        int pinned = model.tokenizer().encode("<|im_start|>system\nYou tell short stories about cats.<|im_end|>\n<|im_start|>user\n", true, true).length;
        assertThat(conversation.session().cache().sinkCapacity()).isEqualTo(pinned);
        assertThat(conversation.session().cache().evicted()).isPositive();
    }

    @Test
    void aPromptWithoutAUserMessageIsRejected() {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 60), false);
        assertThatThrownBy(() -> turn(conversation, List.of(ChatMessage.system("x"))))
                .hasMessageContaining("no user message");
    }
}
