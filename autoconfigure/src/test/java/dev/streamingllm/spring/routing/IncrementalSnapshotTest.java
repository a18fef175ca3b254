package dev.streamingllm.spring.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.ConversationSnapshot;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.template.ChatMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import tools.jackson.databind.json.JsonMapper;

/**
 * Turns written to a real Redis as deltas on a whole snapshot, in process on two application instances: what is
 * published per turn, when a whole snapshot is written again, and an exact takeover from a snapshot and its deltas.
 */
class IncrementalSnapshotTest extends RedisRoutingTest {

    private static final Duration CALL = Duration.ofSeconds(2);
    /** A first message that fills a cache of a few hundred tokens. */
    private static final String LONG = "Once upon a time there was a little cat who liked to play in the sun. ".repeat(8);
    private static final String[] USERS = {LONG, "The cat", "The dog", "A bird", "The sun", "A tree", "The moon", "A fish"};
    private static final int MAX_TOKENS = 12;
    /** {@code streamingllm.routing.snapshots.whole-every} where a test sets it: fewer turns than the default 16. */
    private static final int WHOLE_EVERY = 6;

    @Test
    void aConversationPublishedAsSnapshotsAndDeltasContinuesExactlyOnAnotherInstance() throws Exception {
        String id = "incremental-" + UUID.randomUUID();
        try (ConfigurableApplicationContext a = startInProcess("a-" + UUID.randomUUID(), "--streamingllm.cache.window=400");
                ConfigurableApplicationContext b = startInProcess("b-" + UUID.randomUUID(), "--streamingllm.cache.window=400")) {
            ChatClient onA = chatClient(a, MAX_TOKENS);
            List<String> expected = uninterrupted(a.getBean(ChatSessions.class));
            SessionRegistry registry = b.getBean(SessionOwnership.class).registry();
            List<Integer> deltas = new ArrayList<>();
            for (int turn = 0; turn < USERS.length - 1; turn++) {
                assertThat(say(onA, id, USERS[turn])).isEqualTo(expected.get(turn));
                Publication stored = registry.find(id).block(CALL);
                assertThat(stored.record().turns()).isEqualTo(turn + 1);
                // compaction: the deltas since the whole snapshot never pass half its size
                assertThat(stored.deltas().stream().mapToLong(delta -> delta.length).sum()).isLessThanOrEqualTo(stored.snapshot().length / 2);
                deltas.add(stored.deltas().size());
            }
            System.out.println("Deltas stored after each turn: " + deltas);
            // the first turn and every compaction write a whole snapshot, the turns between them deltas
            assertThat(deltas.getFirst()).as("deltas after each turn").isZero();
            assertThat(deltas).as("deltas after each turn").contains(2);
            assertThat(deltas.subList(deltas.indexOf(2), deltas.size())).as("deltas after each turn").contains(0);
            assertThat(deltas.getLast()).as("deltas after each turn: %s", deltas).isPositive();

            // A vanishes: B restores the snapshot and the deltas on it, and continues exactly
            a.getBean(LettuceConnectionFactory.class).stop();
            awaitLeaseExpired(registry, id);
            assertThat(say(chatClient(b, MAX_TOKENS), id, USERS[USERS.length - 1])).as("greedy continuation after the takeover")
                    .isEqualTo(expected.getLast());
        }
    }

    /**
     * The approximate fallback: a conversation whose snapshot cannot be read is replayed from its transcript, which
     * holds every message, those the deltas added since the whole snapshot included.
     */
    @Test
    void aConversationWhoseSnapshotIsUnreadableIsReplayedFromItsTranscriptWithTheMessagesItsDeltasAdded() throws Exception {
        String id = "replayed-" + UUID.randomUUID();
        try (ConfigurableApplicationContext a = startInProcess("a-" + UUID.randomUUID(), "--streamingllm.cache.window=400");
                ConfigurableApplicationContext b = startInProcess("b-" + UUID.randomUUID(), "--streamingllm.cache.window=400")) {
            ChatClient onA = chatClient(a, MAX_TOKENS);
            SessionRegistry registry = b.getBean(SessionOwnership.class).registry();
            say(onA, id, USERS[0]);
            int turns = 1;
            Publication stored;
            do {
                say(onA, id, USERS[turns++]);
                stored = registry.find(id).block(CALL);
            } while (stored.deltas().isEmpty() && turns < USERS.length);
            assertThat(stored.deltas()).as("turns since the whole snapshot").isNotEmpty();
            assertThat(stored.transcript()).hasSize(stored.deltas().size() + 1);
            List<ChatMessage> onAHeld = a.getBean(ChatSessions.class).withSession(id, session -> session.conversation().transcript())
                    .orElseThrow();
            assertThat(onAHeld).hasSize(2 * turns);

            a.getBean(LettuceConnectionFactory.class).stop();
            b.getBean(ReactiveStringRedisTemplate.class).opsForValue().set("streamingllm:snapshot:{" + id + "}", "unreadable").block(CALL);
            awaitLeaseExpired(registry, id);
            ChatSessions onB = b.getBean(ChatSessions.class);
            onB.open(id);
            assertThat(onB.withSession(id, session -> session.conversation().transcript())).contains(onAHeld);
        }
    }

