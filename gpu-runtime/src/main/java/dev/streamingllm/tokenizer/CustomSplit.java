package dev.streamingllm.tokenizer;

import static dev.streamingllm.tokenizer.CodepointFlags.LETTER;
import static dev.streamingllm.tokenizer.CodepointFlags.NUMBER;
import static dev.streamingllm.tokenizer.CodepointFlags.WHITESPACE;
import static dev.streamingllm.tokenizer.CodepointFlags.is;

import java.util.ArrayList;
import java.util.List;

/**
 * llama.cpp's hand-written matchers for the two most common pre-tokenizer regexes
 * (unicode_regex_split_custom_gpt2 / _llama3). They test full Unicode categories, which the general regex path
 * only approximates, so the exact regex strings below are always routed here, as in llama.cpp.
 */
final class CustomSplit {

    static final String GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

    static final String LLAMA3_REGEX = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final int OUT_OF_RANGE = -1;

    private CustomSplit() {
    }

    /** {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+} */
    static List<Integer> gpt2(int[] cpts, List<Integer> offsets) {
        List<Integer> words = new ArrayList<>(offsets.size());
        int start = 0;
        for (int offset : offsets) {
            Segment s = new Segment(cpts, start, start + offset, words);
            start += offset;
            for (int pos = s.ini; pos < s.end; ) {
                int cpt = s.cpt(pos);
                int flags = s.flags(pos);

                if (cpt == '\'' && pos + 1 < s.end) {
                    int next = s.cpt(pos + 1);
                    if (next == 's' || next == 't' || next == 'm' || next == 'd') {
                        pos = s.add(pos + 2);
                        continue;
                    }
                    if (pos + 2 < s.end) {
                        int nextNext = s.cpt(pos + 2);
                        if ((next == 'r' && nextNext == 'e') || (next == 'v' && nextNext == 'e') || (next == 'l' && nextNext == 'l')) {
                            pos = s.add(pos + 3);
                            continue;
                        }
                    }
                }

                int flags2 = cpt == ' ' ? s.flags(pos + 1) : flags;
                if (is(flags2, LETTER)) { // <space>?\p{L}+
                    pos += cpt == ' ' ? 1 : 0;
                    while (is(flags2, LETTER)) {
                        flags2 = s.flags(++pos);
                    }
                    s.add(pos);
                    continue;
                }
                if (is(flags2, NUMBER)) { // <space>?\p{N}+
                    pos += cpt == ' ' ? 1 : 0;
                    while (is(flags2, NUMBER)) {
                        flags2 = s.flags(++pos);
                    }
                    s.add(pos);
                    continue;
                }
                if (!is(flags2, WHITESPACE | LETTER | NUMBER) && flags2 != 0) { // <space>?[^\s\p{L}\p{N}]+
                    pos += cpt == ' ' ? 1 : 0;
                    while (!is(flags2, WHITESPACE | LETTER | NUMBER) && flags2 != 0) {
                        flags2 = s.flags(++pos);
                    }
                    s.add(pos);
                    continue;
                }

                int whitespaces = 0;
                while (is(s.flags(pos + whitespaces), WHITESPACE)) {
                    whitespaces++;
                }
                if (whitespaces > 1 && s.cpt(pos + whitespaces) != OUT_OF_RANGE) { // \s+(?!\S)
                    pos = s.add(pos + whitespaces - 1);
                    continue;
                }
                if (whitespaces > 0) { // \s+
                    pos = s.add(pos + whitespaces);
                    continue;
                }
                pos = s.add(pos + 1); // no match
            }
        }
        return words;
    }

