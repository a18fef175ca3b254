package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

/**
 * OpenAI's {@code response_format}: {@code {"type": "text"}} (the default), {@code {"type": "json_object"}} (any
 * JSON object) or {@code {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}}. Both JSON formats are
 * enforced while decoding, so the reply always parses; {@code strict} changes nothing.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ResponseFormat(@Nullable String type, @JsonProperty("json_schema") @Nullable JsonSchema jsonSchema) {

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record JsonSchema(@Nullable String name, @Nullable String description, @Nullable JsonNode schema,
            @Nullable Boolean strict) {
    }
}
