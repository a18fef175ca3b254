package dev.streamingllm.sampling;

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

    private final JsonGrammar grammar;

    JsonAutomaton(JsonGrammar grammar) {
        this.grammar = grammar;
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
