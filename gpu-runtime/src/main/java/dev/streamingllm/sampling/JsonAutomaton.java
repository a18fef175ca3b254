package dev.streamingllm.sampling;

import java.util.Arrays;

/**
 * A pushdown automaton over the bytes of a JSON document of a {@link JsonGrammar}. Its state is a stack of frames,
 * {@value #FRAME} ints each, in an {@code int[]} owned by the caller, so that a state is copied by copying a few ints
 * (the token trie's walk copies one per byte). Each frame is one value being read:
 * {@code [node, phase, a, b]}, where phase {@value #START} means "before the value's first byte" and {@code b} then
 * counts the whitespace before it; what {@code a} and {@code b} hold later depends on the node's shape.
 *
 * <p>{@link #step} consumes one byte and answers the new stack height, or -1 when the byte cannot continue a valid
 * document. A number (or a constant that is a prefix of another) ends only when a byte that cannot continue it
 * arrives: its frame is then popped and the byte goes to the parent.
 */
final class JsonAutomaton {

    static final int FRAME = 4;
    /** Nesting deeper than this is refused (values inside values, counting the root). */
    static final int MAX_DEPTH = 32;
    /**
     * Whitespace allowed between two tokens of JSON: at most this many spaces, tabs and line feeds, of which at most
     * one line feed (room for pretty printing); small models otherwise loop on blank lines.
     */
    static final int MAX_WHITESPACE = 12;
    private static final int LINE_FEED = 1 << 16;
    /** Characters of an integer (sign included) and of any other number. */
    static final int MAX_INTEGER = 19;
    static final int MAX_NUMBER = 24;

    static final int START = 0;

    // objects: a = the first property not yet passed (fixed) ; b = whitespace in the current gap
    private static final int OPEN = 1;
    private static final int KEY = 2;
    private static final int COLON = 3;
    private static final int VALUE = 4;
    private static final int AFTER_VALUE = 5;
    private static final int AFTER_COMMA = 6;
    // arrays: a = items begun; b = whitespace
    private static final int ITEM = 7;
    private static final int AFTER_ITEM = 8;
    // strings: a = characters; b = continuation bytes of a UTF-8 character still due, or hex digits of a \\u escape
    private static final int IN = 1;
    private static final int ESCAPE = 2;
    private static final int HEX = 3;
    // numbers: a = characters
    private static final int MINUS = 1;
    private static final int ZERO = 2;
    private static final int INTEGER = 3;
    private static final int DOT = 4;
    private static final int FRACTION = 5;
    private static final int EXPONENT_MARK = 6;
    private static final int EXPONENT_SIGN = 7;
    private static final int EXPONENT = 8;
    // constants: phase = 1 + bytes matched; a..b = the texts still matching

    /** More bytes than any budget: a value that cannot be finished (a required recursion) or is not known. */
    static final int UNREACHABLE = 1 << 24;

    private final JsonGrammar grammar;
    /** The fewest bytes of a value of each node. */
    private final int[] minimum;
    /** Per object node, per property i: the fewest bytes of the required properties from i on, each with its comma. */
    private final int[][] tail;
    /** Per object node, per first candidate i: the fewest bytes of a key and what must follow it, over the candidates. */
    private final int[][] withKey;

    JsonAutomaton(JsonGrammar grammar) {
        this.grammar = grammar;
        int n = grammar.size();
        minimum = new int[n];
        Arrays.fill(minimum, UNREACHABLE);
        // a fixed point: recursive nodes settle once what they refer to has
        for (boolean changed = true; changed; ) {
            changed = false;
            for (int node = 0; node < n; node++) {
                int m = Math.min(UNREACHABLE, fewestBytes(grammar.node(node)));
                if (m < minimum[node]) {
                    minimum[node] = m;
                    changed = true;
                }
            }
        }
        tail = new int[n][];
        withKey = new int[n][];
        for (int node = 0; node < n; node++) {
            if (grammar.node(node) instanceof JsonShape.Fixed o) {
                int size = o.properties().size();
                tail[node] = new int[size + 1];
                for (int i = size - 1; i >= 0; i--) {
                    JsonShape.Property p = o.properties().get(i);
                    tail[node][i] = cap(tail[node][i + 1] + (p.required() ? 2 + keyBytes(o, i) + minimum[p.value()] : 0));
                }
                withKey[node] = new int[size];
                for (int i = 0; i < size; i++) {
                    int last = o.nextRequired()[i] < 0 ? size - 1 : o.nextRequired()[i];
                    withKey[node][i] = UNREACHABLE;
                    for (int j = i; j <= last; j++) {
                        int after = cap(1L + minimum[o.properties().get(j).value()] + tail[node][j + 1]);
                        withKey[node][i] = Math.min(withKey[node][i], cap(keyBytes(o, j) + (long) after));
                    }
                }
            }
        }
    }

