package dev.streamingllm.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * A piece of input after special tokens are cut out of it: either raw text for the tokenizer model or one special
 * token taken as is.
 */
sealed interface Fragment {

    record Text(String text) implements Fragment {
    }

    record Token(int id) implements Fragment {
    }

    /**
     * Cuts every occurrence of a special token out of {@code text}, as llama.cpp's tokenizer_st_partition does: one
     * token at a time, longest first, each splitting all the text fragments left by the ones before. User-defined
     * tokens are always cut out (as Hugging Face's added tokens are); CONTROL and UNKNOWN ones only when
     * {@code parseSpecial}.
     */
    static List<Fragment> partition(String text, Vocabulary vocab, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (!text.isEmpty()) {
            fragments.add(new Text(text));
        }
        for (int id : vocab.specialTokens) {
            if (!parseSpecial && vocab.has(id, TokenAttributes.CONTROL | TokenAttributes.UNKNOWN)) {
                continue;
            }
            String special = vocab.tokens[id];
            boolean rstrip = vocab.has(id, TokenAttributes.RSTRIP);
            List<Fragment> cut = new ArrayList<>(fragments.size());
            for (Fragment fragment : fragments) {
                if (!(fragment instanceof Text(String raw)) || !raw.contains(special)) {
                    cut.add(fragment);
                    continue;
                }
                int from = 0;
                for (int match = raw.indexOf(special); match >= 0; match = raw.indexOf(special, from)) {
                    if (match > from) {
                        cut.add(new Text(raw.substring(from, match)));
                    }
                    cut.add(new Token(id));
                    from = match + special.length();
                    while (rstrip && from < raw.length() && isSpace(raw.charAt(from))) {
                        from++;
                    }
                }
                if (from < raw.length()) {
                    cut.add(new Text(raw.substring(from)));
                }
            }
            fragments = cut;
        }
        return fragments;
    }

    /** C's isspace, which llama.cpp uses for the strip. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }
}