    /** {@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+} */
    static List<Integer> llama3(int[] cpts, List<Integer> offsets) {
        List<Integer> words = new ArrayList<>(offsets.size());
        int start = 0;
        for (int offset : offsets) {
            Segment s = new Segment(cpts, start, start + offset, words);
            start += offset;
            for (int pos = s.ini; pos < s.end; ) {
                int cpt = s.cpt(pos);
                int flags = s.flags(pos);

                if (cpt == '\'' && pos + 1 < s.end) { // case-insensitive contractions
                    int next = Character.toLowerCase(s.cpt(pos + 1));
                    if (next == 's' || next == 't' || next == 'm' || next == 'd') {
                        pos = s.add(pos + 2);
                        continue;
                    }
                    if (pos + 2 < s.end) {
                        int nextNext = Character.toLowerCase(s.cpt(pos + 2));
                        if ((next == 'r' && nextNext == 'e') || (next == 'v' && nextNext == 'e') || (next == 'l' && nextNext == 'l')) {
                            pos = s.add(pos + 3);
                            continue;
                        }
                    }
                }

                if (!(cpt == '\r' || cpt == '\n' || is(flags, NUMBER))) { // [^\r\n\p{L}\p{N}]?\p{L}+
                    if (is(flags, LETTER) || is(s.flags(pos + 1), LETTER)) {
                        pos++;
                        while (is(s.flags(pos), LETTER)) {
                            pos++;
                        }
                        s.add(pos);
                        continue;
                    }
                }

                if (is(flags, NUMBER)) { // \p{N}{1,3}
                    int ini = pos;
                    while (is(s.flags(pos), NUMBER)) {
                        if (++pos - ini >= 3) {
                            s.add(pos);
                            ini = pos;
                        }
                    }
                    s.add(pos);
                    continue;
                }

                int flags2 = cpt == ' ' ? s.flags(pos + 1) : flags;
                if (!is(flags2, WHITESPACE | LETTER | NUMBER) && flags != 0) { // <space>?[^\s\p{L}\p{N}]+[\r\n]*
                    pos += cpt == ' ' ? 1 : 0;
                    while (!is(flags2, WHITESPACE | LETTER | NUMBER) && flags2 != 0) {
                        flags2 = s.flags(++pos);
                    }
                    int cpt2 = s.cpt(pos);
                    while (cpt2 == '\r' || cpt2 == '\n') {
                        cpt2 = s.cpt(++pos);
                    }
                    s.add(pos);
                    continue;
                }

                int whitespaces = 0;
                int lastLineBreakEnd = 0;
                while (is(s.flags(pos + whitespaces), WHITESPACE)) {
                    int cpt2 = s.cpt(pos + whitespaces);
                    if (cpt2 == '\r' || cpt2 == '\n') {
                        lastLineBreakEnd = pos + whitespaces + 1;
                    }
                    whitespaces++;
                }
                if (lastLineBreakEnd > 0) { // \s*[\r\n]+
                    pos = s.add(lastLineBreakEnd);
                    continue;
                }
                if (whitespaces > 1 && s.cpt(pos + whitespaces) != OUT_OF_RANGE) { // \s+(?!\S)
                    pos = s.add(pos + whitespaces - 1);
                    continue;
                }
                if (whitespaces > 0) { // \s+
                    pos = s.add(pos + whitespaces);
                    continue;
                }
                pos = s.add(pos + 1); // no match
            }
        }
        return words;
    }

    /** One segment of the text being refined: code points [ini, end) of cpts, new word lengths go to words. */
    private static final class Segment {
        final int[] cpts;
        final int ini;
        final int end;
        final List<Integer> words;
        int prevEnd;

        Segment(int[] cpts, int ini, int end, List<Integer> words) {
            this.cpts = cpts;
            this.ini = ini;
            this.end = end;
            this.words = words;
            this.prevEnd = ini;
        }

        int cpt(int pos) {
            return pos >= ini && pos < end ? cpts[pos] : OUT_OF_RANGE;
        }

        int flags(int pos) {
            return pos >= ini && pos < end ? CodepointFlags.of(cpts[pos]) : 0;
        }

        /** Ends the current word at {@code wordEnd} (if it is not empty) and returns that position. */
        int add(int wordEnd) {
            if (wordEnd > prevEnd) {
                words.add(wordEnd - prevEnd);
            }
            prevEnd = wordEnd;
            return wordEnd;
        }
    }
}
