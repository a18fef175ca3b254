package dev.streamingllm.spring.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionUnavailableException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * Two application instances without a web server sharing one real Redis, used only in-process through
 * {@code ChatClient} with a chat-memory advisor: a conversation whose owner is gone continues on the other instance
 * through the {@code SessionLoader}, restored from its snapshot.
 */
@ExtendWith(OutputCaptureExtension.class)
class InProcessTakeoverTest extends RedisRoutingTest {

    private static final String[] USERS = {"Once upon a time", "The cat", "The dog"};
    private static final int MAX_TOKENS = 16;

    private static ConfigurableApplicationContext start(String instance) {
        return startInProcess(instance, "--streamingllm.cache.window=60");
    }

    @Test
    void aConversationWhoseOwnerIsGoneContinuesOnAnotherInstanceExactly() throws Exception {
        String id = "in-process-" + UUID.randomUUID();
        String instanceA = "a-" + UUID.randomUUID().toString().substring(0, 8);
        try (ConfigurableApplicationContext a = start(instanceA); ConfigurableApplicationContext b = start("b-" + UUID.randomUUID())) {
            ChatClient onA = chatClient(a, MAX_TOKENS);
            ChatClient onB = chatClient(b, MAX_TOKENS);
            ChatSessions sessionsA = a.getBean(ChatSessions.class);
            ChatSessions sessionsB = b.getBean(ChatSessions.class);
            List<String> expected = uninterrupted(sessionsA);

            assertThat(say(onA, id, USERS[0])).isEqualTo(expected.get(0));
            assertThat(say(onA, id, USERS[1])).isEqualTo(expected.get(1));
            SessionRegistry registry = b.getBean(SessionOwnership.class).registry();
            awaitPublished(registry, id, sessionsA.info(id).orElseThrow().tokensSeen());

            // A is alive and holds the conversation: B refuses, naming A, and starts nothing
            assertThatThrownBy(() -> say(onB, id, USERS[2]))
                    .isInstanceOf(SessionUnavailableException.class)
                    .hasMessageContaining("is served by instance " + instanceA);
            assertThat(sessionsB.find(id)).isEmpty();

            // A dies without a word: it stops talking to Redis, so its lease and heartbeat expire
            a.getBean(LettuceConnectionFactory.class).stop();
            awaitLeaseExpired(registry, id);

            assertThat(say(onB, id, USERS[2])).as("greedy continuation after the takeover").isEqualTo(expected.get(2));
            assertThat(b.getBean(SessionOwnership.class).lease(id)).isPresent();
            assertThat(registry.lease(id).block(Duration.ofSeconds(2))).extracting(Lease::instanceId)
                    .isEqualTo(b.getBean(SessionOwnership.class).settings().instanceId());
        }
    }

    @Test
    void aTurnIsInTheRegistryWhenItsReplyReturnsSoItSurvivesItsOwnerVanishingAtOnce() throws Exception {
        String id = "durable-" + UUID.randomUUID();
        try (ConfigurableApplicationContext a = start("a-" + UUID.randomUUID()); ConfigurableApplicationContext b = start("b-" + UUID.randomUUID())) {
            ChatClient onA = chatClient(a, MAX_TOKENS);
            List<String> expected = uninterrupted(a.getBean(ChatSessions.class));
            assertThat(say(onA, id, USERS[0])).isEqualTo(expected.get(0));
            ChatResponse second = onA.prompt().user(USERS[1]).advisors(p -> p.param(ChatMemory.CONVERSATION_ID, id)).call().chatResponse();
            // A vanishes the moment the reply returns: nothing it would write later reaches Redis
            a.getBean(LettuceConnectionFactory.class).stop();
            assertThat(second.getResult().getOutput().getText()).isEqualTo(expected.get(1));
            assertThat(second.getMetadata().<Boolean>get("durable")).isTrue();
            long tokensSeen = a.getBean(ChatSessions.class).info(id).orElseThrow().tokensSeen();

            SessionRegistry registry = b.getBean(SessionOwnership.class).registry();
            Publication stored = registry.find(id).block(Duration.ofSeconds(2));
            assertThat(stored).as("the registry right after the reply").isNotNull();
            assertThat(stored.record().turns()).isEqualTo(2);
            assertThat(stored.record().tokensSeen()).isEqualTo(tokensSeen);
            assertThat(registry.acknowledged(id).block(Duration.ofSeconds(2))).isEqualTo(2L);

            awaitLeaseExpired(registry, id);
            assertThat(say(chatClient(b, MAX_TOKENS), id, USERS[2])).as("greedy continuation after the takeover").isEqualTo(expected.get(2));
        }
    }