    @Test
    void aTurnOnAFullCacheOfTwoThousandTokensPublishesAboutOneThousandthOfAWholeSnapshotPerTokenFedAndEveryNthStateIsWhole() throws Exception {
        for (String type : List.of("f32", "f16")) {
            String id = "full-cache-" + type + "-" + UUID.randomUUID();
            try (ConfigurableApplicationContext a = startInProcess("a-" + UUID.randomUUID(), "--streamingllm.cache.window=2044",
                    "--streamingllm.cache.type=" + type, "--streamingllm.routing.snapshots.whole-every=" + WHOLE_EVERY)) {
                ChatSessions sessions = a.getBean(ChatSessions.class);
                SessionRegistry registry = a.getBean(SessionOwnership.class).registry();
                ChatClient client = chatClient(a, 1);
                say(client, id, LONG.repeat(12));
                assertThat(sessions.withSession(id, session -> session.conversation().session().cache().size())).contains(2048);
                long before = sessions.info(id).orElseThrow().tokensSeen();
                say(client, id, "Hi");
                long fed = sessions.info(id).orElseThrow().tokensSeen() - before;

                Publication stored = registry.find(id).block(CALL);
                assertThat(stored.deltas()).hasSize(1);
                // the transcript grows by the turn's messages, and read whole it is the conversation's
                assertThat(stored.transcript()).hasSize(2);
                assertThat(ConversationRestorer.transcript(stored, JsonMapper.builder().build()))
                        .isEqualTo(sessions.withSession(id, session -> session.conversation().transcript()).orElseThrow());
                long published = stored.deltas().getFirst().length + stored.transcript().getLast().length
                        + JsonMapper.builder().build().writeValueAsBytes(stored.record()).length;
                int whole = sessions.withSession(id, session -> ConversationSnapshot.write(session.conversation()).length).orElseThrow();
                System.out.printf("%s cache of 2048 tokens, stories260K: a turn of %d tokens published %d bytes (delta %d, transcript %d),"
                        + " a whole snapshot is %d bytes: %.2f%%%n", type, fed, published, stored.deltas().getFirst().length,
                        stored.transcript().getLast().length, whole, 100.0 * published / whole);
                // the shortest turn this model's template (ChatML) allows is some 50 tokens; 20 would publish at most 2%
                assertThat(fed).isBetween(20L, 60L);
                assertThat((double) published / whole / fed).isLessThanOrEqualTo(0.02 / 20);

                // deltas this small stay under half a snapshot, yet every WHOLE_EVERYth write is whole
                List<Integer> deltas = new ArrayList<>();
                for (int turn = 0; turn < WHOLE_EVERY; turn++) {
                    say(client, id, "Hi");
                    deltas.add(registry.find(id).block(CALL).deltas().size());
                }
                assertThat(deltas).as("deltas after each turn").containsSubsequence(WHOLE_EVERY - 1, 0, 1)
                        .allSatisfy(count -> assertThat(count).isLessThan(WHOLE_EVERY));
            }
        }
    }

    /** The conversation run without interruption, greedy; its window slides, so a replayed transcript may not reproduce the last reply, the snapshot and deltas must. */
    private static List<String> uninterrupted(ChatSessions settingsFrom) {
        List<String> texts = new ArrayList<>();
        Conversation conversation = uninterrupted(settingsFrom, SamplingParams.builder().temperature(0).maxTokens(MAX_TOKENS).build(),
                List.of(USERS), texts);
        assertThat(conversation.session().cache().evicted()).isPositive();
        return texts;
    }
}