    private int fewestBytes(JsonShape shape) {
        return switch (shape) {
            case JsonShape.Fixed o -> {
                long bytes = 2;
                int required = 0;
                for (int i = 0; i < o.properties().size(); i++) {
                    JsonShape.Property p = o.properties().get(i);
                    if (p.required()) {
                        bytes += keyBytes(o, i) + 1 + (long) minimum[p.value()] + (required++ > 0 ? 1 : 0);
                    }
                }
                yield (int) Math.min(bytes, UNREACHABLE);
            }
            case JsonShape.Free o -> 2;
            case JsonShape.Array a -> a.minItems() == 0 ? 2 : (int) Math.min(UNREACHABLE, 1 + (long) a.minItems() * (1 + minimum[a.items()]));
            case JsonShape.Text t -> 2 + t.minLength();
            case JsonShape.Number n -> 1;
            case JsonShape.Literals l -> Arrays.stream(l.texts()).mapToInt(t -> t.length).min().orElse(UNREACHABLE);
            case JsonShape.Union u -> Arrays.stream(u.byFirstByte()).filter(b -> b >= 0).map(b -> minimum[b]).min().orElse(UNREACHABLE);
        };
    }

    /** The bytes of property {@code i}'s key with its quotes, as its key node holds it. */
    private int keyBytes(JsonShape.Fixed o, int i) {
        JsonShape.Literals keys = (JsonShape.Literals) grammar.node(o.keysFrom()[i]);
        for (int k = 0; k < keys.ids().length; k++) {
            if (keys.ids()[k] == i) {
                return keys.texts()[k].length;
            }
        }
        throw new IllegalStateException("property " + i + " is missing from its own keys");
    }

    private static int cap(long bytes) {
        return (int) Math.min(bytes, UNREACHABLE);
    }

    /**
     * The fewest bytes that finish the document from the state {@code f} of height {@code top}: each open value's
     * shortest ending, and the required properties and items still due. Every byte of such an ending is ASCII, which
     * every byte-level vocabulary has as a token of its own, so it is also a number of tokens that suffices.
     */
    int closingBytes(int[] f, int top) {
        long bytes = 0;
        for (int level = 0; level < top; level++) {
            int at = level * FRAME;
            if (f[at + 1] == KEY && grammar.node(f[at]) instanceof JsonShape.Fixed o && level + 1 < top) {
                // the key being read decides which value follows: the two together, over the keys still possible
                return cap(bytes + afterKeyBeingRead(f, at, o));
            }
            bytes += rest(f, at);
        }
        return cap(bytes);
    }

    private long afterKeyBeingRead(int[] f, int at, JsonShape.Fixed o) {
        int key = at + FRAME;
        JsonShape.Literals keys = (JsonShape.Literals) grammar.node(f[key]);
        int phase = f[key + 1];
        int lo = phase == START ? 0 : f[key + 2];
        int hi = phase == START ? keys.texts().length - 1 : f[key + 3];
        int matched = phase == START ? 0 : phase - 1;
        long fewest = UNREACHABLE;
        for (int k = lo; k <= hi; k++) {
            int property = keys.ids()[k];
            fewest = Math.min(fewest, keys.texts()[k].length - matched + 2L
                    + minimum[o.properties().get(property).value()] + tail[f[at]][property + 1]);
        }
        return fewest;
    }

