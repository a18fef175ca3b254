package dev.streamingllm.spring.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * OpenAI's {@code response_format} over a real server on stories260K (a model that knows no JSON): the replies follow
 * the schema because decoding enforces it; schemas outside the supported subset are refused with 400 naming the
 * construct. {@code json_object} on the default model: the assistant sample's {@code StructuredOutputApiTest}.
 */
@SpringBootTest(classes = ResponseFormatTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        "streamingllm.web.enabled=true"})
class ResponseFormatTest {

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {
    }

    private static final JsonNode PERSON = new JsonMapper().readTree("""
            {"type":"object","additionalProperties":false,"required":["name","age","pet"],
             "properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},"pet":{"enum":["cat","dog","bird"]}}}""");

    @LocalServerPort
    int port;

    private final JsonMapper json = new JsonMapper();
    private WebTestClient client;

    @BeforeEach
    void client() {
        client = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).responseTimeout(Duration.ofSeconds(60)).build();
    }

    @Test
    void jsonSchemaRepliesFollowTheSchema() {
        for (double temperature : new double[] {0, 1}) {
            Map<String, Object> request = request("Lily was a girl with a cat.", temperature,
                    Map.of("type", "json_schema", "json_schema", Map.of("name", "person", "schema", PERSON, "strict", true)));
            JsonNode completion = body(post(request).expectStatus().isOk());
            JsonNode reply = json.readTree(completion.get("choices").get(0).get("message").get("content").asString());
            assertThat(reply.propertyNames()).containsExactly("name", "age", "pet");
            assertThat(reply.get("name").isString()).isTrue();
            assertThat(reply.get("name").asString().length()).isLessThanOrEqualTo(12);
            assertThat(reply.get("age").isIntegralNumber()).isTrue();
            assertThat(List.of("cat", "dog", "bird")).contains(reply.get("pet").asString());
            assertThat(completion.get("choices").get(0).get("finish_reason").asString()).isEqualTo("stop");
        }
    }

    @Test
    void aStreamedReplyIsTheSameDocument() {
        Map<String, Object> request = request("Once upon a time", 0,
                Map.of("type", "json_schema", "json_schema", Map.of("name", "person", "schema", PERSON)));
        String whole = body(post(request).expectStatus().isOk()).get("choices").get(0).get("message").get("content").asString();
        assertThat(json.readTree(whole).isObject()).as(whole).isTrue();

        request.put("stream", true);
        List<String> events = client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .accept(MediaType.TEXT_EVENT_STREAM).bodyValue(request).exchange().expectStatus().isOk()
                .returnResult(new ParameterizedTypeReference<ServerSentEvent<String>>() {
                }).getResponseBody().map(ServerSentEvent::data).collectList().block(Duration.ofSeconds(60));
        StringBuilder streamed = new StringBuilder();
        for (String event : events.subList(0, events.size() - 1)) {
            JsonNode delta = json.readTree(event).get("choices").get(0).get("delta");
            if (delta.has("content")) {
                streamed.append(delta.get("content").asString());
            }
        }
        assertThat(streamed.toString()).isEqualTo(whole);
    }

    @Test
    void textIsTheDefault() {
        Map<String, Object> request = request("Once upon a time", 0, Map.of("type", "text"));
        JsonNode completion = body(post(request).expectStatus().isOk());
        assertThat(completion.get("choices").get(0).get("message").get("content").asString()).doesNotStartWith("{");
    }

    @Test
    void unsupportedOrMalformedFormatsAreRefused() {
        Map<String, Object> pattern = Map.of("type", "object", "properties", Map.of("email", Map.of("type", "string", "pattern", "@")));
        assertBad(Map.of("type", "json_schema", "json_schema", Map.of("name", "p", "schema", pattern)), "unsupported_schema",
                "response_format.json_schema.schema: unsupported JSON Schema keyword \"pattern\" at #/properties/email.");
        assertBad(Map.of("type", "json_schema", "json_schema", Map.of("name", "p", "schema", Map.of("oneOf", List.of()))),
                "unsupported_schema", "unsupported JSON Schema keyword \"oneOf\" at #");
        assertBad(Map.of("type", "json_schema", "json_schema", Map.of("schema", PERSON)), "invalid_response_format",
                "response_format.json_schema.name is required.");
        assertBad(Map.of("type", "json_schema", "json_schema", Map.of("name", "p")), "invalid_response_format",
                "response_format.json_schema.schema must be a JSON Schema object.");
        assertBad(Map.of("type", "xml"), "invalid_response_format",
                "response_format.type must be text, json_object or json_schema, was xml.");
    }

    private void assertBad(Map<String, Object> format, String code, String message) {
        JsonNode error = body(post(request("Hi", 0, format)).expectStatus().isEqualTo(HttpStatus.BAD_REQUEST)).get("error");
        assertThat(error.get("code").asString()).isEqualTo(code);
        assertThat(error.get("message").asString()).contains(message);
    }

    private WebTestClient.ResponseSpec post(Map<String, Object> request) {
        return client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange();
    }

    private JsonNode body(WebTestClient.ResponseSpec response) {
        return json.readTree(response.expectBody().returnResult().getResponseBodyContent());
    }

    private static Map<String, Object> request(String text, double temperature, Map<String, Object> format) {
        Map<String, Object> request = new HashMap<>();
        request.put("messages", List.of(Map.of("role", "user", "content", text)));
        request.put("temperature", temperature);
        request.put("max_tokens", 200);
        request.put("response_format", format);
        return request;
    }
}
