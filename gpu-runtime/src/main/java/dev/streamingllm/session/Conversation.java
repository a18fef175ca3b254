package dev.streamingllm.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import dev.streamingllm.template.ChatTemplate;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * One endless chat over one session. Chat APIs resend the whole history every turn; re-prefilling it
 * would throw the cache's advantage away, so a conversation feeds only what is new since its last turn.
 *
 * <p>The matching rule, once the conversation has turns. Incoming messages with no assistant message are
 * only the new messages: their non-system messages continue the conversation, and system messages left
 * out mean unchanged (so a client may send only its new message each turn). Otherwise they are a resent
 * history, which extends the conversation when the rest starts with the tail of what it has seen (old
 * messages may be cut from the front, as a memory advisor's window does) followed by at least one new
 * message. Either way, system messages that are present must be the ones the conversation began with.
 * Then only the new messages are rendered and prefilled. Otherwise — an edited or foreign history, a
 * changed system prompt, or a reply the client never received (a cancelled turn) — the conversation
 * starts over and prefills the whole incoming history, which the cache then keeps the end of. (Only new
 * messages after a cancelled turn continue after the part of the reply that was generated.)
 *
 * <p>The matching state (system messages, recent messages) travels with a {@link ConversationSnapshot},
 * so the rule holds on whichever instance restores the conversation.
 *
 * <p>Not thread-safe: callers serialize turns.
 */
public final class Conversation {

    /** Messages remembered for matching: enough to recognise any history a client resends. */
    private static final int REMEMBERED = 64;

    /** What one turn did. {@code promptTokens} counts the tokens prefilled this turn. */
    public record Turn(String text, int promptTokens, int completionTokens, FinishReason finishReason, boolean reset) {
    }

    private final Engine engine;
    private final CacheConfig cacheConfig;
    private final boolean pinSystemPrompt;
    private final ChatTemplate template;
    private final Generator generator;
    private final List<ChatMessage> system = new ArrayList<>();
    private final List<ChatMessage> tail = new ArrayList<>();
    private Session session;
    private int unfed = -1;

    public Conversation(Engine engine, CacheConfig cacheConfig, boolean pinSystemPrompt) {
        this(engine, engine.model().chatTemplate(), cacheConfig, pinSystemPrompt);
    }

    public Conversation(Engine engine, ChatTemplate template, CacheConfig cacheConfig, boolean pinSystemPrompt) {
        this(engine, template, pinSystemPrompt, engine.newSession(cacheConfig));
    }

    /** Continues {@code session}; {@link ConversationSnapshot} then restores the matching state. */
    Conversation(Engine engine, ChatTemplate template, boolean pinSystemPrompt, Session session) {
        this.engine = engine;
        this.template = template;
        this.cacheConfig = session.cache().config();
        this.pinSystemPrompt = pinSystemPrompt;
        this.generator = new Generator(engine.model().tokenizer(), engine.scheduler());
        this.session = session;
    }

    /**
     * Rebuilds a conversation from a {@link #transcript()} by prefilling it as if its last reply had
     * just been generated here: the fallback when no valid snapshot exists. Approximate: the cache
     * then holds the transcript re-encoded rather than the original token stream (context already
     * evicted and the replies' original tokenization are gone), so continuations may differ from
     * those of the original conversation.
     */
    public static Conversation replay(Engine engine, ChatTemplate template, CacheConfig cacheConfig, boolean pinSystemPrompt,
            List<ChatMessage> transcript) {
        Conversation conversation = new Conversation(engine, template, cacheConfig, pinSystemPrompt);
        conversation.prime(transcript);
        return conversation;
    }

    private void prime(List<ChatMessage> transcript) {
        int firstNonSystem = 0;
        while (firstNonSystem < transcript.size() && transcript.get(firstNonSystem).role().equals("system")) {
            firstNonSystem++;
        }
        // a transcript cut from the front resumes at its first user message
        int firstUser = firstNonSystem;
        while (firstUser < transcript.size() && !transcript.get(firstUser).role().equals("user")) {
            firstUser++;
        }
        List<ChatMessage> rest = transcript.subList(firstUser, transcript.size());
        if (rest.isEmpty() || !rest.getLast().role().equals("assistant")) {
            throw new IllegalArgumentException("a transcript to replay needs a user message and must end with an assistant reply");
        }
        List<ChatMessage> messages = concat(transcript.subList(0, firstNonSystem), rest);
        String text = template.render(messages.subList(0, messages.size() - 1), true) + rest.getLast().content();
        system.addAll(transcript.subList(0, firstNonSystem));
        int[] tokens = encodeStart(text);
        pinSystemPrompt(text, rest.get(0));
        tail.addAll(rest.subList(Math.max(0, rest.size() - REMEMBERED), rest.size()));
        session.prefill(tokens);
    }

    /** Feeds what is new in {@code messages} and generates the assistant's reply. */
    public Turn reply(List<ChatMessage> messages, SamplingParams params, Consumer<String> onText, BooleanSupplier cancelled) {
        int firstNonSystem = 0;
        while (firstNonSystem < messages.size() && messages.get(firstNonSystem).role().equals("system")) {
            firstNonSystem++;
        }
        List<ChatMessage> incomingSystem = messages.subList(0, firstNonSystem);
        List<ChatMessage> rest = messages.subList(firstNonSystem, messages.size());
        if (rest.isEmpty()) {
            throw new IllegalArgumentException("nothing to reply to: the prompt has no user message");
        }

        boolean fresh = tail.isEmpty();
        List<ChatMessage> added = fresh ? null : newMessages(incomingSystem, rest);
        String text = added == null ? null : increment(added);
        boolean reset = !fresh && text == null;
        int[] tokens;
        if (text == null) {
            if (reset) {
                session = engine.newSession(cacheConfig);
            }
            tail.clear();
            system.clear();
            system.addAll(incomingSystem);
            unfed = -1;
            text = template.render(messages, true);
            tokens = encodeStart(text);
            pinSystemPrompt(text, rest.get(0));
            tail.addAll(rest);
        } else {
            tokens = engine.model().tokenizer().encode(text, false, true);
            if (unfed >= 0) {
                tokens = prepend(unfed, tokens);
            }
            tail.addAll(added);
        }

        Generator.Result result = generator.generate(session, tokens, params, onText, cancelled);
        tail.add(ChatMessage.assistant(result.text()));
        while (tail.size() > REMEMBERED) {
            tail.remove(0);
        }
        unfed = result.unfed();
        return new Turn(result.text(), tokens.length, result.completionTokens(), result.finishReason(), reset);
    }

    public Session session() {
        return session;
    }

    /** The messages this conversation remembers: its system messages and the most recent exchanges (for {@link #replay}). */
    public List<ChatMessage> transcript() {
        return List.copyOf(concat(system, tail));
    }

    Engine engine() {
        return engine;
    }

    boolean pinsSystemPrompt() {
        return pinSystemPrompt;
    }

    List<ChatMessage> system() {
        return system;
    }

    List<ChatMessage> tail() {
        return tail;
    }

    /** The token generated last but not fed yet (its turn ran out of budget), else -1. */
    int unfed() {
        return unfed;
    }

    void restore(List<ChatMessage> system, List<ChatMessage> tail, int unfed) {
        this.system.addAll(system);
        this.tail.addAll(tail);
        this.unfed = unfed;
    }

    /**
     * The messages of {@code rest} that are new to this conversation, or null when the incoming messages
     * do not continue it (see the class comment for the rule).
     */
    private List<ChatMessage> newMessages(List<ChatMessage> incomingSystem, List<ChatMessage> rest) {
        if (rest.stream().noneMatch(m -> m.role().equals("assistant"))) {
            return incomingSystem.isEmpty() || incomingSystem.equals(system) ? rest : null;
        }
        int matched = matchedPrefix(rest);
        return incomingSystem.equals(system) && matched > 0 && matched < rest.size() ? rest.subList(matched, rest.size()) : null;
    }

    /**
     * The text to feed for the new messages: what closes the last assistant turn (the template's
     * end-of-turn marker, which generation stopped before) plus the new messages and the generation
     * prompt. Rendered from the system messages and the last exchange only, so a turn costs the same
     * however long the conversation. Null when the template does not render the conversation incrementally.
     */
    private String increment(List<ChatMessage> added) {
        int lastUser = tail.size() - 1;
        while (lastUser > 0 && !tail.get(lastUser).role().equals("user")) {
            lastUser--;
        }
        List<ChatMessage> exchange = concat(system, tail.subList(lastUser, tail.size()));
        List<ChatMessage> beforeReply = exchange.subList(0, exchange.size() - 1);
        String reply = tail.get(tail.size() - 1).content();
        String core = reply.strip();
        String prompted = template.render(beforeReply, true);
        String replied = template.render(exchange, false);
        String next = template.render(concat(exchange, added), true);
        if (!replied.startsWith(prompted) || !next.startsWith(replied)) {
            return null;
        }
        // Templates may trim the reply; the cache holds it as generated, trailing whitespace included.
        String rendered = replied.substring(prompted.length());
        int at = rendered.indexOf(core);
        if (at < 0) {
            return null;
        }
        int end = at + core.length();
        String trailing = reply.substring(reply.stripTrailing().length());
        if (rendered.startsWith(trailing, end)) {
            end += trailing.length();
        }
        return rendered.substring(end) + next.substring(replied.length());
    }

    /**
     * How many leading messages of {@code rest} are the end of what this conversation has seen:
     * the largest such count that leaves at least one new message, or 0.
     */
    private int matchedPrefix(List<ChatMessage> rest) {
        for (int s = rest.size() - 1; s >= 1; s--) {
            boolean matches = s <= tail.size()
                    ? rest.subList(0, s).equals(tail.subList(tail.size() - s, tail.size()))
                    : rest.subList(s - tail.size(), s).equals(tail);
            if (matches) {
                return s;
            }
        }
        return 0;
    }

    private int[] encodeStart(String text) {
        int bos = engine.model().tokenizer().bos();
        boolean templateAddsBos = bos >= 0 && text.startsWith(engine.model().tokenizer().piece(bos));
        return engine.model().tokenizer().encode(text, !templateAddsBos, true);
    }

    /** Keeps the system prompt's tokens next to the sinks, so eviction never cuts the chat's instructions. */
    private void pinSystemPrompt(String text, ChatMessage firstUser) {
        int userAt = text.indexOf(firstUser.content());
        if (!pinSystemPrompt || system.isEmpty() || userAt <= 0) {
            return;
        }
        int tokens = encodeStart(text.substring(0, userAt)).length;
        // keep at least half of the cache for the rolling window
        session.cache().pinFirst(Math.min(tokens, cacheConfig.capacity() / 2));
    }

    private static int[] prepend(int token, int[] tokens) {
        int[] out = new int[tokens.length + 1];
        out[0] = token;
        System.arraycopy(tokens, 0, out, 1, tokens.length);
        return out;
    }

    private static List<ChatMessage> concat(List<ChatMessage> a, List<ChatMessage> b) {
        List<ChatMessage> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
