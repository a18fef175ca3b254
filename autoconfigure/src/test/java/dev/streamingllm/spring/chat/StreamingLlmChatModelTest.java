package dev.streamingllm.spring.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.FinishReason;
import dev.streamingllm.spring.TestModels;
import dev.streamingllm.spring.session.ChatSession;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionListener;
import dev.streamingllm.spring.session.TurnResult;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistryAssert;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.ai.chat.memory.MessageWindowChatMemory;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

class StreamingLlmChatModelTest {

    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(TestModels.stories260K());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static ChatSessions sessions(int max, SessionListener... listeners) {
        return new ChatSessions(model, new ChatSessions.Settings(CacheConfig.streaming(4, 124), true, max, Duration.ofMinutes(5)),
                List.of(listeners));
    }

    private static StreamingLlmChatModel chatModel(ChatSessions sessions, ObservationRegistry registry) {
        return new StreamingLlmChatModel(sessions, StreamingLlmChatOptions.builder().temperature(0.0).maxTokens(12).build(), registry);
    }

    private static Prompt prompt(String conversationId, List<Message> messages) {
        return new Prompt(messages, StreamingLlmChatOptions.builder().conversationId(conversationId).build());
    }

    private static String text(ChatResponse response) {
        return response.getResult().getOutput().getText();
    }

