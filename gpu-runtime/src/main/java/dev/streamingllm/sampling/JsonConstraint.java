package dev.streamingllm.sampling;

import dev.streamingllm.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * One generation's progress through a {@link JsonGrammar}: masks the logits of every token whose bytes cannot
 * continue the document, and advances over the tokens chosen. It depends only on the tokens generated so far, not
 * on the cache, so eviction does not touch it.
 */
final class JsonConstraint {

    private final JsonAutomaton automaton;
    private final JsonVocabulary vocabulary;
    private final TokenTrie.Scratch allScratch;
    private final TokenTrie.Scratch notPlainScratch;
    private final int[] stack = JsonAutomaton.newStack();
    private int top;
    private final long[] allowed;

    JsonConstraint(JsonGrammar grammar, Tokenizer tokenizer) {
        this.automaton = new JsonAutomaton(grammar);
        this.vocabulary = JsonVocabulary.of(tokenizer);
        this.allScratch = vocabulary.all.newScratch();
        this.notPlainScratch = vocabulary.notPlain.newScratch();
        this.top = automaton.start(stack);
        this.allowed = new long[vocabulary.plainBits.length];
    }

    /** Sets to -infinity the logit of every token that cannot come next. */
    void mask(float[] logits) {
        int room = automaton.roomInString(stack, top);
        if (room < 0) {
            Arrays.fill(allowed, 0L);
            vocabulary.all.walk(automaton, stack, top, allowed, allScratch);
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
            vocabulary.notPlain.walk(automaton, stack, top, allowed, notPlainScratch);
        }
        if (automaton.canEnd(stack, top)) {
            for (int id : vocabulary.endOfGeneration) {
                allowed[id >>> 6] |= 1L << id;
            }
        }
        boolean any = false;
        for (int id = 0; id < logits.length; id++) {
            if (id >= vocabulary.size || (allowed[id >>> 6] & 1L << id) == 0) {
                logits[id] = Float.NEGATIVE_INFINITY;
            } else {
                any = true;
            }
        }
        if (!any) {
            throw new IllegalStateException("no token of the vocabulary can continue the JSON document");
        }
    }

    /** Moves past {@code token}, which {@link #mask} allowed. */
    void advance(int token) {
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
