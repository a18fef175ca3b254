package dev.streamingllm.eval;

import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullPolicy;
import dev.streamingllm.pull.PullProgress;
import dev.streamingllm.sampling.JsonGrammar;
import dev.streamingllm.sampling.Sampler;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.Engine;
import dev.streamingllm.session.Session;
import dev.streamingllm.template.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Structured output on a model (a program, not a test): 50 extraction prompts over five schemas, each answered
 * greedily three ways: free decoding with Spring AI's format instructions and the schema in the prompt (what
 * {@code entity()} does without native structured output), constrained decoding with the bare prompt (what native
 * structured output sends), and both. Counts the replies that parse (after stripping a markdown fence, as Spring AI's
 * converter does), that validate against the schema, and the fields equal to the text's facts; then the mask's
 * cost per generated token, replayed over the constrained replies, against one decode step. Arguments: [model] (a catalog name, URL or path; default smollm2-135m-instruct).
 */
public final class StructuredOutputRun {

    private static final JsonMapper JSON = new JsonMapper();

    /** Spring AI's BeanOutputConverter format instructions, with the schema appended. */
    private static final String FORMAT = """
            Your response should be in JSON format.
            Do not include any explanations, only provide a RFC8259 compliant JSON response following this format without deviation.
            Do not include markdown code blocks in your response.
            Remove the ```json markdown from the output.
            Here is the JSON Schema instance your output must adhere to:
            ```%s```
            """;

    record Task(String instruction, String schema) {
    }

    record Case(Task task, String text, Map<String, Object> expected) {
    }

    record Outcome(boolean parsed, boolean valid, int fieldsRight, int fields, int tokens) {
    }

    static final Task PERSON = new Task("Extract the person's name, age and city", """
            {"type":"object","additionalProperties":false,"required":["name","age","city"],
             "properties":{"name":{"type":"string"},"age":{"type":"integer"},"city":{"type":"string"}}}""");
    static final Task PRODUCT = new Task("Extract the product's name, price and whether it is in stock", """
            {"type":"object","additionalProperties":false,"required":["name","price","inStock"],
             "properties":{"name":{"type":"string"},"price":{"type":"number"},"inStock":{"type":"boolean"}}}""");
    static final Task TICKET = new Task("Classify this support message by category and priority", """
            {"type":"object","additionalProperties":false,"required":["category","priority","summary"],
             "properties":{"category":{"enum":["billing","technical","account"]},
                           "priority":{"enum":["low","medium","high"]},"summary":{"type":"string"}}}""");
    static final Task BOOK = new Task("Extract the book's title, author and year", """
            {"type":"object","additionalProperties":false,"required":["title","author","year"],
             "properties":{"title":{"type":"string"},"author":{"type":"string"},"year":{"type":"integer"}}}""");
    static final Task ORDER = new Task("Extract the customer and the ordered items with their quantities", """
            {"type":"object","additionalProperties":false,"required":["customer","items"],
             "properties":{"customer":{"type":"string"},"items":{"type":"array","items":{"type":"object",
               "additionalProperties":false,"required":["product","quantity"],
               "properties":{"product":{"type":"string"},"quantity":{"type":"integer"}}}}}}""");

