package dev.streamingllm.tokenizer;

/** Per-token attribute bits (llama_token_attr), derived from {@code tokenizer.ggml.token_type} and a few rules. */
final class TokenAttributes {

    static final int UNDEFINED = 0;
    static final int UNKNOWN = 1 << 0;
    static final int UNUSED = 1 << 1;
    static final int NORMAL = 1 << 2;
    static final int CONTROL = 1 << 3;
    static final int USER_DEFINED = 1 << 4;
    static final int BYTE = 1 << 5;
    /** Whitespace after this special token is dropped from the text (phi-3's chat tokens). */
    static final int RSTRIP = 1 << 8;

    private TokenAttributes() {
    }

    /** The attribute of a GGUF token type (llama_token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
    static int fromTokenType(int type) {
        return switch (type) {
            case 1 -> NORMAL;
            case 2 -> UNKNOWN;
            case 3 -> CONTROL;
            case 4 -> USER_DEFINED;
            case 5 -> UNUSED;
            case 6 -> BYTE;
            default -> UNDEFINED;
        };
    }
}
