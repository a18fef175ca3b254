package dev.streamingllm.eval;

import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.session.Session;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * A text read over and over through one session, far past its own length: perplexity and resident memory per
 * block of tokens. Flat blocks are the claim of a fixed-size cache; a growing cache, or a model that loses its
 * footing once the first tokens are gone, shows as a trend.
 */
public final class LongStream {

    /** One block: the tokens streamed so far, the block's perplexity, and the process's resident memory at its end. */
    public record Block(long tokens, double perplexity, long residentBytes) {
    }

    private final Transformer transformer;

    public LongStream(Transformer transformer) {
        this.transformer = transformer;
    }

    /**
     * Streams {@code total} tokens of {@code text}, repeated from its start as often as needed, through one session
     * of {@code config}, scoring every prediction; reports each block of {@code block} tokens as it ends.
     */
    public List<Block> run(CacheConfig config, int[] text, long total, int block, Consumer<Block> progress) {
        Session session = new Session(transformer, config);
        int vocab = transformer.config().vocabularySize();
        int chunk = Session.DEFAULT_PREFILL_CHUNK;
        int[] piece = new int[chunk];
        List<Block> blocks = new ArrayList<>();
        double blockNll = 0;
        int inBlock = 0;
        long fed = 0;
        int next = text[0];
        // each step feeds `chunk` tokens and scores the token after each of them
        while (fed < total) {
            int count = (int) Math.min(chunk, total - fed);
            for (int i = 0; i < count; i++) {
                piece[i] = next;
                next = text[(int) ((fed + i + 1) % text.length)];
            }
            float[] logits = session.prefillAll(Arrays.copyOf(piece, count));
            for (int i = 0; i < count; i++) {
                int target = i + 1 < count ? piece[i + 1] : next;
                blockNll += Perplexity.negativeLogLikelihood(logits, i * vocab, vocab, target);
                inBlock++;
                if (inBlock == block || fed + i + 1 == total) {
                    Block result = new Block(fed + i + 1, Math.exp(blockNll / inBlock), Benchmarks.residentBytes());
                    blocks.add(result);
                    progress.accept(result);
                    blockNll = 0;
                    inBlock = 0;
                }
            }
            fed += count;
        }
        return blocks;
    }
}
