package dev.streamingllm.session;

import static org.assertj.core.api.Assertions.assertThat;

import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.pull.ModelCatalog;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullProgress;
import dev.streamingllm.sampling.JsonGrammar;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/**
 * The default model answers extraction prompts under a JSON Schema: every reply parses and validates against the
 * schema (checked by an independent validator), greedy and sampled, and generation ends with the document.
 */
class SmolLm2JsonGenerationTest {

    static final String PERSON = """
            {"type":"object","additionalProperties":false,"required":["name","age","city"],
             "properties":{"name":{"type":"string"},"age":{"type":"integer"},"city":{"type":"string"},
                           "email":{"type":["string","null"]}}}""";

    static final String ORDER = """
            {"type":"object","additionalProperties":false,"required":["customer","items","priority","paid"],
             "properties":{"customer":{"type":"string","maxLength":40},
               "items":{"type":"array","minItems":1,"maxItems":5,"items":{"type":"object","additionalProperties":false,
                 "required":["product","quantity"],"properties":{"product":{"type":"string"},"quantity":{"type":"integer"},
                 "price":{"type":"number"}}}},
               "priority":{"enum":["low","normal","urgent"]},"paid":{"type":"boolean"}}}""";

    private static final List<String> PERSON_PROMPTS = List.of(
            "Extract the person as JSON: Maria Lopez is a 34-year-old nurse from Madrid.",
            "Give me JSON for this: my name is Tom Becker, I am 52 and live in Hamburg (tom@becker.de).",
            "Extract the person as JSON: Yuki, aged 19, moved to Osaka last spring.");

    private static final List<String> ORDER_PROMPTS = List.of(
            "Turn this order into JSON: Anna Berg wants 3 red mugs and 1 teapot at 24.50, urgent, already paid.",
            "Turn this order into JSON: Omar ordered two keyboards; no rush, he will pay on delivery.");

    private static Model model;
    private static Engine engine;

    @BeforeAll
    static void load() {
        model = Model.load(ModelPuller.standard(PullProgress.QUIET).pull(ModelCatalog.SMOLLM2_135M_INSTRUCT));
        engine = new Engine(model);
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    @Test
    void greedyRepliesParseAndValidate() {
        SamplingParams greedy = SamplingParams.builder().temperature(0).maxTokens(200).build();
        repliesValidate(PERSON, PERSON_PROMPTS, greedy);
        repliesValidate(ORDER, ORDER_PROMPTS, greedy);
    }

    @Test
    void sampledRepliesParseAndValidate() {
        for (long seed = 1; seed <= 2; seed++) {
            SamplingParams sampled = SamplingParams.builder().temperature(0.8f).seed(seed).maxTokens(200).build();
            repliesValidate(PERSON, PERSON_PROMPTS, sampled);
            repliesValidate(ORDER, ORDER_PROMPTS, sampled);
        }
    }

    @Test
    void aSmallTokenBudgetStillEndsWithAWholeDocument() {
        // the shortest person is 29 bytes (so 29 tokens always suffice); free, SmolLM2 writes about 35 tokens, with an email
        repliesValidate(PERSON, PERSON_PROMPTS, SamplingParams.builder().temperature(0).maxTokens(29).build());
    }

    @Test
    void jsonObjectModeGivesAnObject() {
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(200).grammar(JsonGrammar.anyObject()).build();
        Conversation.Turn turn = reply("List three colours as JSON.", params);
        assertThat(JsonMapper.builder().build().readTree(turn.text()).isObject()).as(turn.text()).isTrue();
        assertThat(turn.finishReason()).isEqualTo(FinishReason.STOP);
    }

    private static void repliesValidate(String schemaText, List<String> prompts, SamplingParams params) {
        Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schemaText);
        SamplingParams constrained = params.toBuilder().grammar(JsonGrammar.fromSchema(schemaText)).build();
        for (String prompt : prompts) {
            Conversation.Turn turn = reply(prompt, constrained);
            System.out.printf("%s%n  -> %s%n", prompt, turn.text());
            assertThat(turn.finishReason()).as(turn.text()).isEqualTo(FinishReason.STOP);
            assertThat(schema.validate(turn.text(), InputFormat.JSON)).as(turn.text()).isEmpty();
        }
    }

    private static Conversation.Turn reply(String prompt, SamplingParams params) {
        Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 1020), false);
        return conversation.reply(List.of(ChatMessage.user(prompt)), params, text -> { }, () -> false);
    }
}
