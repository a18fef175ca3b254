package dev.streamingllm.spring.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;

/** The output schema travels with the options like every other field and becomes the sampler's grammar. */
class StructuredOutputOptionsTest {

    private static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}";

    @Test
    void theSchemaSurvivesMutateCombineAndForeignOptions() {
        StreamingLlmChatOptions options = StreamingLlmChatOptions.builder().temperature(0.0).outputSchema(SCHEMA).build();
        assertThat(options).isInstanceOf(StructuredOutputChatOptions.class);
        assertThat(options.mutate().build()).isEqualTo(options);
        assertThat(options.mutate().build().getOutputSchema()).isEqualTo(SCHEMA);
        StreamingLlmChatOptions defaults = StreamingLlmChatOptions.builder().temperature(0.7).build();
        assertThat(defaults.mutate().combineWith(options.mutate()).build().getOutputSchema()).isEqualTo(SCHEMA);
        assertThat(options.mutate().combineWith(defaults.mutate()).build().getOutputSchema()).as("unset keeps ours").isEqualTo(SCHEMA);
        ChatOptions foreign = StructuredOutputChatOptions.builder().outputSchema(SCHEMA).build();
        assertThat(foreign).isNotInstanceOf(StreamingLlmChatOptions.class);
        assertThat(StreamingLlmChatOptions.from(foreign).getOutputSchema()).isEqualTo(SCHEMA);
    }

    @Test
    void theSchemaBecomesTheGrammarAndAnUnsupportedOneIsNamed() {
        assertThat(StreamingLlmChatModel.sampling(StreamingLlmChatOptions.builder().outputSchema(SCHEMA).build()).grammar()).isNotNull();
        assertThat(StreamingLlmChatModel.sampling(StreamingLlmChatOptions.builder().build()).grammar()).isNull();
        assertThatThrownBy(() -> StreamingLlmChatModel.sampling(StreamingLlmChatOptions.builder()
                .outputSchema("{\"type\":\"string\",\"pattern\":\"^a\"}").build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unsupported JSON Schema keyword \"pattern\" at #");
    }
}
