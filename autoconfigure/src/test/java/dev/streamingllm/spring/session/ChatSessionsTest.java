package dev.streamingllm.spring.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.Engine;
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
    /** Runs the conversations a loader hands out, as another instance's sessions would. */
    private static Engine engine;

    @BeforeAll
    static void load() {
        model = Model.load(TestModels.stories260K());
        engine = new Engine(model);
    }

    @AfterAll
    static void close() {
        engine.close();
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
    void withoutPrefixReuseAPromptWithoutIdRunsOnAOneShotSessionThatIsReleased() {
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = new ChatSessions(model, new ChatSessions.Settings(CACHE, true, 4, Duration.ofMinutes(5), false),
                List.of(recorder), Clock.systemUTC())) {
            TurnResult result = say(sessions, null, "Once upon a time");
            assertThat(result.oneShot()).isTrue();
            assertThat(result.conversationId()).startsWith("one-shot-");
            assertThat(result.completionTokens()).isEqualTo(8);
            assertThat(sessions.count()).isZero();
            assertThat(sessions.active()).isZero();
            assertThat(recorder.events).isEmpty();
        }
    }

    /** A turn without a conversation id, from {@code client}, on the whole history {@code messages}. */
    private static TurnResult resend(ChatSessions sessions, String client, List<ChatMessage> messages) {
        return sessions.turn(new TurnRequest(null, messages, GREEDY, null, null, client), piece -> { }, () -> false);
    }

    /** {@code history}, its reply, then {@code next}. */
    private static List<ChatMessage> then(List<ChatMessage> history, TurnResult reply, String next) {
        List<ChatMessage> out = new ArrayList<>(history);
        out.add(ChatMessage.assistant(reply.text()));
        out.add(ChatMessage.user(next));
        return out;
    }

    @Test
    void aHistoryWithoutIdContinuesTheKeptSessionItExtendsFurthest() {
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC(), recorder)) {
            List<ChatMessage> opening = List.of(ChatMessage.system("Tell stories."), ChatMessage.user("Once upon a time"));
            TurnResult first = resend(sessions, "c", opening);
            assertThat(first.oneShot()).isFalse();
            assertThat(first.conversationId()).startsWith("anonymous-");
            assertThat(first.cachedTokens()).isZero();
            // kept and counted, but never found by id nor reported
            assertThat(sessions.count()).isEqualTo(1);
            assertThat(sessions.list()).isEmpty();
            assertThat(sessions.find(first.conversationId())).isEmpty();

            List<ChatMessage> second = then(opening, first, "The cat");
            TurnResult continued = resend(sessions, "c", second);
            assertThat(continued.conversationId()).isEqualTo(first.conversationId());
            assertThat(continued.reset()).isFalse();
            assertThat(continued.cachedTokens()).isEqualTo(first.session().tokensSeen());
            assertThat(continued.promptTokens()).isLessThan(first.promptTokens());

            // the opening again begins a second session, which also holds the opening's reply
            TurnResult again = resend(sessions, "c", opening);
            assertThat(again.conversationId()).isNotEqualTo(first.conversationId());
            assertThat(again.text()).isEqualTo(first.text());
            // a history that extends both goes on with the one it extends furthest
            TurnResult third = resend(sessions, "c", then(second, continued, "The dog"));
            assertThat(third.conversationId()).isEqualTo(first.conversationId());
            assertThat(third.cachedTokens()).isEqualTo(continued.session().tokensSeen());
            // and the second one is untouched, ready for the history it holds
            TurnResult other = resend(sessions, "c", then(opening, again, "The cat"));
            assertThat(other.conversationId()).isEqualTo(again.conversationId());
            assertThat(other.text()).isEqualTo(continued.text());
            assertThat(sessions.count()).isEqualTo(2);
            assertThat(recorder.events).isEmpty();
        }
    }

    @Test
    void twoClientsWithTheSameOpeningNeverSeeEachOthersLaterTurns() {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            List<ChatMessage> opening = List.of(ChatMessage.user("Once upon a time"));
            TurnResult a1 = resend(sessions, "c", opening);
            // the other client sends the same opening and gets the same greedy reply, then goes on first
            List<ChatMessage> b = then(opening, a1, "The dog");
            TurnResult b2 = resend(sessions, "c", b);
            assertThat(b2.conversationId()).isEqualTo(a1.conversationId());
            // the first client's history no longer extends that session: it gets its own, prefilling its whole history
            List<ChatMessage> a = then(opening, a1, "The cat");
            TurnResult a2 = resend(sessions, "c", a);
            assertThat(a2.conversationId()).isNotEqualTo(b2.conversationId());
            assertThat(a2.cachedTokens()).isZero();
            assertThat(a2.reset()).isFalse();
            TurnResult a2Alone = sessions.turn(new TurnRequest("reference-a", a, GREEDY), piece -> { }, () -> false);
            assertThat(a2.text()).isEqualTo(a2Alone.text());
            assertThat(a2.promptTokens()).isEqualTo(a2Alone.promptTokens());

            // each goes on with its own session, and its replies are those of its own history alone
            TurnResult b3 = resend(sessions, "c", then(b, b2, "The end"));
            TurnResult a3 = resend(sessions, "c", then(a, a2, "The end"));
            assertThat(b3.conversationId()).isEqualTo(b2.conversationId());
            assertThat(a3.conversationId()).isEqualTo(a2.conversationId());
            TurnResult a3Alone = sessions.turn(new TurnRequest("reference-a", then(a, a2Alone, "The end"), GREEDY), piece -> { }, () -> false);
            assertThat(a3.text()).isEqualTo(a3Alone.text());
        }
    }

    @Test
    void aHistoryContinuesOnlySessionsOfTheSameClientAndNeverANamedOne() {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            List<ChatMessage> opening = List.of(ChatMessage.user("Once upon a time"));
            TurnResult ofA = resend(sessions, "key-a", opening);
            TurnResult named = sessions.turn(new TurnRequest("named", opening, GREEDY), piece -> { }, () -> false);
            long namedSeen = named.session().tokensSeen();

            List<ChatMessage> next = then(opening, ofA, "The cat");
            TurnResult ofB = resend(sessions, "key-b", next);
            assertThat(ofB.conversationId()).isNotEqualTo(ofA.conversationId()).isNotEqualTo("named");
            assertThat(ofB.cachedTokens()).isZero();
            assertThat(resend(sessions, "key-a", next).conversationId()).isEqualTo(ofA.conversationId());
            assertThat(sessions.info("named").orElseThrow().tokensSeen()).as("the named session is untouched").isEqualTo(namedSeen);
        }
    }

    @Test
    void aSessionRunningATurnIsNotContinuedByASecondRequestWhichGetsItsOwn() throws Exception {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            List<ChatMessage> opening = List.of(ChatMessage.user("Once upon a time"));
            TurnResult first = resend(sessions, "c", opening);
            List<ChatMessage> next = then(opening, first, "The cat");
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            List<TurnResult> slow = new CopyOnWriteArrayList<>();
            Thread busy = Thread.ofVirtual().start(() -> slow.add(sessions.turn(new TurnRequest(null, next, GREEDY, null, null, "c"),
                    piece -> {
                        started.countDown();
                        await(release);
                    }, () -> false)));
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();

            // answered while the first still runs: no waiting, a fresh session
            TurnResult second = resend(sessions, "c", next);
            assertThat(second.conversationId()).isNotEqualTo(first.conversationId());
            assertThat(second.cachedTokens()).isZero();
            release.countDown();
            busy.join();
            assertThat(slow.getFirst().conversationId()).isEqualTo(first.conversationId());
            // the first went on with the session, prefilling only the new message; the second prefilled it all
            assertThat(slow.getFirst().promptTokens()).isLessThan(second.promptTokens());
        }
    }

    @Test
    void keptSessionsCountAgainstTheMaximumAndTheTimeToLive() throws Exception {
        ManualClock clock = new ManualClock();
        Recorder recorder = new Recorder();
        try (ChatSessions sessions = sessions(1, Duration.ofMinutes(10), clock, recorder)) {
            List<ChatMessage> opening = List.of(ChatMessage.user("Once upon a time"));
            TurnResult kept = resend(sessions, "c", opening);
            clock.now = clock.now.plusSeconds(1);
            // a named conversation takes the only place; the idle anonymous session makes room
            say(sessions, "named", "Once");
            assertThat(sessions.count()).isEqualTo(1);
            assertThat(resend(sessions, "c", then(opening, kept, "The cat")).cachedTokens()).as("gone").isZero();
            assertThat(sessions.list()).isEmpty();
            assertThat(recorder.events).contains("ended named EVICTED");

            // with every place running a turn, a request without an id runs one-shot rather than fail
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread busy = Thread.ofVirtual().start(() -> sessions.turn(new TurnRequest("busy", opening, GREEDY), piece -> {
                started.countDown();
                await(release);
            }, () -> false));
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(resend(sessions, "c", opening).oneShot()).isTrue();
            release.countDown();
            busy.join();

            TurnResult idle = resend(sessions, "c", opening);
            assertThat(sessions.count()).isEqualTo(1);
            clock.now = clock.now.plus(Duration.ofMinutes(11));
            sessions.expireIdle();
            assertThat(sessions.count()).isZero();
            assertThat(resend(sessions, "c", then(opening, idle, "The cat")).cachedTokens()).isZero();
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
    void ifIdleGivesUpAtOnceOnASessionATurnHoldsAndRunsOnceItIsFree() throws Exception {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            say(sessions, "busy", "Once upon a time");
            CountDownLatch holding = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = Thread.ofVirtual().start(() -> sessions.withSession("busy", s -> {
                holding.countDown();
                await(release);
                return null;
            }));
            assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
            List<String> ran = new java.util.concurrent.CopyOnWriteArrayList<>();
            assertThat(sessions.ifIdle("busy", s -> ran.add(s.id()))).isFalse();
            assertThat(ran).isEmpty();
            release.countDown();
            holder.join();
            assertThat(sessions.ifIdle("busy", s -> ran.add(s.id()))).isTrue();
            assertThat(ran).containsExactly("busy");
            assertThat(sessions.ifIdle("missing", s -> ran.add(s.id()))).isTrue();
            assertThat(ran).containsExactly("busy");
            // the refused attempt left the session free for turns
            assertThat(say(sessions, "busy", "The end.").finishReason()).isNotNull();
        }
    }

    @Test
    void anUnknownIdIsLoadedOutsideTheLockAndOneOfTwoConcurrentLoadsWins() throws Exception {
        Conversation stored = new Conversation(engine, CACHE, true);
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
                Conversation conversation = new Conversation(engine, CACHE, true);
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

    @Test
    void aCacheLargerThanTheHeapIsRefusedClearlyAndTheHeldSessionsGoOn() {
        // one layer's keys alone larger than the heap
        long maxFloats = Runtime.getRuntime().maxMemory() / Float.BYTES + 1;
        int kvDim = model.config().kvDim();
        assumeTrue(maxFloats < Integer.MAX_VALUE, "a heap this large holds any one layer's cache");
        CacheConfig tooLarge = CacheConfig.streaming(4, Math.toIntExact(maxFloats / kvDim + 1));
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            TurnResult first = say(sessions, "a", "Once upon a time");
            TurnRequest huge = new TurnRequest("b", List.of(ChatMessage.user("Once upon a time")), GREEDY, tooLarge, null, null);

            assertThatThrownBy(() -> sessions.turn(huge, piece -> { }, () -> false))
                    .isInstanceOf(SessionLimitException.class)
                    .hasMessageContaining("a session's cache of " + sessions.bytes(tooLarge) / (1024 * 1024) + " MiB is larger than"
                            + " the JVM's whole heap of " + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB")
                    .hasMessageContaining("-Xmx");
            assertThatThrownBy(() -> sessions.stream(huge).blockLast()).isInstanceOf(SessionLimitException.class);
            assertThat(sessions.find("b")).isEmpty();
            assertThat(say(sessions, "a", "The end").session().tokensSeen()).isGreaterThan(first.session().tokensSeen());
        }
    }

    @Test
    void whenTheHeapHoldsNoMoreCachesTheLeastRecentlyUsedIdleSessionMakesRoom() {
        // caches of two fifths of the heap each: two fit, a third only once one of them is garbage
        long floatsPerArray = Runtime.getRuntime().maxMemory() * 2 / 5 / (2L * model.config().layers() * Float.BYTES);
        assumeTrue(floatsPerArray < Integer.MAX_VALUE, "a heap this large needs caches larger than an array");
        CacheConfig large = CacheConfig.streaming(4, Math.toIntExact(floatsPerArray / model.config().kvDim()) - 4);
        Recorder recorder = new Recorder();
        ManualClock clock = new ManualClock();
        try (ChatSessions sessions = new ChatSessions(model, new ChatSessions.Settings(large, true, 8, Duration.ofHours(1)),
                List.of(recorder), clock)) {
            say(sessions, "a", "Once upon a time");
            clock.now = clock.now.plusSeconds(1);
            say(sessions, "b", "Once upon a time");
            clock.now = clock.now.plusSeconds(1);

            TurnResult third = say(sessions, "c", "Once upon a time");

            assertThat(third.completionTokens()).isPositive();
            assertThat(sessions.find("a")).isEmpty();
            assertThat(sessions.find("b")).isPresent();
            assertThat(sessions.find("c")).isPresent();
            assertThat(recorder.events).contains("ended a EVICTED");
        }
    }

    @Test
    void aFatalErrorInATurnReachesTheSubscriberAsAFailure() {
        SessionListener failing = new SessionListener() {
            @Override
            public void turnCompleted(ChatSession session, TurnResult result) {
                throw new OutOfMemoryError("simulated");
            }
        };
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC(), failing)) {
            assertThatThrownBy(() -> sessions.stream(new TurnRequest("a", List.of(ChatMessage.user("Once upon a time")), GREEDY)).blockLast())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("the turn failed")
                    .hasCauseInstanceOf(OutOfMemoryError.class);
        }
    }

    @Test
    void endingASessionStopsTheTurnRunningOnItAtItsNextStep() throws Exception {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            SamplingParams long_ = SamplingParams.builder().temperature(0).maxTokens(40).build();
            CountDownLatch generating = new CountDownLatch(1);
            CountDownLatch ended = new CountDownLatch(1);
            java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
            var turn = java.util.concurrent.CompletableFuture.supplyAsync(() -> sessions.turn(
                    new TurnRequest("ended-mid-turn", List.of(ChatMessage.user("Once upon a time")), long_), piece -> {
                        // the first piece holds the turn mid-generation until the session has been ended
                        generating.countDown();
                        await(ended);
                    }, () -> {
                        // asked before every step: from the third on, the steps wait for the first piece to have been
                        // taken (two steps have sampled two words by then) and then for the session to be ended, so the
                        // generation cannot run to its last token first. Waiting only once the piece had been taken
                        // raced the scheduler, which could finish all 40 tokens before the client's thread ran.
                        if (asked.incrementAndGet() >= 3) {
                            await(generating);
                            await(ended);
                        }
                        return false;
                    }));
            assertThat(generating.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(sessions.end("ended-mid-turn")).isTrue();
            ended.countDown();
            TurnResult result = turn.get(30, TimeUnit.SECONDS);
            TurnResult whole = sessions.turn(new TurnRequest("not-ended", List.of(ChatMessage.user("Once upon a time")), long_),
                    piece -> { }, () -> false);
            assertThat(result.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(whole.completionTokens()).as("a turn long enough to be stopped").isGreaterThan(10);
            assertThat(result.completionTokens()).isLessThan(whole.completionTokens());
            assertThat(whole.text()).startsWith(result.text());
            assertThat(sessions.find("ended-mid-turn")).isEmpty();
        }
    }

    @Test
    void aTurnCancelledWhileItWaitsForItsSessionDoesNothing() throws Exception {
        try (ChatSessions sessions = sessions(4, Duration.ofMinutes(5), Clock.systemUTC())) {
            say(sessions, "waits", "Once upon a time");
            long seen = sessions.info("waits").orElseThrow().tokensSeen();
            java.util.concurrent.atomic.AtomicBoolean cancelled = new java.util.concurrent.atomic.AtomicBoolean();
            CountDownLatch holding = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = Thread.ofVirtual().start(() -> sessions.withSession("waits", s -> {
                holding.countDown();
                await(release);
                return null;
            }));
            assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
            var turn = java.util.concurrent.CompletableFuture.supplyAsync(() -> sessions.turn(
                    new TurnRequest("waits", List.of(ChatMessage.user("The end.")), GREEDY), piece -> { }, cancelled::get));
            ChatSession session = sessions.find("waits").orElseThrow();
            // the turn is waiting for the session the holder has
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
                synchronized (sessions) {
                    return session.users == 2;
                }
            });
            cancelled.set(true);
            release.countDown();
            holder.join();
            TurnResult result = turn.get(30, TimeUnit.SECONDS);
            assertThat(result.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(result.promptTokens()).isZero();
            assertThat(sessions.info("waits").orElseThrow().tokensSeen()).isEqualTo(seen);
        }
    }

    /**
     * A turn cancelled mid-way stays in the conversation as far as it went. A client that never received that reply and
     * resends its history gets the conversation started over from that history; one sending only its new message
     * continues after the partial reply.
     */
    @Test
    void aCancelledReplyIsKeptAndAResentHistoryWithoutItStartsOver() {
        try (ChatSessions sessions = sessions(8, Duration.ofMinutes(5), Clock.systemUTC())) {
            SamplingParams long_ = SamplingParams.builder().temperature(0).maxTokens(40).build();
            ChatMessage first = ChatMessage.user("Lily had a red ball.");
            TurnResult opening = sessions.turn(new TurnRequest("abandoned", List.of(first), GREEDY), piece -> { }, () -> false);
            List<ChatMessage> history = List.of(first, ChatMessage.assistant(opening.text()), ChatMessage.user("What did she do?"));
            // the client goes away after a few steps: the scheduler asks at every step whether it is still there (a flag
            // set by the first piece raced the scheduler, which could finish all 40 tokens of this small model first)
            java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
            TurnResult cut = sessions.turn(new TurnRequest("abandoned", history, long_), piece -> { }, () -> asked.incrementAndGet() > 4);
            assertThat(cut.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(sessions.info("abandoned").orElseThrow().tokensSeen()).as("the partial reply is in the cache")
                    .isEqualTo(cut.session().tokensSeen()).isGreaterThan(opening.session().tokensSeen());

            // the client retries with the history it has: the conversation starts over from it, as a new one would
            TurnResult retried = sessions.turn(new TurnRequest("abandoned", history, long_), piece -> { }, () -> false);
            TurnResult fresh = sessions.turn(new TurnRequest("reference", history, long_), piece -> { }, () -> false);
            assertThat(retried.reset()).isTrue();
            assertThat(retried.promptTokens()).isEqualTo(fresh.promptTokens());
            assertThat(retried.text()).isEqualTo(fresh.text());

            // only the new message: it continues after the partial reply, prefilling just that message
            sessions.turn(new TurnRequest("only-new", List.of(first), GREEDY), piece -> { }, () -> false);
            asked.set(0);
            TurnResult partial = sessions.turn(new TurnRequest("only-new", List.of(ChatMessage.user("What did she do?")), long_),
                    piece -> { }, () -> asked.incrementAndGet() > 4);
            TurnResult next = sessions.turn(new TurnRequest("only-new", List.of(ChatMessage.user("And then?")), GREEDY),
                    piece -> { }, () -> false);
            assertThat(partial.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(next.reset()).isFalse();
            assertThat(next.cachedTokens()).isEqualTo(partial.session().tokensSeen());
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