    private int rest(int[] f, int at) {
        int node = f[at];
        int phase = f[at + 1];
        int a = f[at + 2];
        int b = f[at + 3];
        if (phase == START) {
            return minimum[node];
        }
        return switch (grammar.node(node)) {
            case JsonShape.Fixed o -> switch (phase) {
                case OPEN -> Math.max(1, tail[node][a]);
                case COLON -> cap(2L + minimum[o.properties().get(a).value()] + tail[node][a + 1]);
                case AFTER_COMMA -> cap(withKey[node][a] + 1L);
                default -> cap(tail[node][a] + 1L);
            };
            case JsonShape.Free o -> switch (phase) {
                case OPEN, VALUE, AFTER_VALUE -> 1;
                case AFTER_COMMA -> cap(5L + minimum[o.value()]);
                default -> cap(2L + minimum[o.value()]);
            };
            case JsonShape.Array r -> phase == OPEN
                    ? (r.minItems() == 0 ? 1 : cap((long) r.minItems() * (1 + minimum[r.items()])))
                    : cap(Math.max(0, r.minItems() - a) * (1L + minimum[r.items()]) + 1);
            case JsonShape.Text t -> switch (phase) {
                case IN -> b + Math.max(0, t.minLength() - a) + 1;
                case ESCAPE -> 2 + Math.max(0, t.minLength() - a - 1);
                default -> b + Math.max(0, t.minLength() - a - 1) + 1;
            };
            case JsonShape.Number n -> phase == MINUS || phase == DOT || phase == EXPONENT_MARK || phase == EXPONENT_SIGN ? 1 : 0;
            case JsonShape.Literals l -> {
                int fewest = UNREACHABLE;
                for (int i = a; i <= b; i++) {
                    fewest = Math.min(fewest, l.texts()[i].length - (phase - 1));
                }
                yield fewest;
            }
            case JsonShape.Union u -> minimum[node];
        };
    }

    /** A stack big enough for any state. */
    static int[] newStack() {
        return new int[MAX_DEPTH * FRAME];
    }

    /** Puts the document's start into {@code f}; answers the height. */
    int start(int[] f) {
        push(f, 0, grammar.root());
        return 1;
    }

    /** Whether the document is whole: the root value has ended. */
    static boolean complete(int top) {
        return top == 0;
    }

    /** Whether the document may end here: it is whole, or the root is a number or constant that is whole. */
    boolean canEnd(int[] f, int top) {
        if (top != 1) {
            return top == 0;
        }
        int phase = f[1];
        return switch (grammar.node(f[0])) {
            case JsonShape.Number n -> phase == ZERO || phase == INTEGER || phase == FRACTION || phase == EXPONENT;
            case JsonShape.Literals l -> phase > START && l.texts()[f[2]].length == phase - 1;
            default -> false;
        };
    }

    /**
     * How many more characters the string being read at the top of the stack may take, when the next byte starts a
     * character of it (not inside an escape or a multi-byte character); else -1.
     */
    int roomInString(int[] f, int top) {
        int at = (top - 1) * FRAME;
        if (top == 0 || f[at + 1] != IN || f[at + 3] != 0 || !(grammar.node(f[at]) instanceof JsonShape.Text t)) {
            return -1;
        }
        return t.maxLength() - f[at + 2];
    }

    /** Consumes byte {@code b} (0-255) on the stack {@code f} of height {@code top}; answers the new height, or -1. */
    int step(int[] f, int top, int b) {
        while (top > 0) {
            int at = (top - 1) * FRAME;
            JsonShape shape = grammar.node(f[at]);
            int phase = f[at + 1];
            if (phase == START) {
                if (isWhitespace(b)) {
                    return whitespace(f, at, top, b);
                }
                if (shape instanceof JsonShape.Union u) {
                    int branch = u.byFirstByte()[b];
                    if (branch < 0) {
                        return -1;
                    }
                    f[at] = branch;
                    continue;
                }
            }
            int result = switch (shape) {
                case JsonShape.Fixed o -> fixed(f, top, at, o, phase, b);
                case JsonShape.Free o -> free(f, top, at, o, phase, b);
                case JsonShape.Array a -> array(f, top, at, a, phase, b);
                case JsonShape.Text t -> text(f, top, at, t, phase, b);
                case JsonShape.Number n -> number(f, top, at, n, phase, b);
                case JsonShape.Literals l -> literal(f, top, at, l, phase, b);
                case JsonShape.Union u -> -1;
            };
            if (result != ENDED) {
                return result;
            }
            // the value ended before b: the parent reads b
            top--;
            if (top > 0) {
                childEnded(f, top, f[at + 2]);
            }
        }
        return -1;
    }

    /** Answered by a value that ended just before the byte it was given. */
    private static final int ENDED = -2;

