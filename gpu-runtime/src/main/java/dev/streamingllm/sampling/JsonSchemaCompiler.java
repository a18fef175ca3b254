package dev.streamingllm.sampling;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Turns a JSON Schema into {@link JsonGrammar} nodes; refuses, by name and place, what it cannot enforce. */
final class JsonSchemaCompiler {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static final Set<String> KEYWORDS = Set.of("type", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "minLength", "maxLength", "enum", "const", "anyOf", "$ref", "$defs", "definitions");

    /** Keywords that describe and do not constrain ({@code format} is an annotation in JSON Schema 2020-12). */
    private static final Set<String> ANNOTATIONS = Set.of("$schema", "$id", "$comment", "$anchor", "title",
            "description", "default", "examples", "format", "readOnly", "writeOnly", "deprecated");

    private final JsonNode document;
    private final List<JsonShape> nodes = new ArrayList<>();
    private final Map<String, Integer> references = new HashMap<>();
    private int any = -1;

    private JsonSchemaCompiler(JsonNode document) {
        this.document = document;
    }

    static JsonGrammar compile(String schema) {
        JsonNode document;
        try {
            document = JSON.readTree(schema);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("the JSON schema is not valid JSON: " + e.getOriginalMessage());
        }
        if (document == null || !(document.isObject() || document.isBoolean())) {
            throw new IllegalArgumentException("a JSON schema must be a JSON object");
        }
        JsonSchemaCompiler compiler = new JsonSchemaCompiler(document);
        int root = compiler.compile(document, "#");
        return new JsonGrammar(compiler.nodes, root, document.toString());
    }

    private int compile(JsonNode schema, String at) {
        if (schema.isBoolean()) {
            if (!schema.booleanValue()) {
                throw new IllegalArgumentException("the schema at " + at + " is false and accepts nothing");
            }
            return anyValue();
        }
        if (!schema.isObject()) {
            throw new IllegalArgumentException("the schema at " + at + " must be an object or a boolean");
        }
        for (String keyword : schema.propertyNames()) {
            if (!KEYWORDS.contains(keyword) && !ANNOTATIONS.contains(keyword)) {
                throw new IllegalArgumentException("unsupported JSON Schema keyword \"" + keyword + "\" at " + at);
            }
        }
        if (schema.has("$ref")) {
            for (String keyword : schema.propertyNames()) {
                if (KEYWORDS.contains(keyword) && !keyword.equals("$ref") && !keyword.equals("$defs") && !keyword.equals("definitions")) {
                    throw new IllegalArgumentException("\"" + keyword + "\" beside \"$ref\" is not supported, at " + at);
                }
            }
            return reference(schema.get("$ref").asString(), at);
        }
        if (schema.has("const")) {
            return add(literals(List.of(schema.get("const")), null));
        }
        if (schema.has("enum")) {
            JsonNode values = schema.get("enum");
            if (!values.isArray() || values.isEmpty()) {
                throw new IllegalArgumentException("\"enum\" at " + at + " must be a non-empty array");
            }
            return add(literals(values.valueStream().toList(), null));
        }
        if (schema.has("anyOf")) {
            JsonNode branches = schema.get("anyOf");
            if (!branches.isArray() || branches.isEmpty()) {
                throw new IllegalArgumentException("\"anyOf\" at " + at + " must be a non-empty array");
            }
            List<Integer> compiled = new ArrayList<>();
            for (int i = 0; i < branches.size(); i++) {
                compiled.add(compile(branches.get(i), at + "/anyOf/" + i));
            }
            return union(compiled, at);
        }
        JsonNode type = schema.get("type");
        if (type == null) {
            return schema.has("properties") || schema.has("additionalProperties") ? object(schema, at)
                    : schema.has("items") ? array(schema, at) : anyValue();
        }
        if (type.isArray()) {
            List<Integer> compiled = new ArrayList<>();
            for (JsonNode t : type) {
                compiled.add(ofType(t.asString(), schema, at));
            }
            return union(compiled, at);
        }
        return ofType(type.asString(), schema, at);
    }

    private int ofType(String type, JsonNode schema, String at) {
        return switch (type) {
            case "object" -> object(schema, at);
            case "array" -> array(schema, at);
            case "string" -> add(new JsonShape.Text(count(schema, "minLength", 0, at),
                    Math.max(count(schema, "maxLength", JsonGrammar.DEFAULT_MAX_LENGTH, at), count(schema, "minLength", 0, at))));
            case "number" -> add(new JsonShape.Number(false));
            case "integer" -> add(new JsonShape.Number(true));
            case "boolean" -> add(literals(List.of(JSON.booleanNode(true), JSON.booleanNode(false)), null));
            case "null" -> add(literals(List.of(JSON.nullNode()), null));
            default -> throw new IllegalArgumentException("unknown JSON Schema type \"" + type + "\" at " + at);
        };
    }

