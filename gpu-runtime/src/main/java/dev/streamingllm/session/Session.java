package dev.streamingllm.session;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;

/**
 * One endless token stream over one sink cache: prefill any number of tokens (in chunks, evicting as
 * it goes, so a prompt longer than the whole cache is never an error), then decode one at a time.
 * Not thread-safe: callers serialize access to a session.
 */
public final class Session {

    /**
     * Tokens per forward pass during prefill: enough to amortize decoding the weights' tiles (a 128-token prompt
     * prefilled 4-6% faster in one pass than in two of 64), small enough for the cache of activations (about 35 KiB a
     * token for llama-134m).
     */
    public static final int DEFAULT_PREFILL_CHUNK = 128;

    private final Decoder decoder;
    private final SinkCache cache;
    private final int prefillChunk;
    private long prefilled;
    private long decoded;

    public Session(Decoder decoder, CacheConfig config) {
        this(decoder, config, DEFAULT_PREFILL_CHUNK);
    }

    public Session(Decoder decoder, CacheConfig config, int prefillChunk) {
        this(decoder, decoder.newCache(config), prefillChunk);
    }

    /** Continues the stream held by {@code cache}, e.g. one restored from a {@code SinkCacheSnapshot}. */
    public Session(Decoder decoder, SinkCache cache, int prefillChunk) {
        if (prefillChunk < 1) {
            throw new IllegalArgumentException("prefillChunk must be >= 1, was " + prefillChunk);
        }
        if (cache.layers() != decoder.config().layers() || cache.kvDim() != decoder.config().kvDim()) {
            throw new IllegalArgumentException("cache of " + cache.layers() + " layers x " + cache.kvDim()
                    + " does not fit the model's " + decoder.config().layers() + " x " + decoder.config().kvDim());
        }
        this.decoder = decoder;
        this.cache = cache;
        this.prefillChunk = prefillChunk;
    }

    /** Feeds {@code tokens} and returns the logits after the last one. */
    public float[] prefill(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("nothing to prefill: the token list is empty");
        }
        float[] logits = null;
        for (int i = 0; i < tokens.length; i += prefillChunk) {
            int count = Math.min(prefillChunk, tokens.length - i);
            logits = decoder.forward(cache, tokens, i, count, false);
        }
        prefilled += tokens.length;
        return logits;
    }

    /** Feeds {@code tokens} and returns the logits after every one of them ({@code tokens.length x vocab}). */
    public float[] prefillAll(int[] tokens) {
        int vocab = decoder.config().vocabularySize();
        float[] all = new float[tokens.length * vocab];
        for (int i = 0; i < tokens.length; i += prefillChunk) {
            int count = Math.min(prefillChunk, tokens.length - i);
            float[] logits = decoder.forward(cache, tokens, i, count, true);
            System.arraycopy(logits, 0, all, i * vocab, logits.length);
        }
        prefilled += tokens.length;
        return all;
    }

    /** Feeds one generated token and returns the logits after it. */
    public float[] decode(int token) {
        float[] logits = decoder.forward(cache, new int[] {token}, 0, 1, false);
        decoded++;
        return logits;
    }

    Decoder decoder() {
        return decoder;
    }

    void countPrefilled(int tokens) {
        prefilled += tokens;
    }

    void countDecoded() {
        decoded++;
    }

    public SinkCache cache() {
        return cache;
    }

    /** Tokens fed through prefill (prompts), as opposed to decoded one by one. */
    public long prefilled() {
        return prefilled;
    }

    public long decoded() {
        return decoded;
    }

    public long tokensSeen() {
        return cache.tokensSeen();
    }

    @Override
    public String toString() {
        return "Session[" + cache.config() + ", seen=" + cache.tokensSeen() + ", evicted=" + cache.evicted()
                + ", bytes=" + cache.bytes() + "]";
    }
}