    private int fixed(int[] f, int top, int at, JsonShape.Fixed o, int phase, int b) {
        int next = f[at + 2];
        return switch (phase) {
            case START -> b == '{' ? set(f, at, OPEN, 0, top) : -1;
            case OPEN, AFTER_VALUE -> {
                if (isWhitespace(b)) {
                    yield whitespace(f, at, top, b);
                }
                if (b == '}') {
                    yield o.nextRequired()[next] < 0 ? pop(f, top) : -1;
                }
                if (phase == OPEN && b == '"' && next < o.properties().size()) {
                    yield key(f, top, at, o, next, b);
                }
                yield phase == AFTER_VALUE && b == ',' && next < o.properties().size() ? set(f, at, AFTER_COMMA, next, top) : -1;
            }
            case AFTER_COMMA -> isWhitespace(b) ? whitespace(f, at, top, b) : b == '"' ? key(f, top, at, o, next, b) : -1;
            case COLON -> {
                if (isWhitespace(b)) {
                    yield whitespace(f, at, top, b);
                }
                if (b != ':') {
                    yield -1;
                }
                int property = f[at + 2];
                set(f, at, VALUE, property + 1, top);
                yield push(f, top, o.properties().get(property).value());
            }
            default -> -1;
        };
    }

    private int key(int[] f, int top, int at, JsonShape.Fixed o, int next, int b) {
        f[at + 1] = KEY;
        return step(f, push(f, top, o.keysFrom()[next]), b);
    }

    private int free(int[] f, int top, int at, JsonShape.Free o, int phase, int b) {
        return switch (phase) {
            case START -> b == '{' ? set(f, at, OPEN, 0, top) : -1;
            case OPEN, AFTER_VALUE, AFTER_COMMA -> {
                if (isWhitespace(b)) {
                    yield whitespace(f, at, top, b);
                }
                if (b == '}' && phase != AFTER_COMMA) {
                    yield pop(f, top);
                }
                if (b == '"' && phase != AFTER_VALUE) {
                    f[at + 1] = KEY;
                    yield step(f, push(f, top, o.key()), b);
                }
                yield phase == AFTER_VALUE && b == ',' ? set(f, at, AFTER_COMMA, 0, top) : -1;
            }
            case COLON -> {
                if (isWhitespace(b)) {
                    yield whitespace(f, at, top, b);
                }
                if (b != ':') {
                    yield -1;
                }
                set(f, at, VALUE, 0, top);
                yield push(f, top, o.value());
            }
            default -> -1;
        };
    }

    private int array(int[] f, int top, int at, JsonShape.Array a, int phase, int b) {
        int items = f[at + 2];
        return switch (phase) {
            case START -> b == '[' ? set(f, at, OPEN, 0, top) : -1;
            case OPEN, AFTER_ITEM -> {
                if (isWhitespace(b)) {
                    yield whitespace(f, at, top, b);
                }
                if (b == ']') {
                    yield items >= a.minItems() ? pop(f, top) : -1;
                }
                if (phase == AFTER_ITEM) {
                    yield b == ',' && items < a.maxItems() ? push(f, set(f, at, ITEM, items + 1, top), a.items()) : -1;
                }
                if (a.maxItems() == 0) {
                    yield -1;
                }
                set(f, at, ITEM, 1, top);
                yield step(f, push(f, top, a.items()), b);
            }
            default -> -1;
        };
    }

    private static int text(int[] f, int top, int at, JsonShape.Text t, int phase, int b) {
        int length = f[at + 2];
        switch (phase) {
            case START:
                return b == '"' ? set(f, at, IN, 0, top) : -1;
            case IN:
                if (f[at + 3] > 0) {
                    // inside a multi-byte UTF-8 character
                    if (b < 0x80 || b > 0xBF) {
                        return -1;
                    }
                    f[at + 3]--;
                    return top;
                }
                if (b == '"') {
                    return length >= t.minLength() ? pop(f, top) : -1;
                }
                if (b < 0x20 || length >= t.maxLength()) {
                    return -1;
                }
                if (b == '\\') {
                    f[at + 1] = ESCAPE;
                    return top;
                }
                int continuation = continuationBytes(b);
                if (continuation < 0) {
                    return -1;
                }
                f[at + 2] = length + 1;
                f[at + 3] = continuation;
                return top;
            case ESCAPE:
                if (b == 'u') {
                    f[at + 1] = HEX;
                    f[at + 3] = 4;
                    return top;
                }
                if ("\"\\/bfnrt".indexOf(b) < 0) {
                    return -1;
                }
                return set(f, at, IN, length + 1, top);
            case HEX:
                if (Character.digit(b, 16) < 0) {
                    return -1;
                }
                if (--f[at + 3] == 0) {
                    set(f, at, IN, length + 1, top);
                }
                return top;
            default:
                return -1;
        }
    }

