package dev.streamingllm.samples.assistant;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.openai.OpenAiChatModel;
import org.springframework.ai.openai.OpenAiChatOptions;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code response_format} on the default model (SmolLM2-135M-Instruct) as shipped: Spring AI's own OpenAI client,
 * asked for {@code entity(Person.class)} with native structured output, sends the record's JSON Schema as
 * {@code response_format: json_schema}; the assistant enforces it while decoding, and each of ten replies parses.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class StructuredOutputApiTest {

    record Person(String name, int age, String city) {
    }

    private static final List<String> PROMPTS = List.of(
            "Hans Weber, 61, is a baker in Vienna.",
            "I'm Sofia, 27 years old, from Lisbon.",
            "Chen Wei (age 45) teaches physics in Shanghai.",
            "Olga from Kyiv just turned 33.",
            "The driver, Marco Rossi, is 38 and lives in Turin.",
            "Fatima Zahra, a 29-year-old engineer, works in Casablanca.",
            "Meet Liam O'Brien: 55, Cork.",
            "Ana Costa was born in Porto 70 years ago.",
            "Our new intern Ben is 21 and commutes to Boston.",
            "Name: Aiko Tanaka; age: 31; home: Kyoto.");

    @LocalServerPort
    int port;

    @Test
    void entityThroughSpringAisOpenAiClientParsesForTenPrompts() {
        OpenAiChatModel openAi = OpenAiChatModel.builder()
                .options(OpenAiChatOptions.builder()
                        .baseUrl("http://localhost:" + port + "/v1")
                        .apiKey("not-needed")
                        .model("SmolLM2-135M-Instruct.Q4_1")
                        .temperature(0.0)
                        .maxRetries(0)
                        .timeout(Duration.ofSeconds(120))
                        .build())
                .build();
        ChatClient chat = ChatClient.create(openAi);
        List<Person> people = new ArrayList<>();
        for (String text : PROMPTS) {
            Person person = chat.prompt()
                    .user("Extract the person's name, age and city: " + text)
                    .advisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT)
                    .call()
                    .entity(Person.class);
            System.out.println(text + " -> " + person);
            people.add(person);
        }
        assertThat(people).hasSize(PROMPTS.size()).doesNotContainNull();
    }

    @Test
    void jsonObjectGivesAnObject() throws Exception {
        JsonMapper json = new JsonMapper();
        String body = json.writeValueAsString(Map.of(
                "messages", List.of(Map.of("role", "user", "content", "Describe a cat as JSON with its name and colour.")),
                "temperature", 0,
                "response_format", Map.of("type", "json_object")));
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode choice = json.readTree(response.body()).get("choices").get(0);
        String content = choice.get("message").get("content").asString();
        System.out.println("json_object -> " + content);
        assertThat(json.readTree(content).isObject()).as(content).isTrue();
        assertThat(choice.get("finish_reason").asString()).isEqualTo("stop");
    }
}
