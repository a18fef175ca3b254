package dev.streamingllm.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A pre-tokenizer regex without a hand-written matcher, run the way llama.cpp runs it (unicode_regex_split with
 * std::regex): within each current word, every match and every gap between matches becomes a word.
 *
 * <p>llama.cpp's std::regex knows no Unicode categories, so when a regex uses {@code \p{N} \p{L} \p{P} \p{M}
 * \p{S}} it "collapses" the text: ASCII stays, every other code point becomes one stand-in character for its
 * category (U+00D1..U+00D5, U+00D0 for the rest, U+000B for whitespace), and each {@code \p{X}} becomes a class
 * of its stand-in plus the ASCII members. Doing the same here keeps llama.cpp's exact behaviour, quirks
 * included (ASCII {@code ~} is not a symbol there). Regexes without categories run on the code points, with
 * non-ASCII whitespace folded to U+000B because std::regex's {@code \s} is ASCII only, as Java's is.
 */
final class RegexSplit {

    private static final Map<String, String> COLLAPSED_CLASSES = Map.of(
            "\\p{N}", "\u00D1" + "0-9",
            "\\p{L}", "\u00D2" + "A-Za-z",
            "\\p{P}", "\u00D3" + "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}",
            "\\p{M}", "\u00D4",
            "\\p{S}", "\u00D5" + "\\$\\+<->^`\\|");

    private final Pattern pattern;
    private final boolean collapsed;

    private RegexSplit(Pattern pattern, boolean collapsed) {
        this.pattern = pattern;
        this.collapsed = collapsed;
    }

    static RegexSplit compile(String regex) {
        boolean collapsed = COLLAPSED_CLASSES.keySet().stream().anyMatch(regex::contains);
        return new RegexSplit(Pattern.compile(collapsed ? collapse(regex) : regex), collapsed);
    }

    /** Refines words given as lengths in code points of {@code cpts}. */
    List<Integer> split(int[] cpts, List<Integer> offsets) {
        String subject = collapsed ? collapsedText(cpts) : foldedText(cpts);
        // char index -> code point index (the subject may hold surrogate pairs)
        int[] charStart = new int[cpts.length + 1];
        for (int i = 0; i < cpts.length; i++) {
            charStart[i + 1] = charStart[i] + (collapsed ? 1 : Character.charCount(cpts[i]));
        }
        List<Integer> words = new ArrayList<>(offsets.size());
        Matcher matcher = pattern.matcher(subject);
        int start = 0;
        for (int offset : offsets) {
            int end = start + offset;
            // region bounds are opaque to lookarounds and anchor $, like std::regex_iterator over [start, end)
            matcher.region(charStart[start], charStart[end]);
            int previous = start;
            while (matcher.find()) {
                int matchStart = codePointIndex(charStart, matcher.start());
                int matchEnd = codePointIndex(charStart, matcher.end());
                if (matchStart > previous) {
                    words.add(matchStart - previous);
                }
                words.add(matchEnd - matchStart);
                previous = matchEnd;
            }
            if (previous < end) {
                words.add(end - previous);
            }
            start = end;
        }
        return words;
    }

    private static int codePointIndex(int[] charStart, int charIndex) {
        int i = Arrays.binarySearch(charStart, charIndex);
        return i >= 0 ? i : -i - 1;
    }

    /** Rewrites each category class to its collapsed form; llama.cpp's loop, including its bracket tracking. */
    private static String collapse(String regex) {
        StringBuilder out = new StringBuilder();
        boolean inside = false;
        for (int i = 0; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '[' && (i == 0 || regex.charAt(i - 1) != '\\')) {
                out.append('[');
                inside = true;
                continue;
            }
            if (inside && c == ']' && regex.charAt(i - 1) != '\\') {
                out.append(']');
                inside = false;
                continue;
            }
            if (c == '\\' && i + 3 < regex.length() && regex.charAt(i + 1) == 'p' && regex.charAt(i + 2) == '{') {
                int close = regex.indexOf('}', i + 3);
                String members = close < 0 ? null : COLLAPSED_CLASSES.get(regex.substring(i, close + 1));
                if (members != null) {
                    out.append(inside ? members : "[" + members + "]");
                    i = close;
                    continue;
                }
            }
            out.append(c);
        }
        return out.toString();
    }

    private static String collapsedText(int[] cpts) {
        char[] chars = new char[cpts.length];
        for (int i = 0; i < cpts.length; i++) {
            chars[i] = cpts[i] < 128 ? (char) cpts[i] : standIn(CodepointFlags.of(cpts[i]));
        }
        return new String(chars);
    }

    private static char standIn(int flags) {
        if (CodepointFlags.is(flags, CodepointFlags.WHITESPACE)) {
            return '\u000B';
        }
        return switch (flags & CodepointFlags.CATEGORIES) {
            case CodepointFlags.NUMBER -> '\u00D1';
            case CodepointFlags.LETTER -> '\u00D2';
            case CodepointFlags.PUNCTUATION -> '\u00D3';
            case CodepointFlags.ACCENT_MARK -> '\u00D4';
            case CodepointFlags.SYMBOL -> '\u00D5';
            default -> '\u00D0';
        };
    }

    private static String foldedText(int[] cpts) {
        int[] folded = cpts.clone();
        for (int i = 0; i < folded.length; i++) {
            if (folded[i] > 0x7F && CodepointFlags.is(CodepointFlags.of(folded[i]), CodepointFlags.WHITESPACE)) {
                folded[i] = 0x0B;
            }
        }
        return new String(folded, 0, folded.length);
    }
}
