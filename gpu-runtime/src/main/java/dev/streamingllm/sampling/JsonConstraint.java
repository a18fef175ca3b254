package dev.streamingllm.sampling;

import dev.streamingllm.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * One generation's progress through a {@link JsonGrammar}: masks the logits of every token whose bytes cannot
 * continue the document, and advances over the tokens chosen. It depends only on the tokens generated so far, not
 * on the cache, so eviction does not touch it.
 *
 * <p>Within {@code maxTokens}: a token is allowed only if the document can still be finished in the tokens left after
 * it (one per byte of the shortest ending, {@link JsonAutomaton#closingBytes}), so a model that runs on is steered to
 * close its strings and arrays in time instead of being cut off. Should no token satisfy that (a budget too small for
 * the schema from the start), the mask falls back to validity alone.
 */
final class JsonConstraint {

    private final JsonAutomaton automaton;
    private final JsonVocabulary vocabulary;
    private final TokenTrie.Scratch allScratch;
    private final TokenTrie.Scratch notPlainScratch;
    private final int[] stack = JsonAutomaton.newStack();
    private int top;
    private final long[] allowed;
    private final int maxTokens;
    private int generated;

    JsonConstraint(JsonGrammar grammar, Tokenizer tokenizer, int maxTokens) {
        this.automaton = new JsonAutomaton(grammar);
        this.vocabulary = JsonVocabulary.of(tokenizer);
        this.allScratch = vocabulary.all.newScratch();
        this.notPlainScratch = vocabulary.notPlain.newScratch();
        this.top = automaton.start(stack);
        this.allowed = new long[vocabulary.plainBits.length];
        this.maxTokens = maxTokens;
    }

    /** Sets to -infinity the logit of every token that cannot come next. */
    void mask(float[] logits) {
        if (!allow(maxTokens - generated - 1)) {
            allow(Integer.MAX_VALUE);
        }
        for (int id = 0; id < logits.length; id++) {
            if (id >= vocabulary.size || (allowed[id >>> 6] & 1L << id) == 0) {
                logits[id] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** Fills {@link #allowed} with the tokens that may come next and leave an ending of at most {@code budget} bytes. */
    private boolean allow(int budget) {
        int room = automaton.roomInString(stack, top);
        if (room < 0) {
            Arrays.fill(allowed, 0L);
            vocabulary.all.walk(automaton, stack, top, budget, allowed, allScratch);
        } else if (automaton.closingBytes(stack, top) > budget) {
            // plain text leaves the ending as long as it is: only the others may do
            Arrays.fill(allowed, 0L);
            vocabulary.notPlain.walk(automaton, stack, top, budget, allowed, notPlainScratch);
        } else {
            if (room >= vocabulary.longestPlain) {
                System.arraycopy(vocabulary.plainBits, 0, allowed, 0, allowed.length);
            } else {
                Arrays.fill(allowed, 0L);
                for (int i = 0; i < vocabulary.plain.length && vocabulary.plainLength[i] <= room; i++) {
                    int id = vocabulary.plain[i];
                    allowed[id >>> 6] |= 1L << id;
                }
            }
            vocabulary.notPlain.walk(automaton, stack, top, budget, allowed, notPlainScratch);
        }
        if (automaton.canEnd(stack, top)) {
            for (int id : vocabulary.endOfGeneration) {
                allowed[id >>> 6] |= 1L << id;
            }
        }
        for (long word : allowed) {
            if (word != 0) {
                return true;
            }
        }
        if (budget == Integer.MAX_VALUE) {
            throw new IllegalStateException("no token of the vocabulary can continue the JSON document");
        }
        return false;
    }

    /** Moves past {@code token}, which {@link #mask} allowed. */
    void advance(int token) {
        generated++;
        for (byte b : vocabulary.bytes[token]) {
            top = automaton.step(stack, top, b & 0xFF);
            if (top < 0) {
                throw new IllegalStateException("token " + token + " does not continue the JSON document");
            }
        }
    }

    /** Whether the document is whole. */
    boolean complete() {
        return JsonAutomaton.complete(top);
    }
}
