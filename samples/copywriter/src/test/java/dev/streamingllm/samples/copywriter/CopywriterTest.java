package dev.streamingllm.samples.copywriter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;

/** The copywriter keeps one endless conversation per document, each in its own session. */
@SpringBootTest(properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        "streamingllm.chat.temperature=0",
        "streamingllm.chat.max-tokens=40",
        "copywriter.repl=false"})
class CopywriterTest {

    @Autowired
    Copywriter copywriter;

    @Autowired
    ChatSessions sessions;

    @Test
    void eachDocumentIsItsOwnConversation() {
        String launch1 = copywriter.reviseNow("launch", "Write a line about a new red bike.");
        String streamed = String.join("", copywriter.revise("launch", "Make it shorter.").collectList().block(Duration.ofSeconds(60)));
        SessionInfo launchAfterTwo = sessions.info(Copywriter.conversationId("launch")).orElseThrow();

        String recipe = copywriter.reviseNow("recipe", "Write a line about apple pie.");
        copywriter.reviseNow("launch", "Now add a happy ending.");

        assertThat(launch1).isNotBlank();
        assertThat(streamed).isNotBlank();
        assertThat(recipe).isNotBlank();
        SessionInfo launch = sessions.info(Copywriter.conversationId("launch")).orElseThrow();
        SessionInfo recipeSession = sessions.info(Copywriter.conversationId("recipe")).orElseThrow();
        // the third instruction continued the launch session: only its new message was prefilled, not the history
        assertThat(launch.tokensSeen()).isGreaterThan(launchAfterTwo.tokensSeen());
        assertThat(launch.prefilled() - launchAfterTwo.prefilled()).isLessThan(launchAfterTwo.prefilled());
        assertThat(launch.createdAt()).isEqualTo(launchAfterTwo.createdAt());
        // the recipe document has its own session, which saw only its own turn
        assertThat(recipeSession.tokensSeen()).isLessThan(launch.tokensSeen());
    }
}