    private static int number(int[] f, int top, int at, JsonShape.Number n, int phase, int b) {
        int length = f[at + 2];
        boolean digit = b >= '0' && b <= '9' && length < (n.integer() ? MAX_INTEGER : MAX_NUMBER);
        boolean fraction = !n.integer() && length < MAX_NUMBER;
        int next = switch (phase) {
            case START -> b == '-' ? MINUS : b == '0' ? ZERO : digit ? INTEGER : -1;
            case MINUS -> b == '0' ? ZERO : digit ? INTEGER : -1;
            case ZERO, INTEGER -> digit && phase == INTEGER ? INTEGER
                    : fraction && b == '.' ? DOT : fraction && (b == 'e' || b == 'E') ? EXPONENT_MARK : ENDED;
            case DOT -> digit ? FRACTION : -1;
            case FRACTION -> digit ? FRACTION : fraction && (b == 'e' || b == 'E') ? EXPONENT_MARK : ENDED;
            case EXPONENT_MARK -> b == '+' || b == '-' ? EXPONENT_SIGN : digit ? EXPONENT : -1;
            case EXPONENT_SIGN -> digit ? EXPONENT : -1;
            case EXPONENT -> digit ? EXPONENT : ENDED;
            default -> -1;
        };
        return next < 0 ? next : set(f, at, next, length + 1, top);
    }

    private static int literal(int[] f, int top, int at, JsonShape.Literals l, int phase, int b) {
        byte[][] texts = l.texts();
        int lo = phase == START ? 0 : f[at + 2];
        int hi = phase == START ? texts.length - 1 : f[at + 3];
        int position = phase == START ? 0 : phase - 1;
        int first = -1;
        int last = -1;
        for (int i = lo; i <= hi; i++) {
            if (texts[i].length > position && (texts[i][position] & 0xFF) == b) {
                if (first < 0) {
                    first = i;
                }
                last = i;
            }
        }
        if (first < 0) {
            // a whole text that others extend (1 among 1 and 12) ends here; texts sort shortest first
            if (phase != START && texts[lo].length == position) {
                f[at + 2] = l.ids()[lo];
                return ENDED;
            }
            return -1;
        }
        f[at + 1] = position + 2;
        f[at + 2] = first;
        f[at + 3] = last;
        if (first == last && texts[first].length == position + 1) {
            f[at + 2] = l.ids()[first];
            return pop(f, top);
        }
        return top;
    }

    /** Pops the top frame, whose value ended with the byte just read, and tells the parent. */
    private static int pop(int[] f, int top) {
        int result = f[(top - 1) * FRAME + 2];
        if (top > 1) {
            childEnded(f, top - 1, result);
        }
        return top - 1;
    }

    /** The child of the frame at height {@code top} ended; {@code result} says which key, for a key. */
    private static void childEnded(int[] f, int top, int result) {
        int at = (top - 1) * FRAME;
        int phase = f[at + 1];
        f[at + 3] = 0;
        if (phase == KEY) {
            f[at + 1] = COLON;
            f[at + 2] = result;
        } else {
            f[at + 1] = phase == VALUE ? AFTER_VALUE : AFTER_ITEM;
        }
    }

    private static int push(int[] f, int top, int node) {
        if (top >= MAX_DEPTH) {
            return -1;
        }
        int at = top * FRAME;
        f[at] = node;
        f[at + 1] = START;
        f[at + 2] = 0;
        f[at + 3] = 0;
        return top + 1;
    }

    private static int set(int[] f, int at, int phase, int a, int top) {
        f[at + 1] = phase;
        f[at + 2] = a;
        f[at + 3] = 0;
        return top;
    }

    /** One more whitespace byte in the gap whose count (and whether it holds a line feed) is the frame's b. */
    private static int whitespace(int[] f, int at, int top, int b) {
        int gap = f[at + 3];
        if ((gap & ~LINE_FEED) >= MAX_WHITESPACE || b == '\n' && (gap & LINE_FEED) != 0) {
            return -1;
        }
        f[at + 3] = (gap + 1) | (b == '\n' ? LINE_FEED : 0);
        return top;
    }

    /** The continuation bytes that follow {@code b} in UTF-8: 0 for ASCII, -1 when b cannot start a character. */
    static int continuationBytes(int b) {
        return b < 0x80 ? 0 : b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : -1;
    }

    static boolean isWhitespace(int b) {
        return b == ' ' || b == '\n' || b == '\t';
    }
}
