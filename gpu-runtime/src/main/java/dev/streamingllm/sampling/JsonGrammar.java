package dev.streamingllm.sampling;

import java.util.List;

/**
 * The JSON documents a reply may be: a JSON Schema (the subset that Spring AI's {@code BeanOutputConverter} and
 * OpenAI's strict mode produce) or any JSON object, compiled to nodes that {@link JsonAutomaton} walks byte by byte.
 * Independent of any vocabulary; immutable and shared by all generations that use it.
 *
 * <p>Two limits keep a small model from running on forever: a string without {@code maxLength} ends after
 * {@link #DEFAULT_MAX_LENGTH} characters, and between two tokens of JSON stand at most 12 spaces, tabs and line
 * feeds, one line feed at most. Properties come in the schema's order.
 */
public final class JsonGrammar {

    /** The length of a string whose schema sets no {@code maxLength}. */
    public static final int DEFAULT_MAX_LENGTH = 256;

    private final JsonShape[] nodes;
    private final int root;
    private final String source;

    JsonGrammar(List<JsonShape> nodes, int root, String source) {
        this.nodes = nodes.toArray(JsonShape[]::new);
        this.root = root;
        this.source = source;
    }

    /**
     * The documents that {@code schema} (a JSON Schema as JSON text) accepts.
     *
     * @throws IllegalArgumentException naming the keyword and where it is, when the schema uses a construct outside
     *                                  the supported subset, or is not JSON
     */
    public static JsonGrammar fromSchema(String schema) {
        return JsonSchemaCompiler.compile(schema);
    }

    /** Any JSON object (OpenAI's {@code json_object} response format). */
    public static JsonGrammar anyObject() {
        return JsonSchemaCompiler.compile("{\"type\":\"object\"}");
    }

    JsonShape node(int index) {
        return nodes[index];
    }

    int size() {
        return nodes.length;
    }

    int root() {
        return root;
    }

    @Override
    public String toString() {
        return "JsonGrammar" + source;
    }
}