    @Test
    void aStoredStateOlderThanTheAcknowledgedTurnsIsRestoredAsStaleNeverExact(CapturedOutput output) throws Exception {
        String id = "stale-" + UUID.randomUUID();
        try (ConfigurableApplicationContext a = start("a-" + UUID.randomUUID()); ConfigurableApplicationContext b = start("b-" + UUID.randomUUID())) {
            ChatClient onA = chatClient(a, MAX_TOKENS);
            say(onA, id, USERS[0]);
            SessionRegistry registry = b.getBean(SessionOwnership.class).registry();
            Lease lease = a.getBean(SessionOwnership.class).lease(id).orElseThrow();
            // the owner answered a second turn whose state never reached the registry, while its renewals still did
            assertThat(registry.renew(lease, 2, Duration.ofSeconds(3)).block(Duration.ofSeconds(2))).isTrue();
            a.getBean(LettuceConnectionFactory.class).stop();
            awaitLeaseExpired(registry, id);

            say(chatClient(b, MAX_TOKENS), id, USERS[2]);
            assertThat(output.getOut()).contains("Session " + id + ": restored from its snapshot")
                    .contains("stale: it holds 1 turns of 2 acknowledged")
                    .doesNotContainPattern("Session " + id + ": restored .*exact");
            // the count goes on from what was acknowledged
            assertThat(registry.find(id).block(Duration.ofSeconds(2)).record().turns()).isEqualTo(3);
        }
    }

    @Test
    void anOrderlyShutdownGivesItsLeasesUpSoAnotherInstanceContinuesAtOnce() throws Exception {
        String id = "orderly-" + UUID.randomUUID();
        try (ConfigurableApplicationContext b = start("b-" + UUID.randomUUID())) {
            ChatSessions sessionsB = b.getBean(ChatSessions.class);
            List<String> expected = uninterrupted(sessionsB);
            SessionRegistry registry = b.getBean(SessionOwnership.class).registry();
            try (ConfigurableApplicationContext a = start("a-" + UUID.randomUUID())) {
                ChatClient onA = chatClient(a, MAX_TOKENS);
                assertThat(say(onA, id, USERS[0])).isEqualTo(expected.get(0));
                assertThat(say(onA, id, USERS[1])).isEqualTo(expected.get(1));
                assertThat(registry.lease(id).block(Duration.ofSeconds(2))).isNotNull();
            }
            // released while the Redis connection was still up, not left to expire
            assertThat(registry.lease(id).block(Duration.ofSeconds(2))).as("lease after A's orderly shutdown").isNull();
            assertThat(say(chatClient(b, MAX_TOKENS), id, USERS[2])).as("greedy continuation on B").isEqualTo(expected.get(2));
        }
    }

    /** The conversation run without interruption, greedy; its window overflows, so a replayed transcript may not reproduce the last reply, the snapshot must. */
    private static List<String> uninterrupted(ChatSessions settingsFrom) {
        List<String> texts = new ArrayList<>();
        Conversation conversation = uninterrupted(settingsFrom, SamplingParams.builder().temperature(0).maxTokens(MAX_TOKENS).build(),
                List.of(USERS), texts);
        assertThat(conversation.session().cache().evicted()).isPositive();
        return texts;
    }

    private static void awaitPublished(SessionRegistry registry, String id, long tokensSeen) {
        await("session " + id + " published with " + tokensSeen + " tokens seen").atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> registry.find(id).block(Duration.ofSeconds(2)),
                        publication -> publication != null && publication.record().tokensSeen() == tokensSeen);
    }
}
