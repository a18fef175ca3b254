package dev.streamingllm.session;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.Segment;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Runs an engine's kernels and conversation path on throwaway caches before its first conversation. On the CPU, C2
 * compiles the Vector API kernels only after they have run for a while, and until then they run as Java fallbacks that
 * allocate every vector: a freshly started assistant sent its first reply's first token after 2.7-2.8 s and streamed it
 * at 4 tokens/s, and after this warm-up in 0.4 s at 66-83 tokens/s (BENCHMARKS.md, Serving).
 *
 * <p>A round passes the shapes a server's steps take, on caches of the sessions' type: a prompt chunk of
 * {@value #PROMPT} tokens (every tile kernel, a whole twelve-token block and each tail), one decoding row, decoding rows
 * of three and of four conversations (the group kernels' one-, two- and four-token passes) and a prompt chunk beside a
 * decoding row; then two conversations reply at once through the engine's scheduler with the sessions' sampling (the
 * chat template, the tokenizer, the sampler, the text decoder), {@value #REPLY_TOKENS} tokens at most, seeded so that
 * every round does the same work. Rounds repeat until two in a row take within {@value #SETTLED_PERCENT}% of each other
 * (from the {@value #MIN_ROUNDS}th on), C2 having compiled what they run, or until the time allowed is spent: the first
 * round's kernel shapes always run, and a round's replies stop where the time runs out. Nothing of a round is kept: its
 * caches and conversations are the warm-up's own.
 */
public final class Warmup {

    /** Prompt tokens in a round's chunk: ten blocks of twelve, then tails of four, two and one. */
    static final int PROMPT = 127;
    /** Decode steps of one row in a round. */
    static final int DECODE_STEPS = 8;
    /** Two rounds in a row this close in time end the warm-up. */
    static final int SETTLED_PERCENT = 10;
    /** Rounds before two in a row can end the warm-up: the first ones run while C2 is still compiling. */
    static final int MIN_ROUNDS = 4;
    /** The most tokens of a warm-up reply. */
    static final int REPLY_TOKENS = 24;

    private static final List<List<ChatMessage>> CHATS = List.of(
            List.of(ChatMessage.user("Tell me about the sea in three sentences.")),
            List.of(ChatMessage.system("You are a helpful assistant."), ChatMessage.user("What makes bread rise?")));

    /** @param settled whether the last two rounds took about the same time, rather than the time running out */
    public record Report(int rounds, Duration elapsed, Duration lastRound, boolean settled) {
    }

    private Warmup() {
    }

    /**
     * Warms {@code engine} up for about {@code limit} at most, on caches shaped like {@code cache}, its conversations
     * pinning their system prompts as {@code pinSystemPrompt} says and sampling with {@code params}.
     */
    public static Report run(Engine engine, CacheConfig cache, boolean pinSystemPrompt, SamplingParams params, Duration limit) {
        SamplingParams reply = params.toBuilder().seed(1L).maxTokens(REPLY_TOKENS).grammar(null).build();
        long start = System.nanoTime();
        long deadline = start + limit.toNanos();
        long previous = Long.MAX_VALUE;
        Decoder decoder = engine.model().decoder();
        Caches caches = new Caches(decoder, cache);
        int rounds = 0;
        while (true) {
            long roundStart = System.nanoTime();
            kernels(decoder, caches, rounds);
            conversations(engine, cache, pinSystemPrompt, reply, deadline);
            long now = System.nanoTime();
            long took = now - roundStart;
            rounds++;
            boolean settled = rounds >= MIN_ROUNDS && Math.abs(took - previous) * 100 <= (long) SETTLED_PERCENT * previous;
            if (settled || now >= deadline) {
                return new Report(rounds, Duration.ofNanos(now - start), Duration.ofNanos(took), settled);
            }
            previous = took;
        }
    }

    /**
     * The warm-up's caches, of the sessions' type, kept from round to round: they fill in the first rounds and evict
     * from then on, as a long conversation's does. New ones each round were garbage that the old generation took in: the
     * assistant then held 356-368 MiB anonymous after its warm-up and four conversations, against 312-347 with these.
     */
    private record Caches(SinkCache prompt, List<SinkCache> conversations) {

        Caches(Decoder decoder, CacheConfig cache) {
            this(decoder.newCache(CacheConfig.streaming(4, PROMPT + DECODE_STEPS + 16).withType(cache.type())),
                    List.of(conversation(decoder, cache), conversation(decoder, cache), conversation(decoder, cache), conversation(decoder, cache)));
        }

        private static SinkCache conversation(Decoder decoder, CacheConfig cache) {
            return decoder.newCache(CacheConfig.streaming(4, 60).withType(cache.type()));
        }
    }

    /** The kernels' shapes, straight through the decoder. */
    private static void kernels(Decoder decoder, Caches caches, int round) {
        int vocab = decoder.config().vocabularySize();
        SinkCache prompt = caches.prompt();
        decoder.forward(List.of(new Segment(prompt, tokens(PROMPT, round, vocab), 0, PROMPT, false)));
        for (int i = 0; i < DECODE_STEPS; i++) {
            decoder.forward(List.of(new Segment(prompt, tokens(1, round + i, vocab), 0, 1, false)));
        }
        List<SinkCache> conversations = caches.conversations();
        for (SinkCache conversation : conversations) {
            decoder.forward(List.of(new Segment(conversation, tokens(8, round, vocab), 0, 8, false)));
        }
        for (int rows : new int[] {3, 4}) {
            List<Segment> step = new ArrayList<>();
            for (int c = 0; c < rows; c++) {
                step.add(new Segment(conversations.get(c), tokens(1, round + c, vocab), 0, 1, false));
            }
            decoder.forward(step);
        }
        decoder.forward(List.of(new Segment(conversations.get(0), tokens(1, round, vocab), 0, 1, false),
                new Segment(conversations.get(1), tokens(20, round, vocab), 0, 20, false)));
    }

    /** Two conversations replying at once, each on a session of its own, cancelled at {@code deadline}. */
    private static void conversations(Engine engine, CacheConfig cache, boolean pinSystemPrompt, SamplingParams params, long deadline) {
        List<CompletableFuture<?>> replies = new ArrayList<>();
        for (List<ChatMessage> chat : CHATS) {
            Conversation conversation = new Conversation(engine, cache, pinSystemPrompt);
            replies.add(CompletableFuture.runAsync(() -> conversation.reply(chat, params, text -> { }, () -> System.nanoTime() > deadline),
                    runnable -> Thread.ofPlatform().name("streamingllm-warmup").daemon().start(runnable)));
        }
        Generator.join(CompletableFuture.allOf(replies.toArray(CompletableFuture[]::new)));
    }

    /** {@code count} token ids spread over the vocabulary, different from round to round. */
    private static int[] tokens(int count, int seed, int vocab) {
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = (int) ((seed * 7919L + i * 104_729L) % vocab);
        }
        return tokens;
    }
}