    private int object(JsonNode schema, String at) {
        JsonNode properties = schema.get("properties");
        JsonNode additional = schema.get("additionalProperties");
        if (properties == null || properties.isEmpty()) {
            if (additional != null && additional.isBoolean() && !additional.booleanValue()) {
                return add(fixed(List.of()));
            }
            int self = add(null);
            int key = add(new JsonShape.Text(0, JsonGrammar.DEFAULT_MAX_LENGTH));
            int value = additional == null ? anyValue() : compile(additional, at + "/additionalProperties");
            nodes.set(self, new JsonShape.Free(key, value));
            return self;
        }
        Set<String> required = new HashSet<>();
        JsonNode requiredNode = schema.get("required");
        if (requiredNode != null) {
            for (JsonNode name : requiredNode) {
                if (!properties.has(name.asString())) {
                    throw new IllegalArgumentException("required property \"" + name.asString() + "\" is not in \"properties\" at " + at);
                }
                required.add(name.asString());
            }
        }
        // properties beyond the declared ones are never generated, so any "additionalProperties" holds
        int self = add(null);
        List<JsonShape.Property> compiled = new ArrayList<>();
        for (String name : properties.propertyNames()) {
            int value = compile(properties.get(name), at + "/properties/" + name);
            compiled.add(new JsonShape.Property(name, required.contains(name), value));
        }
        nodes.set(self, fixed(compiled));
        return self;
    }

    private JsonShape.Fixed fixed(List<JsonShape.Property> properties) {
        int n = properties.size();
        int[] nextRequired = new int[n + 1];
        nextRequired[n] = -1;
        for (int i = n - 1; i >= 0; i--) {
            nextRequired[i] = properties.get(i).required() ? i : nextRequired[i + 1];
        }
        int[] keysFrom = new int[n];
        for (int i = 0; i < n; i++) {
            int last = nextRequired[i] < 0 ? n - 1 : nextRequired[i];
            List<JsonNode> keys = new ArrayList<>();
            int[] ids = new int[last - i + 1];
            for (int p = i; p <= last; p++) {
                keys.add(JSON.getNodeFactory().stringNode(properties.get(p).name()));
                ids[p - i] = p;
            }
            keysFrom[i] = add(literals(keys, ids));
        }
        return new JsonShape.Fixed(List.copyOf(properties), nextRequired, keysFrom);
    }

    private int array(JsonNode schema, String at) {
        int self = add(null);
        JsonNode items = schema.get("items");
        int item = items == null ? anyValue() : compile(items, at + "/items");
        int min = count(schema, "minItems", 0, at);
        int max = count(schema, "maxItems", Integer.MAX_VALUE, at);
        if (min > max) {
            throw new IllegalArgumentException("\"minItems\" is above \"maxItems\" at " + at);
        }
        nodes.set(self, new JsonShape.Array(item, min, max));
        return self;
    }

    private static int count(JsonNode schema, String keyword, int fallback, String at) {
        JsonNode value = schema.get(keyword);
        if (value == null) {
            return fallback;
        }
        if (!value.canConvertToInt() || value.asInt() < 0) {
            throw new IllegalArgumentException("\"" + keyword + "\" at " + at + " must be a non-negative integer, was " + value);
        }
        return value.asInt();
    }

    private int reference(String ref, String at) {
        Integer known = references.get(ref);
        if (known != null) {
            return known;
        }
        if (!ref.startsWith("#")) {
            throw new IllegalArgumentException("only references inside the schema (\"#/...\") are supported, at " + at + ": " + ref);
        }
        JsonNode target = document.at(ref.substring(1));
        if (target == null || target.isMissingNode()) {
            throw new IllegalArgumentException("\"$ref\" at " + at + " points to nothing: " + ref);
        }
        // reserved before compiling, so that a recursive reference finds it
        int self = add(null);
        references.put(ref, self);
        int compiled = compile(target, ref);
        nodes.set(self, nodes.get(compiled));
        return self;
    }