    @Test
    void callAnswersWithUsageFinishReasonAndTheConversationsMetadata() {
        try (ChatSessions sessions = sessions(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            List<Message> history = new ArrayList<>(List.of(new SystemMessage("Tell stories."), new UserMessage("Once upon a time")));
            ChatResponse first = chatModel.call(prompt("c", history));

            assertThat(text(first)).isNotBlank();
            assertThat(first.getResult().getMetadata().getFinishReason()).isEqualTo("LENGTH");
            assertThat(first.getMetadata().getUsage().getCompletionTokens()).isEqualTo(12);
            assertThat(first.getMetadata().getModel()).isEqualTo("stories260K");
            assertThat((String) first.getMetadata().get("conversation-id")).isEqualTo("c");

            history.add(first.getResult().getOutput());
            history.add(new UserMessage("The cat"));
            ChatResponse second = chatModel.call(prompt("c", history));
            assertThat((Boolean) second.getMetadata().get("reset")).isFalse();
            assertThat(second.getMetadata().getUsage().getPromptTokens())
                    .isLessThan(first.getMetadata().getUsage().getPromptTokens());
            assertThat(sessions.info("c").orElseThrow().prefilled()).isEqualTo(
                    first.getMetadata().getUsage().getPromptTokens() + second.getMetadata().getUsage().getPromptTokens());
        }
    }

    @Test
    void portableOptionsOverrideTheDefaultsAndBadOnesAreRejected() {
        try (ChatSessions sessions = sessions(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            ChatResponse response = chatModel.call(new Prompt("Once upon a time", ChatOptions.builder().maxTokens(3).build()));
            assertThat(response.getMetadata().getUsage().getCompletionTokens()).isEqualTo(3);

            assertThatThrownBy(() -> chatModel.call(new Prompt("Once", ChatOptions.builder().topP(1.5).build())))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topP must be in (0, 1]");
        }
    }

    @Test
    void aStreamDeliversTheSameTextInOrderAndCompletesWithTheFinishReason() {
        try (ChatSessions sessions = sessions(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            String expected = text(chatModel.call(new Prompt("Once upon a time")));
            StringBuilder streamed = new StringBuilder();
            List<String> finishReasons = new ArrayList<>();

            StepVerifier.create(chatModel.stream(new Prompt("Once upon a time")))
                    .recordWith(ArrayList::new)
                    .thenConsumeWhile(r -> true, r -> {
                        streamed.append(text(r));
                        if (r.getResult().getMetadata().getFinishReason() != null) {
                            finishReasons.add(r.getResult().getMetadata().getFinishReason());
                        }
                    })
                    .expectRecordedMatches(chunks -> chunks.size() > 2)
                    .verifyComplete();

            assertThat(streamed.toString()).isEqualTo(expected);
            assertThat(finishReasons).containsExactly("LENGTH");
        }
    }

    @Test
    void cancellingAStreamStopsGenerationPromptlyAndTheSessionStaysUsable() throws Exception {
        LinkedBlockingQueue<TurnResult> finished = new LinkedBlockingQueue<>();
        SessionListener listener = new SessionListener() {
            @Override
            public void turnCompleted(ChatSession session, TurnResult result) {
                finished.add(result);
            }
        };
        try (ChatSessions sessions = sessions(4, listener)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            Prompt endless = new Prompt(List.of(new UserMessage("Once upon a time")),
                    StreamingLlmChatOptions.builder().conversationId("c").maxTokens(1_000_000).build());

            StepVerifier.create(chatModel.stream(endless)).expectNextCount(3).thenCancel().verify(Duration.ofSeconds(30));

            TurnResult cancelled = finished.poll(30, TimeUnit.SECONDS);
            assertThat(cancelled).isNotNull();
            assertThat(cancelled.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(cancelled.completionTokens()).isLessThan(1_000);

            // a resent history with another reply than the cancelled one starts the conversation over, on the same session
            ChatResponse next = chatModel.call(prompt("c", List.of(new UserMessage("Once upon a time"),
                    new AssistantMessage("A reply from elsewhere."), new UserMessage("The cat"))));
            assertThat(text(next)).isNotBlank();
            assertThat((Boolean) next.getMetadata().get("reset")).isTrue();
            assertThat(sessions.find("c")).isPresent();
            // only the new message continues it
            List<ChatResponse> continued = chatModel.stream(prompt("c", List.of(new UserMessage("A dog")))).collectList()
                    .block(Duration.ofSeconds(30));
            assertThat(continued).isNotEmpty();
            // the last chunk carries the turn's result
            assertThat((Boolean) continued.getLast().getMetadata().get("reset")).isFalse();
        }
    }

    @Test
    void callsAndStreamsAreObservedAsGenAiClientOperations() {
        TestObservationRegistry registry = TestObservationRegistry.create();
        try (ChatSessions sessions = sessions(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, registry);
            chatModel.call(prompt("c", List.of(new UserMessage("Once upon a time"))));

            TestObservationRegistryAssert.assertThat(registry).doesNotHaveAnyRemainingCurrentObservation()
                    .hasObservationWithNameEqualTo("gen_ai.client.operation").that()
                    .hasContextualNameEqualTo("chat stories260K")
                    .hasLowCardinalityKeyValue("gen_ai.operation.name", "chat")
                    .hasLowCardinalityKeyValue("gen_ai.system", "streamingllm")
                    .hasLowCardinalityKeyValue("gen_ai.request.model", "stories260K")
                    .hasLowCardinalityKeyValue("gen_ai.response.model", "stories260K")
                    .hasHighCardinalityKeyValue("gen_ai.request.max_tokens", "12")
                    .hasHighCardinalityKeyValue("gen_ai.usage.output_tokens", "12")
                    .hasHighCardinalityKeyValue("gen_ai.response.finish_reasons", "[\"LENGTH\"]")
                    .hasBeenStarted().hasBeenStopped();

            registry.clear();
            StepVerifier.create(chatModel.stream(prompt("d", List.of(new UserMessage("Once upon a time")))))
                    .thenConsumeWhile(r -> true).verifyComplete();
            TestObservationRegistryAssert.assertThat(registry).hasObservationWithNameEqualTo("gen_ai.client.operation").that()
                    .hasHighCardinalityKeyValue("gen_ai.request.stream", "true")
                    .hasHighCardinalityKeyValue("gen_ai.usage.output_tokens", "12")
                    .hasBeenStopped();
        }
    }

    /** Three greedy turns of one conversation, each continuing the history. */
    private static List<String> converse(StreamingLlmChatModel chatModel, String id, int seed) {
        List<Message> history = new ArrayList<>(List.of(new SystemMessage("Story " + seed + "."), new UserMessage("Once upon a time " + seed)));
        List<String> replies = new ArrayList<>();
        for (String next : List.of("The cat " + seed, "The dog " + seed, "The end")) {
            String reply = streamed(chatModel.stream(prompt(id, history)));
            replies.add(reply);
            history.add(new AssistantMessage(reply));
            history.add(new UserMessage(next));
        }
        return replies;
    }

    private static String streamed(Flux<ChatResponse> responses) {
        return String.join("", responses.map(StreamingLlmChatModelTest::text).collectList().block(Duration.ofMinutes(2)));
    }

    @Test
    void sixteenSimultaneousConversationsEqualTheSameConversationsRunOneByOne() throws Exception {
        int n = 16;
        List<List<String>> alone = new ArrayList<>();
        try (ChatSessions sessions = sessions(n)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            for (int i = 0; i < n; i++) {
                alone.add(converse(chatModel, "alone-" + i, i));
            }
        }
        List<List<String>> together = new ArrayList<>();
        try (ChatSessions sessions = sessions(n); ExecutorService pool = Executors.newFixedThreadPool(n)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            List<Callable<List<String>>> tasks = IntStream.range(0, n)
                    .<Callable<List<String>>>mapToObj(i -> () -> converse(chatModel, "together-" + i, i)).toList();
            for (Future<List<String>> f : pool.invokeAll(tasks)) {
                together.add(f.get());
            }
            assertThat(sessions.count()).isEqualTo(n);
            assertThat(sessions.list()).allSatisfy(info -> assertThat(info.prefilled()).isPositive());
        }
        assertThat(together).isEqualTo(alone);
        assertThat(alone.stream().distinct().count()).as("different conversations give different replies").isGreaterThan(1);
    }

    @Test
    void turnsOfOneConversationAreSerialized() throws Exception {
        try (ChatSessions sessions = sessions(4); ExecutorService pool = Executors.newFixedThreadPool(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            List<Future<ChatResponse>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                calls.add(pool.submit(() -> chatModel.call(prompt("same", List.of(new UserMessage("Once upon a time"))))));
            }
            long completion = 0;
            for (Future<ChatResponse> call : calls) {
                completion += call.get().getMetadata().getUsage().getCompletionTokens();
            }
            // one session saw every turn whole, one after another: nothing was lost or interleaved
            assertThat(sessions.count()).isEqualTo(1);
            assertThat(sessions.totals().turns()).isEqualTo(4);
            assertThat(completion).isEqualTo(4 * 12);
        }
    }

    /** Three turns through {@code chat}, whose memory advisor resends the whole history each turn. */
    private static List<ChatResponse> threeTurns(ChatClient chat) {
        List<ChatResponse> turns = new ArrayList<>();
        for (String user : List.of("Once upon a time", "The cat", "The dog")) {
            turns.add(chat.prompt().user(user).advisors(a -> a.param(ChatMemory.CONVERSATION_ID, "story")).call().chatResponse());
        }
        return turns;
    }

    /** What an application builds by hand: a memory advisor, and no {@link ConversationIdAdvisor}. */
    private static ChatClient.Builder handBuilt(StreamingLlmChatModel chatModel) {
        return ChatClient.builder(chatModel).defaultSystem("Tell stories.")
                .defaultAdvisors(MessageChatMemoryAdvisor.builder(MessageWindowChatMemory.builder().build()).build());
    }

    private static List<Integer> promptTokens(List<ChatResponse> turns) {
        return turns.stream().map(r -> r.getMetadata().getUsage().getPromptTokens()).toList();
    }

    private static List<String> texts(List<ChatResponse> turns) {
        return turns.stream().map(StreamingLlmChatModelTest::text).toList();
    }

    @Test
    void aHandBuiltChatClientWithAMemoryAdvisorContinuesItsSessionWithoutAnId() {
        List<ChatResponse> named;
        try (ChatSessions sessions = sessions(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            named = threeTurns(handBuilt(chatModel).defaultAdvisors(new ConversationIdAdvisor()).build());
            // the id path is unchanged: one named session, nothing kept besides it
            assertThat(sessions.list()).extracting(info -> info.id()).containsExactly("story");
            assertThat(sessions.count()).isEqualTo(1);
            assertThat(named).allSatisfy(r -> assertThat((String) r.getMetadata().get("conversation-id")).isEqualTo("story"));
        }
        try (ChatSessions sessions = sessions(4)) {
            StreamingLlmChatModel chatModel = chatModel(sessions, ObservationRegistry.NOOP);
            List<ChatResponse> anonymous = threeTurns(handBuilt(chatModel).build());
            List<Integer> prompt = promptTokens(anonymous);
            int lastMessage = model.tokenizer().encode("The dog", false, true).length;

            // without reuse the prompts grew with the history (77, 139, 201 on this model); now turn 3 feeds only its message
            assertThat(prompt.get(2)).isLessThanOrEqualTo(prompt.get(0) + lastMessage);
            assertThat(prompt).isEqualTo(promptTokens(named));
            assertThat(texts(anonymous)).isEqualTo(texts(named));
            String id = anonymous.getFirst().getMetadata().get("conversation-id");
            assertThat(id).startsWith("anonymous-");
            assertThat(anonymous).allSatisfy(r -> {
                assertThat((String) r.getMetadata().get("conversation-id")).isEqualTo(id);
                assertThat((Boolean) r.getMetadata().get("reset")).isFalse();
            });
            // the metadata says what the turn reused: everything the session had seen before it
            assertThat((Long) anonymous.get(0).getMetadata().get("cached-tokens")).isZero();
            assertThat((Long) anonymous.get(2).getMetadata().get("cached-tokens"))
                    .isEqualTo(anonymous.get(1).getMetadata().<Long>get("tokens-seen"));
            // kept, counted, but neither listed nor found by id
            assertThat(sessions.count()).isEqualTo(1);
            assertThat(sessions.list()).isEmpty();
            assertThat(sessions.find(id)).isEmpty();
        }
    }

    @Test
    void withoutPrefixReuseEveryPromptWithoutAnIdPrefillsItsWholeHistory() {
        try (ChatSessions sessions = new ChatSessions(model,
                new ChatSessions.Settings(CacheConfig.streaming(4, 124), true, 4, Duration.ofMinutes(5), false), List.of())) {
            List<ChatResponse> turns = threeTurns(handBuilt(chatModel(sessions, ObservationRegistry.NOOP)).build());
            List<Integer> prompt = promptTokens(turns);
            assertThat(prompt.get(1)).isGreaterThan(prompt.get(0));
            assertThat(prompt.get(2)).isGreaterThan(prompt.get(1));
            assertThat(turns).allSatisfy(r -> assertThat((String) r.getMetadata().get("conversation-id")).startsWith("one-shot-"));
            assertThat(sessions.count()).isZero();
        }
    }
}
