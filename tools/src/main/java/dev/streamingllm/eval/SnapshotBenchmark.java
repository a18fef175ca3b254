package dev.streamingllm.eval;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.ConversationSnapshot;
import dev.streamingllm.session.Engine;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * What it costs to carry one conversation to another process (session routing's takeover): the snapshot's
 * bytes and the time to save and restore it, with the cache full.
 */
public final class SnapshotBenchmark {

    public record Result(int tokensHeld, long cacheBytes, int snapshotBytes, double saveMs, double restoreMs) {
    }

    private SnapshotBenchmark() {
    }

    /** Fills a conversation's cache of geometry {@code cache}, then saves and restores it; medians of {@code repetitions}. */
    public static Result measure(Model model, CacheConfig cache, int repetitions) {
        try (Engine engine = new Engine(model)) {
            return measure(engine, cache, repetitions);
        }
    }

    private static Result measure(Engine engine, CacheConfig cache, int repetitions) {
        Model model = engine.model();
        Conversation conversation = new Conversation(engine, cache, false);
        SplittableRandom random = new SplittableRandom(1234);
        int[] tokens = random.ints(cache.capacity(), 3, model.config().vocabularySize()).toArray();
        conversation.session().prefill(tokens);
        long[] save = new long[repetitions];
        long[] restore = new long[repetitions];
        byte[] snapshot = null;
        for (int r = -1; r < repetitions; r++) { // round -1 warms the JIT up
            long start = System.nanoTime();
            snapshot = ConversationSnapshot.write(conversation);
            long saved = System.nanoTime();
            ConversationSnapshot.read(snapshot, engine, model.chatTemplate());
            long restored = System.nanoTime();
            if (r >= 0) {
                save[r] = saved - start;
                restore[r] = restored - saved;
            }
        }
        return new Result(conversation.session().cache().size(), conversation.session().cache().bytes(), snapshot.length,
                medianMs(save), medianMs(restore));
    }

    private static double medianMs(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2] / 1e6;
    }
}