    /** Any JSON value: built once per grammar, recursively. */
    private int anyValue() {
        if (any >= 0) {
            return any;
        }
        any = add(null);
        int object = add(null);
        int array = add(new JsonShape.Array(any, 0, Integer.MAX_VALUE));
        int key = add(new JsonShape.Text(0, JsonGrammar.DEFAULT_MAX_LENGTH));
        nodes.set(object, new JsonShape.Free(key, any));
        int text = add(new JsonShape.Text(0, JsonGrammar.DEFAULT_MAX_LENGTH));
        int number = add(new JsonShape.Number(false));
        int constants = add(literals(List.of(JSON.booleanNode(true), JSON.booleanNode(false), JSON.nullNode()), null));
        nodes.set(any, nodes.get(union(List.of(object, array, text, number, constants), "#")));
        return any;
    }

    /** The branches told apart by their first byte; literal sets are merged, and number with integer is number. */
    private int union(List<Integer> branches, String at) {
        List<JsonNode> literalValues = new ArrayList<>();
        List<Integer> flat = new ArrayList<>();
        for (int branch : branches) {
            collect(branch, flat);
        }
        int numbers = 0;
        boolean fractions = false;
        List<Integer> distinct = new ArrayList<>();
        for (int branch : flat) {
            switch (nodes.get(branch)) {
                case null -> throw new IllegalArgumentException("a recursive \"$ref\" as an alternative is not supported, at " + at);
                case JsonShape.Literals l -> {
                    for (byte[] text : l.texts()) {
                        literalValues.add(JSON.readTree(new String(text, StandardCharsets.UTF_8)));
                    }
                }
                case JsonShape.Number n -> {
                    numbers++;
                    fractions |= !n.integer();
                }
                default -> distinct.add(branch);
            }
        }
        if (numbers > 0) {
            distinct.add(add(new JsonShape.Number(!fractions)));
        }
        if (!literalValues.isEmpty()) {
            distinct.add(add(literals(literalValues, null)));
        }
        if (distinct.size() == 1) {
            return distinct.getFirst();
        }
        int[] byFirstByte = new int[256];
        Arrays.fill(byFirstByte, -1);
        for (int branch : distinct) {
            for (int b = 0; b < 256; b++) {
                if (startsWith(nodes.get(branch), b)) {
                    if (byFirstByte[b] >= 0) {
                        throw new IllegalArgumentException("alternatives that both start with '" + (char) b + "' ("
                                + kind(nodes.get(byFirstByte[b])) + " and " + kind(nodes.get(branch)) + ") are not supported, at " + at);
                    }
                    byFirstByte[b] = branch;
                }
            }
        }
        return add(new JsonShape.Union(byFirstByte));
    }

    private void collect(int branch, List<Integer> flat) {
        if (nodes.get(branch) instanceof JsonShape.Union u) {
            Arrays.stream(u.byFirstByte()).filter(b -> b >= 0).distinct().forEach(b -> collect(b, flat));
        } else {
            flat.add(branch);
        }
    }

    private static boolean startsWith(JsonShape shape, int b) {
        return switch (shape) {
            case JsonShape.Fixed f -> b == '{';
            case JsonShape.Free f -> b == '{';
            case JsonShape.Array a -> b == '[';
            case JsonShape.Text t -> b == '"';
            case JsonShape.Number n -> b == '-' || (b >= '0' && b <= '9');
            case JsonShape.Literals l -> Arrays.stream(l.texts()).anyMatch(t -> (t[0] & 0xFF) == b);
            case JsonShape.Union u -> u.byFirstByte()[b] >= 0;
        };
    }

    private static String kind(JsonShape shape) {
        return switch (shape) {
            case JsonShape.Fixed f -> "object";
            case JsonShape.Free f -> "object";
            case JsonShape.Array a -> "array";
            case JsonShape.Text t -> "string";
            case JsonShape.Number n -> "number";
            case JsonShape.Literals l -> "constant";
            case JsonShape.Union u -> "alternatives";
        };
    }

    private static JsonShape.Literals literals(List<JsonNode> values, int[] ids) {
        int n = values.size();
        byte[][] texts = new byte[n][];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            texts[i] = values.get(i).toString().getBytes(StandardCharsets.UTF_8);
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparing(i -> texts[i], Arrays::compareUnsigned));
        List<byte[]> sorted = new ArrayList<>();
        List<Integer> sortedIds = new ArrayList<>();
        for (int i : order) {
            if (sorted.isEmpty() || !Arrays.equals(sorted.getLast(), texts[i])) {
                sorted.add(texts[i]);
                sortedIds.add(ids == null ? i : ids[i]);
            }
        }
        return new JsonShape.Literals(sorted.toArray(byte[][]::new), sortedIds.stream().mapToInt(Integer::intValue).toArray());
    }

    private int add(JsonShape shape) {
        nodes.add(shape);
        return nodes.size() - 1;
    }
}
