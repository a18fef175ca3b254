package dev.streamingllm.starter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.model.Model;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.ai.chat.metadata.Usage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.test.context.SpringBootTest;

/** An application with nothing but the starter and a model path. */
@SpringBootTest(properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        "streamingllm.chat.temperature=0",
        "streamingllm.chat.max-tokens=16"})
class StarterApplicationTest {

    @SpringBootApplication
    static class App {
    }

    @Autowired
    ChatClient.Builder builder;

    @Autowired
    ChatMemory chatMemory;

    @Autowired
    ChatSessions sessions;

    @Autowired
    Model model;

    private int tokens(String text) {
        return model.tokenizer().encode(text, false, true).length;
    }

    @Test
    void aThreeTurnConversationThroughTheMemoryAdvisorPrefillsOnlyNewTokens() {
        ChatClient chat = builder.defaultSystem("You tell short stories.")
                .defaultAdvisors(MessageChatMemoryAdvisor.builder(chatMemory).build()).build();
        List<String> users = List.of("Once upon a time", "The cat", "The dog");
        List<ChatResponse> responses = new ArrayList<>();
        for (String user : users) {
            responses.add(chat.prompt().user(user).advisors(a -> a.param(ChatMemory.CONVERSATION_ID, "story")).call().chatResponse());
        }

        List<Usage> usage = responses.stream().map(r -> r.getMetadata().getUsage()).toList();
        // turn 1 prefills the system prompt and the first message; the memory advisor then resends the whole history
        String full1 = model.chatTemplate().render(List.of(
                dev.streamingllm.template.ChatMessage.system("You tell short stories."),
                dev.streamingllm.template.ChatMessage.user(users.get(0))), true);
        assertThat(usage.get(0).getPromptTokens()).isEqualTo(model.tokenizer().encode(full1, true, true).length);
        for (int turn = 1; turn < 3; turn++) {
            ChatResponse previous = responses.get(turn - 1);
            // the previous reply ran out of budget, so its last token is fed now, before the new message
            int unfed = "LENGTH".equals(previous.getResult().getMetadata().getFinishReason()) ? 1 : 0;
            int expected = unfed + tokens("<|im_end|>\n<|im_start|>user\n" + users.get(turn) + "<|im_end|>\n<|im_start|>assistant\n");
            assertThat(usage.get(turn).getPromptTokens()).as("prompt tokens of turn %d", turn + 1).isEqualTo(expected);
            assertThat((Boolean) responses.get(turn).getMetadata().get("reset")).isFalse();
        }
        assertThat(chatMemory.get("story")).hasSize(6);

        // the session prefilled exactly what the usage reports, and nothing else
        SessionInfo info = sessions.info("story").orElseThrow();
        assertThat(info.prefilled()).isEqualTo(usage.stream().mapToLong(Usage::getPromptTokens).sum());
        // every token went into the cache once: a reply cut by the budget hands its last token to the next prompt
        long cut = responses.stream().filter(StarterApplicationTest::isLength).count();
        assertThat(info.tokensSeen()).isEqualTo(usage.stream().mapToLong(u -> u.getPromptTokens() + u.getCompletionTokens()).sum() - cut);

        // a streamed fourth turn continues the same session through the same advisors
        List<ChatResponse> chunks = chat.prompt().user("The end").advisors(a -> a.param(ChatMemory.CONVERSATION_ID, "story"))
                .stream().chatResponse().collectList().block();
        ChatResponse last = chunks.getLast();
        assertThat((Boolean) last.getMetadata().get("reset")).isFalse();
        assertThat(sessions.info("story").orElseThrow().prefilled()).isEqualTo(info.prefilled() + last.getMetadata().getUsage().getPromptTokens());
        assertThat(chatMemory.get("story")).hasSize(8).last().extracting(m -> m.getText())
                .isEqualTo(String.join("", chunks.stream().map(c -> c.getResult().getOutput().getText()).toList()));
    }

    private static boolean isLength(ChatResponse response) {
        return "LENGTH".equals(response.getResult().getMetadata().getFinishReason());
    }

    @Test
    void aPromptWithoutConversationIdKeepsASessionThatIsNotListed() {
        int before = sessions.count();
        List<SessionInfo> listed = sessions.list();
        ChatResponse response = builder.build().prompt().user("Once upon a time").call().chatResponse();
        assertThat(response.getResult().getOutput().getText()).isNotBlank();
        // kept for a resent history to continue, counted against the maximum, never found by id
        assertThat(sessions.count()).isEqualTo(before + 1);
        assertThat(sessions.active()).isEqualTo(before + 1);
        assertThat(sessions.list()).isEqualTo(listed);
        assertThat(sessions.find(response.getMetadata().get("conversation-id"))).isEmpty();
    }
}