    static final List<Case> CASES = List.of(
            new Case(PERSON, "Maria Lopez is a 34-year-old nurse from Madrid.", Map.of("name", "Maria Lopez", "age", 34, "city", "Madrid")),
            new Case(PERSON, "My name is Tom Becker, I am 52 and I live in Hamburg.", Map.of("name", "Tom Becker", "age", 52, "city", "Hamburg")),
            new Case(PERSON, "Yuki, aged 19, moved to Osaka last spring.", Map.of("name", "Yuki", "age", 19, "city", "Osaka")),
            new Case(PERSON, "The new mayor of Lyon, Claire Martin, turned 47 this week.", Map.of("name", "Claire Martin", "age", 47, "city", "Lyon")),
            new Case(PERSON, "Say hello to Ahmed: he's 28 and works in Cairo.", Map.of("name", "Ahmed", "age", 28, "city", "Cairo")),
            new Case(PERSON, "Grandpa Joe celebrated his 90th birthday at home in Dublin.", Map.of("name", "Grandpa Joe", "age", 90, "city", "Dublin")),
            new Case(PERSON, "Priya Sharma (41) runs a bakery in Mumbai.", Map.of("name", "Priya Sharma", "age", 41, "city", "Mumbai")),
            new Case(PERSON, "At 23, Lucas Silva left Recife to study.", Map.of("name", "Lucas Silva", "age", 23, "city", "Recife")),
            new Case(PERSON, "Hans Weber, 61, is a baker in Vienna.", Map.of("name", "Hans Weber", "age", 61, "city", "Vienna")),
            new Case(PERSON, "Name: Aiko Tanaka; age: 31; home: Kyoto.", Map.of("name", "Aiko Tanaka", "age", 31, "city", "Kyoto")),
            new Case(PRODUCT, "The AeroPress coffee maker costs 39.95 and is in stock.", Map.of("name", "AeroPress coffee maker", "price", 39.95, "inStock", true)),
            new Case(PRODUCT, "Sorry, the Trail Runner 2 shoes (89.00) are sold out.", Map.of("name", "Trail Runner 2 shoes", "price", 89.0, "inStock", false)),
            new Case(PRODUCT, "Desk lamp, price 24.5, available now.", Map.of("name", "Desk lamp", "price", 24.5, "inStock", true)),
            new Case(PRODUCT, "We have plenty of the Blue Mug left; it sells for 12.", Map.of("name", "Blue Mug", "price", 12, "inStock", true)),
            new Case(PRODUCT, "The Pixel Watch at 199 is out of stock until May.", Map.of("name", "Pixel Watch", "price", 199, "inStock", false)),
            new Case(PRODUCT, "Garden hose (15 m): 29.99, ships today.", Map.of("name", "Garden hose", "price", 29.99, "inStock", true)),
            new Case(PRODUCT, "No more Wool Scarf in any colour; it was 45.", Map.of("name", "Wool Scarf", "price", 45, "inStock", false)),
            new Case(PRODUCT, "Notebook A5, 3.50 each, in stock.", Map.of("name", "Notebook A5", "price", 3.5, "inStock", true)),
            new Case(PRODUCT, "The Cast Iron Pan costs 59 but none are left.", Map.of("name", "Cast Iron Pan", "price", 59, "inStock", false)),
            new Case(PRODUCT, "USB-C cable, 9.99, available.", Map.of("name", "USB-C cable", "price", 9.99, "inStock", true)),
            new Case(TICKET, "I was charged twice for my subscription this month! Please refund me today.", Map.of("category", "billing", "priority", "high")),
            new Case(TICKET, "The app crashes every time I open the settings page.", Map.of("category", "technical", "priority", "high")),
            new Case(TICKET, "How do I change the email address on my account? No hurry.", Map.of("category", "account", "priority", "low")),
            new Case(TICKET, "Can I get an invoice for last year's payments when you have time?", Map.of("category", "billing", "priority", "low")),
            new Case(TICKET, "I forgot my password and cannot log in.", Map.of("category", "account", "priority", "medium")),
            new Case(TICKET, "Your server returns error 500 for all of our customers right now.", Map.of("category", "technical", "priority", "high")),
            new Case(TICKET, "Please delete my account.", Map.of("category", "account", "priority", "medium")),
            new Case(TICKET, "The export button is a bit slow, not urgent.", Map.of("category", "technical", "priority", "low")),
            new Case(TICKET, "Why did my bill go up by 5 dollars?", Map.of("category", "billing", "priority", "medium")),
            new Case(TICKET, "Two-factor codes never arrive by SMS, I'm locked out of my account.", Map.of("category", "account", "priority", "high")),
            new Case(BOOK, "Pride and Prejudice by Jane Austen came out in 1813.", Map.of("title", "Pride and Prejudice", "author", "Jane Austen", "year", 1813)),
            new Case(BOOK, "George Orwell published Nineteen Eighty-Four in 1949.", Map.of("title", "Nineteen Eighty-Four", "author", "George Orwell", "year", 1949)),
            new Case(BOOK, "In 1851 Herman Melville wrote Moby-Dick.", Map.of("title", "Moby-Dick", "author", "Herman Melville", "year", 1851)),
            new Case(BOOK, "Dune (Frank Herbert, 1965) is a classic.", Map.of("title", "Dune", "author", "Frank Herbert", "year", 1965)),
            new Case(BOOK, "Toni Morrison's Beloved appeared in 1987.", Map.of("title", "Beloved", "author", "Toni Morrison", "year", 1987)),
            new Case(BOOK, "The Hobbit, J. R. R. Tolkien, 1937.", Map.of("title", "The Hobbit", "author", "J. R. R. Tolkien", "year", 1937)),
            new Case(BOOK, "Chinua Achebe wrote Things Fall Apart, published 1958.", Map.of("title", "Things Fall Apart", "author", "Chinua Achebe", "year", 1958)),
            new Case(BOOK, "Published in 1960, To Kill a Mockingbird is by Harper Lee.", Map.of("title", "To Kill a Mockingbird", "author", "Harper Lee", "year", 1960)),
            new Case(BOOK, "Frankenstein was written by Mary Shelley in 1818.", Map.of("title", "Frankenstein", "author", "Mary Shelley", "year", 1818)),
            new Case(BOOK, "Gabriel Garcia Marquez: One Hundred Years of Solitude (1967).", Map.of("title", "One Hundred Years of Solitude", "author", "Gabriel Garcia Marquez", "year", 1967)),
            new Case(ORDER, "Anna Berg ordered 3 mugs and 1 teapot.", Map.of("customer", "Anna Berg", "items", 2)),
            new Case(ORDER, "Omar wants two keyboards.", Map.of("customer", "Omar", "items", 1)),
            new Case(ORDER, "Order from Lena Fischer: 5 pencils, 2 erasers, 1 ruler.", Map.of("customer", "Lena Fischer", "items", 3)),
            new Case(ORDER, "Please send 10 candles to Paul Adams.", Map.of("customer", "Paul Adams", "items", 1)),
            new Case(ORDER, "Customer Sara Kim: 1 laptop stand and 4 cables.", Map.of("customer", "Sara Kim", "items", 2)),
            new Case(ORDER, "Mr. Brown orders 6 bottles of water.", Map.of("customer", "Mr. Brown", "items", 1)),
            new Case(ORDER, "For Nina: 2 scarves, 2 hats.", Map.of("customer", "Nina", "items", 2)),
            new Case(ORDER, "David Green would like 1 bicycle, 1 helmet and 2 lights.", Map.of("customer", "David Green", "items", 3)),
            new Case(ORDER, "Eva Novak ordered 12 eggs.", Map.of("customer", "Eva Novak", "items", 1)),
            new Case(ORDER, "Ship 3 notebooks and 3 pens to Ravi Patel.", Map.of("customer", "Ravi Patel", "items", 2)));

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "smollm2-135m-instruct";
        try (Model model = Model.load(ModelPuller.standard(PullProgress.QUIET).resolve(name, PullPolicy.WHEN_MISSING));
                Engine engine = new Engine(model)) {
            SamplingParams greedy = SamplingParams.builder().temperature(0).maxTokens(256).build();
            System.out.printf("%d prompts on %s, greedy, at most 256 tokens%n%n", CASES.size(), model.path().getFileName());
            System.out.println("| decoding | prompt | parse | validate | fields right | tokens per reply |");
            System.out.println("| --- | --- | --- | --- | --- | --- |");
            run(engine, "free", "instructions + schema", greedy, false, true);
            List<int[]> constrained = run(engine, "constrained", "bare", greedy, true, false);
            run(engine, "constrained", "instructions + schema", greedy, true, true);
            maskCost(model, constrained);
        }
    }

    /** Answers every case; returns each constrained reply's tokens (for the mask's replay). */
    private static List<int[]> run(Engine engine, String decoding, String promptKind, SamplingParams params, boolean constrain,
            boolean instruct) {
        int parsed = 0;
        int valid = 0;
        int right = 0;
        int fields = 0;
        int tokens = 0;
        List<int[]> replies = new ArrayList<>();
        for (Case c : CASES) {
            String prompt = c.task().instruction() + ": " + c.text() + (instruct ? "\n" + FORMAT.formatted(c.task().schema()) : "");
            SamplingParams p = constrain ? params.toBuilder().grammar(JsonGrammar.fromSchema(c.task().schema())).build() : params;
            Conversation conversation = new Conversation(engine, CacheConfig.streaming(4, 2044), false);
            Conversation.Turn turn = conversation.reply(List.of(ChatMessage.user(prompt)), p, text -> { }, () -> false);
            Outcome o = judge(c, turn.text(), turn.completionTokens());
            parsed += o.parsed() ? 1 : 0;
            valid += o.valid() ? 1 : 0;
            right += o.fieldsRight();
            fields += o.fields();
            tokens += o.tokens();
            if (constrain) {
                replies.add(engine.model().tokenizer().encode(turn.text(), false, false));
            }
        }
        int n = CASES.size();
        System.out.printf("| %s | %s | %d/%d | %d/%d | %d/%d | %.0f |%n", decoding, promptKind, parsed, n, valid, n, right, fields,
                (double) tokens / n);
        return replies;
    }

    static Outcome judge(Case c, String reply, int tokens) {
        String text = reply.strip();
        if (text.startsWith("```")) {
            text = text.substring(text.indexOf('\n') + 1);
            text = text.endsWith("```") ? text.substring(0, text.length() - 3) : text;
        }
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (RuntimeException e) {
            return new Outcome(false, false, 0, c.expected().size(), tokens);
        }
        Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(c.task().schema());
        boolean valid = schema.validate(text, InputFormat.JSON).isEmpty();
        int right = 0;
        for (Map.Entry<String, Object> e : c.expected().entrySet()) {
            JsonNode value = node.get(e.getKey());
            right += value != null && matches(value, e.getValue()) ? 1 : 0;
        }
        return new Outcome(true, valid, right, c.expected().size(), tokens);
    }

    /** A string equal ignoring case and surrounding space, a number equal, a boolean equal; for an array, its size. */
    private static boolean matches(JsonNode value, Object expected) {
        return switch (expected) {
            case String s -> value.isString() && value.asString().strip().toLowerCase(Locale.ROOT).equals(s.toLowerCase(Locale.ROOT));
            case Boolean b -> value.isBoolean() && value.booleanValue() == b;
            case Integer i when value.isArray() -> value.size() == i;
            case Number n -> value.isNumber() && value.doubleValue() == n.doubleValue();
            default -> false;
        };
    }

    /**
     * The mask's cost per token: each constrained reply's tokens replayed through a grammar sampler (the same masks as
     * in the run, since a mask depends only on the tokens before it), minus the same sampling without a grammar;
     * against one decode step of the model.
     */
    private static void maskCost(Model model, List<int[]> replies) {
        int vocabulary = model.config().vocabularySize();
        long[] best = {Long.MAX_VALUE, Long.MAX_VALUE};
        int tokens = 0;
        for (int round = 0; round < 3; round++) {
            long masked = 0;
            long plain = 0;
            tokens = 0;
            for (int c = 0; c < replies.size(); c++) {
                int[] reply = replies.get(c);
                SamplingParams greedy = SamplingParams.builder().temperature(0).build();
                Sampler withGrammar = new Sampler(greedy.toBuilder().grammar(JsonGrammar.fromSchema(CASES.get(c).task().schema())).build(),
                        model.tokenizer());
                Sampler without = new Sampler(greedy, model.tokenizer());
                for (int token : reply) {
                    float[] logits = new float[vocabulary];
                    logits[token] = 1;
                    long t0 = System.nanoTime();
                    withGrammar.sample(logits);
                    long t1 = System.nanoTime();
                    without.sample(logits);
                    long t2 = System.nanoTime();
                    withGrammar.accept(token);
                    masked += t1 - t0;
                    plain += t2 - t1;
                    tokens++;
                }
            }
            best[0] = Math.min(best[0], masked);
            best[1] = Math.min(best[1], plain);
        }
        double maskMicros = (best[0] - best[1]) / 1e3 / tokens;

        Session session = new Session(model.decoder(), CacheConfig.streaming(4, 2044));
        int[] prompt = model.tokenizer().encode(model.chatTemplate().render(List.of(ChatMessage.user("Tell me about the sea.")), true), false, true);
        float[] logits = session.prefill(prompt);
        int steps = 64;
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            logits = session.decode(Sampler.argmax(logits));
        }
        double decodeMicros = (System.nanoTime() - t0) / 1e3 / steps;
        System.out.printf("%nmask: %.0f us per token (mean over %d tokens of the constrained replies, best of 3 rounds);"
                + " decode on %s: %.0f us per token; mask / decode = %.1f%%%n", maskMicros, tokens,
                model.backend().backend(), decodeMicros, 100 * maskMicros / decodeMicros);
    }
}
