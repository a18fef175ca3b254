package dev.streamingllm.samples.assistant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.openai.OpenAiChatModel;
import org.springframework.ai.openai.OpenAiChatOptions;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A real OpenAI client, Spring AI's own {@link OpenAiChatModel} (on the official OpenAI Java SDK), holds a
 * streamed three-turn conversation with the running assistant, resending the whole history as OpenAI clients do.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf")
class OpenAiClientTest {

    @LocalServerPort
    int port;

    @Autowired
    ChatSessions sessions;

    @Test
    void streamedMultiTurnConversation() {
        OpenAiChatModel openAi = OpenAiChatModel.builder()
                .options(OpenAiChatOptions.builder()
                        .baseUrl("http://localhost:" + port + "/v1")
                        .apiKey("not-needed")
                        .model("stories260K")
                        .temperature(0.0)
                        .maxTokens(80)
                        .streamUsage(true)
                        .customHeaders(Map.of("X-Conversation-Id", "openai-client"))
                        .maxRetries(0)
                        .timeout(Duration.ofSeconds(60))
                        .build())
                .build();

        List<Message> history = new ArrayList<>();
        List<Integer> promptTokens = new ArrayList<>();
        int historyTokensBound = 0;
        for (String question : List.of("Tim had a little red car.", "Where did Tim drive?", "What happened at the end?")) {
            history.add(new UserMessage(question));
            List<ChatResponse> chunks = openAi.stream(new Prompt(List.copyOf(history))).collectList().block(Duration.ofSeconds(90));
            assertThat(chunks).isNotNull();
            StringBuilder reply = new StringBuilder();
            Integer prompt = null;
            for (ChatResponse chunk : chunks) {
                if (chunk.getResult() != null && chunk.getResult().getOutput().getText() != null) {
                    reply.append(chunk.getResult().getOutput().getText());
                }
                if (chunk.getMetadata().getUsage() != null && chunk.getMetadata().getUsage().getPromptTokens() != null
                        && chunk.getMetadata().getUsage().getPromptTokens() > 0) {
                    prompt = chunk.getMetadata().getUsage().getPromptTokens();
                }
            }
            assertThat(chunks.size()).as("streamed in pieces").isGreaterThan(3);
            assertThat(reply.toString()).isNotBlank();
            assertThat(prompt).as("usage in the stream").isNotNull();
            promptTokens.add(prompt);
            historyTokensBound += prompt;
            history.add(new AssistantMessage(reply.toString()));
        }

        SessionInfo session = sessions.info("openai-client").orElseThrow();
        // the session continued: turns 2 and 3 prefilled only their new message, not the history resent with it
        assertThat(promptTokens.get(1)).isLessThan(promptTokens.get(0) + 20);
        assertThat(promptTokens.get(2)).isLessThan(promptTokens.get(0) + 20);
        assertThat(session.prefilled()).isEqualTo(historyTokensBound);
        assertThat(session.tokensSeen()).isGreaterThan(session.prefilled());
    }
}
