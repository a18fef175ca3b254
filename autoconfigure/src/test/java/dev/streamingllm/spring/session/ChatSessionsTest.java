package dev.streamingllm.spring.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.FinishReason;
import dev.streamingllm.spring.TestModels;
import dev.streamingllm.template.ChatMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

class ChatSessionsTest {

    private static final SamplingParams GREEDY = SamplingParams.builder().temperature(0).maxTokens(8).build();
    private static final CacheConfig CACHE = CacheConfig.streaming(4, 124);

    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(TestModels.stories260K());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    /** Records what listeners hear. */
    static final class Recorder implements SessionListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void sessionCreated(ChatSession session) {
            events.add("created " + session.id());
        }

        @Override
        public void turnCompleted(ChatSession session, TurnResult result) {
            // the session is held: its state is the state after this turn
            assertThat(session.info().tokensSeen()).isEqualTo(result.session().tokensSeen());
            events.add("turn " + session.id() + " " + result.finishReason());
        }

        @Override
        public void sessionEnded(SessionInfo last, EndReason reason) {
            events.add("ended " + last.id() + " " + reason);
        }
    }

    private static ChatSessions sessions(int max, Duration ttl, Clock clock, SessionListener... listeners) {
        return new ChatSessions(model, new ChatSessions.Settings(CACHE, true, max, ttl), List.of(listeners), clock);
    }

    private static TurnResult say(ChatSessions sessions, String id, String text) {
        return sessions.turn(new TurnRequest(id, List.of(ChatMessage.user(text)), GREEDY), piece -> { }, () -> false);
    }

    @Test
    void aNamedSessionKeepsItsCacheAndReportsItsState() {
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC(), recorder)) {
            List<ChatMessage> history = new ArrayList<>(List.of(ChatMessage.system("Tell stories."), ChatMessage.user("Once upon a time")));
            TurnResult first = sessions.turn(new TurnRequest("a", history, GREEDY), piece -> { }, () -> false);
            history.add(ChatMessage.assistant(first.text()));
            history.add(ChatMessage.user("The cat"));
            TurnResult second = sessions.turn(new TurnRequest("a", history, GREEDY), piece -> { }, () -> false);

            assertThat(second.reset()).isFalse();
            assertThat(second.promptTokens()).isLessThan(first.promptTokens());
            SessionInfo info = sessions.info("a").orElseThrow();
            assertThat(info.sinks()).isEqualTo(4);
            assertThat(info.window()).isEqualTo(124);
            assertThat(info.capacity()).isEqualTo(128);
            assertThat(info.prefilled()).isEqualTo(first.promptTokens() + second.promptTokens());
            assertThat(info.cacheBytes()).isEqualTo(sessions.bytesPerSession())
                    .isEqualTo(new dev.streamingllm.cache.SinkCache(CACHE, model.config().layers(), model.config().kvDim()).bytes());
            assertThat(info.lastActive()).isAfterOrEqualTo(info.createdAt());
            assertThat(sessions.list()).extracting(SessionInfo::id).containsExactly("a");
            assertThat(sessions.totals().prefilled()).isEqualTo(info.prefilled());
            assertThat(sessions.totals().turns()).isEqualTo(2);

            assertThat(sessions.end("a")).isTrue();
            assertThat(sessions.end("a")).isFalse();
            assertThat(sessions.find("a")).isEmpty();
            assertThat(recorder.events).containsExactly("created a", "turn a LENGTH", "turn a LENGTH", "ended a ENDED");
        }
    }

    @Test
    void aPromptWithoutIdRunsOnAOneShotSessionThatIsReleased() {
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC(), recorder)) {
            TurnResult result = say(sessions, null, "Once upon a time");
            assertThat(result.oneShot()).isTrue();
            assertThat(result.conversationId()).startsWith("one-shot-");
            assertThat(result.completionTokens()).isEqualTo(8);
            assertThat(sessions.count()).isZero();
            assertThat(sessions.active()).isZero();
            assertThat(recorder.events).isEmpty();
        }
    }

    @Test
    void theLeastRecentlyUsedIdleSessionMakesRoom() {
        ManualClock clock = new ManualClock();
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = sessions(2, Duration.ofHours(1), clock, recorder)) {
            say(sessions, "a", "Once");
            clock.now = clock.now.plusSeconds(1);
            say(sessions, "b", "Once");
            clock.now = clock.now.plusSeconds(1);
            say(sessions, "a", "Once");
            clock.now = clock.now.plusSeconds(1);
            say(sessions, "c", "Once");

            assertThat(sessions.list()).extracting(SessionInfo::id).containsExactlyInAnyOrder("a", "c");
            assertThat(recorder.events).contains("ended b EVICTED");
        }
    }

    @Test
    void idleSessionsExpireAfterTheirTimeToLive() {
        ManualClock clock = new ManualClock();
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(10), clock, recorder)) {
            say(sessions, "old", "Once");
            clock.now = clock.now.plus(Duration.ofMinutes(6));
            say(sessions, "new", "Once");
            clock.now = clock.now.plus(Duration.ofMinutes(6));
            sessions.expireIdle();

            assertThat(sessions.list()).extracting(SessionInfo::id).containsExactly("new");
            assertThat(recorder.events).contains("ended old EXPIRED").doesNotContain("ended new EXPIRED");
        }
    }

    @Test
    void aFullTableOfBusySessionsRefusesANewConversationClearly() throws Exception {
        try (ChatSessions sessions = sessions(1, Duration.ofMinutes(5), Clock.systemUTC())) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread busy = Thread.ofVirtual().start(() -> sessions.turn(
                    new TurnRequest("busy", List.of(ChatMessage.user("Once")), GREEDY.toBuilder().maxTokens(64).build()),
                    piece -> {
                        started.countDown();
                        await(release);
                    }, () -> false));
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();

            assertThatThrownBy(() -> say(sessions, "other", "Once")).isInstanceOf(SessionLimitException.class)
                    .hasMessageContaining("all 1 sessions are running turns").hasMessageContaining("streamingllm.sessions.max");
            release.countDown();
            busy.join();
            assertThat(say(sessions, "other", "Once").finishReason()).isEqualTo(FinishReason.LENGTH);
        }
    }

    @Test
    void exclusiveAccessSeesAConsistentSession() {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            say(sessions, "a", "Once upon a time");
            long seen = sessions.withSession("a", s -> s.conversation().session().tokensSeen()).orElseThrow();
            assertThat(seen).isEqualTo(sessions.info("a").orElseThrow().tokensSeen()).isPositive();
            assertThat(sessions.withSession("missing", s -> 1)).isEmpty();
        }
    }

    @Test
    void anUnknownIdIsLoadedOutsideTheLockAndOneOfTwoConcurrentLoadsWins() throws Exception {
        Conversation stored = new Conversation(model, CACHE, true);
        stored.reply(List.of(ChatMessage.user("Once upon a time")), GREEDY, piece -> { }, () -> false);
        long storedSeen = stored.session().tokensSeen();
        CountDownLatch bothLoading = new CountDownLatch(2);
        List<Conversation> handedOut = new CopyOnWriteArrayList<>();
        SessionLoader loader = id -> switch (id) {
            case "stored" -> Optional.of(stored);
            case "raced" -> {
                bothLoading.countDown();
                try {
                    // both turns load at once: the lock is not held while loading
                    assertThat(bothLoading.await(30, TimeUnit.SECONDS)).isTrue();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                Conversation conversation = new Conversation(model, CACHE, true);
                handedOut.add(conversation);
                yield Optional.of(conversation);
            }
            case "refused" -> throw new IllegalStateException("conversation refused is served by instance other");
            default -> Optional.empty();
        };
        try (ChatSessions sessions = new ChatSessions(model, new ChatSessions.Settings(CACHE, true, 4, Duration.ofMinutes(5)), List.of(),
                () -> loader, Clock.systemUTC())) {
            TurnResult continued = say(sessions, "stored", "Then");
            assertThat(sessions.find("stored").orElseThrow().conversation()).isSameAs(stored);
            assertThat(continued.session().tokensSeen()).isGreaterThan(storedSeen);

            // nothing stored: a new conversation, as without a loader
            assertThat(say(sessions, "fresh", "Once").session().tokensSeen()).isEqualTo(say(sessions, null, "Once").session().tokensSeen());

            Thread first = Thread.ofVirtual().start(() -> say(sessions, "raced", "Once upon a time"));
            Thread second = Thread.ofVirtual().start(() -> say(sessions, "raced", "Once upon a time"));
            first.join(60_000);
            second.join(60_000);
            assertThat(handedOut).hasSize(2);
            ChatSession raced = sessions.find("raced").orElseThrow();
            assertThat(handedOut).contains(raced.conversation());
            assertThat(sessions.info("raced").orElseThrow().tokensSeen())
                    .as("both turns ran on the one session that won").isGreaterThan(say(sessions, null, "Once upon a time").session().tokensSeen());

            assertThatThrownBy(() -> say(sessions, "refused", "Once")).hasMessage("conversation refused is served by instance other");
            assertThat(sessions.find("refused")).isEmpty();
        }
    }

    @Test
    void streamingEmitsTextInOrderThenTheResult() {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            String expected = say(sessions, null, "Once upon a time").text();
            StringBuilder streamed = new StringBuilder();
            StepVerifier.create(sessions.stream(new TurnRequest(null, List.of(ChatMessage.user("Once upon a time")), GREEDY)))
                    .thenConsumeWhile(e -> e instanceof TurnEvent.Text, e -> streamed.append(((TurnEvent.Text) e).text()))
                    .assertNext(e -> assertThat(((TurnEvent.Done) e).result().text()).isEqualTo(expected))
                    .verifyComplete();
            assertThat(streamed.toString()).isEqualTo(expected);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
