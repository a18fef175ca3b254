package dev.streamingllm.spring.web;

import dev.streamingllm.spring.api.ApiException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.type.LogicalType;

/**
 * Reads the JSON body of a chat completion request as OpenAI does: no value is coerced into another type (the string
 * {@code "10"} or the number {@code 1.5} is not an integer), and an error names the field, never a Java type. Options
 * this server cannot honour are refused here rather than ignored.
 */
final class ChatRequestReader {

    /** Fields that change what OpenAI answers and are not implemented here, refused unless they ask for nothing. */
    private static final List<String> UNSUPPORTED = List.of("logprobs", "top_logprobs", "logit_bias", "functions", "function_call");

    /** Numeric fields: a string there is refused even where Jackson would read it ("NaN", "Infinity"). */
    private static final Map<String, String> NUMBERS = Map.of("temperature", "a number", "top_p", "a number",
            "frequency_penalty", "a number", "presence_penalty", "a number", "max_tokens", "an integer",
            "max_completion_tokens", "an integer", "n", "an integer", "seed", "an integer");

    private final JsonMapper json = JsonMapper.builder()
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .withCoercionConfig(LogicalType.Integer, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Float, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Boolean, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Textual, c -> c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .build();

    ChatCompletionRequest read(byte @Nullable [] body) {
        if (body == null || body.length == 0) {
            throw ApiException.invalidRequest("invalid_request_body",
                    "The request body is empty: send a chat completion request as a JSON object.");
        }
        JsonNode tree;
        try {
            tree = json.readTree(body);
        } catch (StreamReadException e) {
            throw ApiException.invalidRequest("invalid_request_body", "The request body is not valid JSON"
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")")
                    + ": send a chat completion request as a JSON object.");
        }
        if (tree == null || !tree.isObject()) {
            throw ApiException.invalidRequest("invalid_request_body", "The request body is " + describe(tree)
                    + ", not a JSON object: send a chat completion request as a JSON object.");
        }
        NUMBERS.forEach((field, expected) -> {
            JsonNode value = tree.get(field);
            if (value != null && value.isString()) {
                throw ApiException.invalidParam(field, "invalid_type", "Invalid type for '" + field + "': expected " + expected
                        + ", but got a string instead.");
            }
        });
        for (String field : UNSUPPORTED) {
            JsonNode value = tree.get(field);
            if (value != null && !value.isNull() && !(value.isBoolean() && !value.asBoolean()) && !(value.isContainer() && value.isEmpty())) {
                throw ApiException.invalidParam(field, "unsupported_parameter", "'" + field + "' is not supported by this server: "
                        + (field.startsWith("function") ? "the local model does not call tools." : "leave it out."));
            }
        }
        try {
            return json.treeToValue(tree, ChatCompletionRequest.class);
        } catch (JacksonException e) {
            String param = param(e);
            if (param.isEmpty()) {
                throw ApiException.invalidRequest("invalid_request_body", "The request body is not a valid chat completion request.");
            }
            throw ApiException.invalidParam(param, "invalid_type", "Invalid type for '" + param + "': expected " + expected(e)
                    + ", but got " + describe(at(tree, e)) + " instead.");
        }
    }

    /** The field a binding error is about, as OpenAI writes it: {@code messages[0].content}. */
    private static String param(JacksonException e) {
        StringBuilder param = new StringBuilder();
        for (JacksonException.Reference ref : e.getPath()) {
            if (ref.getPropertyName() != null) {
                param.append(param.isEmpty() ? "" : ".").append(ref.getPropertyName());
            } else if (ref.getIndex() >= 0) {
                param.append('[').append(ref.getIndex()).append(']');
            }
        }
        return param.toString();
    }

    private static @Nullable JsonNode at(JsonNode tree, JacksonException e) {
        JsonNode node = tree;
        for (JacksonException.Reference ref : e.getPath()) {
            if (node == null) {
                return null;
            }
            node = ref.getPropertyName() != null ? node.get(ref.getPropertyName()) : node.get(ref.getIndex());
        }
        return node;
    }

    private static String expected(JacksonException e) {
        Class<?> type = e instanceof MismatchedInputException m ? m.getTargetType() : null;
        if (type == null) {
            return "another type";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "an integer";
        }
        if (type == Double.class || type == double.class || type == Float.class || type == float.class) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "a boolean";
        }
        if (CharSequence.class.isAssignableFrom(type)) {
            return "a string";
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "an array";
        }
        return Map.class.isAssignableFrom(type) || type.isRecord() ? "an object" : "another type";
    }

    /** A JSON value's kind in words. */
    static String describe(@Nullable JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        if (node.isNull()) {
            return "null";
        }
        if (node.isString()) {
            return "a string";
        }
        if (node.isIntegralNumber()) {
            return "an integer";
        }
        if (node.isNumber()) {
            return "a decimal number";
        }
        if (node.isBoolean()) {
            return "a boolean";
        }
        return node.isArray() ? "an array" : "an object";
    }
}
