package dev.streamingllm.samples.copywriter;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * An application with only the starter, on the default model (SmolLM2-135M-Instruct through the runtime's pull
 * code): {@code ChatClient...entity(Person.class)} with Spring AI's native structured output sends the record's
 * JSON Schema as an option, the model is held to it while decoding, and every reply parses into the record.
 */
@SpringBootTest(properties = {"streamingllm.chat.temperature=0", "copywriter.repl=false"})
class StructuredOutputTest {

    record Person(String name, int age, String city) {
    }

    private static final List<String> PROMPTS = List.of(
            "Maria Lopez is a 34-year-old nurse from Madrid.",
            "My name is Tom Becker, I am 52 and I live in Hamburg.",
            "Yuki, aged 19, moved to Osaka last spring.",
            "The new mayor of Lyon, Claire Martin, turned 47 this week.",
            "Say hello to Ahmed: he's 28 and works in Cairo.",
            "Grandpa Joe celebrated his 90th birthday at home in Dublin.",
            "Priya Sharma (41) runs a bakery in Mumbai.",
            "At 23, Lucas Silva left Sao Paulo to study.",
            "Emma, a teacher from Oslo, is thirty-six years old.",
            "Contact: Ivan Petrov, age 65, city: Sofia.");

    @Autowired
    ChatClient.Builder builder;

    @Test
    void entityParsesForTenExtractionPromptsOnTheDefaultModel() {
        ChatClient chat = builder.build();
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
        // the model is small: the figures in the README count how many fields are right; here each reply parsed
        assertThat(people).allSatisfy(p -> assertThat(p.name()).isNotNull());
    }
}
