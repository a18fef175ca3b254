package dev.streamingllm.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class JsonAutomatonTest {

    static final String PERSON = """
            {"type":"object","additionalProperties":false,"required":["name","age","email"],
             "properties":{"name":{"type":"string"},"age":{"type":"integer"},
                           "nickname":{"type":"string"},"email":{"type":"string"}}}""";

    /** Whether {@code grammar} takes {@code document} whole; a document the automaton rejects midway is not. */
    static boolean accepts(JsonGrammar grammar, String document) {
        JsonAutomaton automaton = new JsonAutomaton(grammar);
        int[] stack = JsonAutomaton.newStack();
        int top = automaton.start(stack);
        for (byte b : document.getBytes(StandardCharsets.UTF_8)) {
            top = automaton.step(stack, top, b & 0xFF);
            if (top < 0) {
                return false;
            }
        }
        return automaton.canEnd(stack, top);
    }

    static boolean accepts(String schema, String document) {
        return accepts(JsonGrammar.fromSchema(schema), document);
    }

    @Test
    void objectsTakeTheirRequiredPropertiesInOrderAndMayLeaveOutOptionalOnes() {
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31,\"email\":\"ann@example.com\"}")).isTrue();
        assertThat(accepts(PERSON, "{ \"name\" : \"Ann\" , \"age\" : 31 , \"nickname\":\"A\", \"email\" : \"a@b\" }")).isTrue();
        assertThat(accepts(PERSON, "{\n  \"name\": \"Ann\",\n  \"age\": -7,\n  \"email\": \"\"\n}")).isTrue();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31}")).as("a required property missing").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31,\"email\":\"x\",\"extra\":1}")).as("an unknown property").isFalse();
        assertThat(accepts(PERSON, "{\"age\":31,\"name\":\"Ann\",\"email\":\"x\"}")).as("out of the schema's order").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":\"31\",\"email\":\"x\"}")).as("a string for an integer").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31.5,\"email\":\"x\"}")).as("a fraction for an integer").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31,\"email\":\"x\",}")).as("a trailing comma").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31,\"email\":\"x\"")).as("unclosed").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"Ann\",\"age\":31,\"email\":\"x\"} ")).as("anything after the end").isFalse();
        assertThat(accepts(PERSON, "[]")).isFalse();
    }

    @Test
    void stringsTakeEscapesAndUnicodeButNotControlCharacters() {
        String schema = "{\"type\":\"string\"}";
        assertThat(accepts(schema, "\"caf\u00e9 \u65e5\u672c \uD83D\uDE00\"")).isTrue();
        assertThat(accepts(schema, "\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\"")).isTrue();
        assertThat(accepts(schema, "\"line\nbreak\"")).isFalse();
        assertThat(accepts(schema, "\"bad \\x escape\"")).isFalse();
        assertThat(accepts(schema, "\"bad \\u12G4\"")).isFalse();
        assertThat(accepts(schema, "'single'")).isFalse();
        assertThat(accepts("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"\u00e9\u00e9\u00e9\"")).as("3 characters, 6 bytes").isTrue();
        assertThat(accepts("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"abcd\"")).isFalse();
        assertThat(accepts("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"a\"")).isFalse();
        assertThat(accepts(schema, "\"" + "x".repeat(JsonGrammar.DEFAULT_MAX_LENGTH) + "\"")).isTrue();
        assertThat(accepts(schema, "\"" + "x".repeat(JsonGrammar.DEFAULT_MAX_LENGTH + 1) + "\"")).as("the default cap").isFalse();
    }

    @Test
    void numbersFollowJsonsGrammar() {
        String number = "{\"type\":\"number\"}";
        for (String valid : new String[] {"0", "-0", "12", "-3.25", "1e9", "1.5E-3", "0.0", "2e+2"}) {
            assertThat(accepts(number, valid)).as(valid).isTrue();
        }
        for (String invalid : new String[] {"01", "-", "1.", ".5", "1e", "+1", "1.2.3", "NaN", "1" + "0".repeat(30)}) {
            assertThat(accepts(number, invalid)).as(invalid).isFalse();
        }
        assertThat(accepts("{\"type\":\"integer\"}", "-42")).isTrue();
        assertThat(accepts("{\"type\":\"integer\"}", "4.0")).isFalse();
        assertThat(accepts("{\"type\":\"integer\"}", "4e2")).isFalse();
    }

    @Test
    void enumsConstantsBooleansAndNull() {
        String colour = "{\"enum\":[\"red\",\"green\",\"greenish\"]}";
        assertThat(accepts(colour, "\"green\"")).isTrue();
        assertThat(accepts(colour, "\"greenish\"")).isTrue();
        assertThat(accepts(colour, "\"gree\"")).isFalse();
        assertThat(accepts(colour, "\"blue\"")).isFalse();
        assertThat(accepts("{\"enum\":[1,12,\"x\",null]}", "1")).as("a constant that another extends").isTrue();
        assertThat(accepts("{\"enum\":[1,12,\"x\",null]}", "12")).isTrue();
        assertThat(accepts("{\"enum\":[1,12,\"x\",null]}", "[1,12]")).isFalse();
        String inArray = "{\"type\":\"array\",\"items\":{\"enum\":[1,12]}}";
        assertThat(accepts(inArray, "[1,12,1]")).isTrue();
        assertThat(accepts(inArray, "[1 ,12 ]")).isTrue();
        assertThat(accepts(inArray, "[13]")).isFalse();
        assertThat(accepts("{\"const\":\"only\"}", "\"only\"")).isTrue();
        assertThat(accepts("{\"type\":\"boolean\"}", "false")).isTrue();
        assertThat(accepts("{\"type\":\"boolean\"}", "fals")).isFalse();
        assertThat(accepts("{\"type\":\"boolean\"}", "null")).isFalse();
        assertThat(accepts("{\"type\":[\"string\",\"null\"]}", "null")).isTrue();
        assertThat(accepts("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"null\"}]}", "7")).isTrue();
    }

    @Test
    void arraysNestingAndReferences() {
        String schema = """
                {"type":"object","required":["items"],"properties":{"items":{"type":"array","minItems":1,"maxItems":2,
                 "items":{"$ref":"#/$defs/item"}}},
                 "$defs":{"item":{"type":"object","required":["sku","tags"],"properties":{
                   "sku":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}}}}}""";
        assertThat(accepts(schema, "{\"items\":[{\"sku\":\"a\",\"tags\":[]},{\"sku\":\"b\",\"tags\":[\"x\",\"y\"]}]}")).isTrue();
        assertThat(accepts(schema, "{\"items\":[]}")).as("below minItems").isFalse();
        assertThat(accepts(schema, "{\"items\":[{\"sku\":\"a\",\"tags\":[]},{\"sku\":\"b\",\"tags\":[]},{\"sku\":\"c\",\"tags\":[]}]}"))
                .as("above maxItems").isFalse();
        assertThat(accepts(schema, "{\"items\":[{\"sku\":\"a\",\"tags\":[1]}]}")).isFalse();
        String tree = "{\"type\":\"object\",\"required\":[\"children\"],\"properties\":{\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}";
        assertThat(accepts(tree, "{\"children\":[{\"children\":[]},{\"children\":[{\"children\":[]}]}]}")).as("recursive").isTrue();
    }

    @Test
    void anyObjectTakesEveryJsonObjectAndNothingElse() {
        JsonGrammar any = JsonGrammar.anyObject();
        assertThat(accepts(any, "{}")).isTrue();
        assertThat(accepts(any, "{\"a\":[1,2.5,{\"b\":null}],\"c\":\"d\",\"e\":true,\"f\":{}}")).isTrue();
        assertThat(accepts(any, "[1]")).isFalse();
        assertThat(accepts(any, "\"text\"")).isFalse();
        assertThat(accepts(any, "{\"a\":1,}")).isFalse();
        assertThat(accepts(any, "{\"a\" 1}")).isFalse();
        assertThat(accepts(any, "{a:1}")).isFalse();
    }

    @Test
    void whitespaceBetweenTokensIsLimited() {
        String ws = " ".repeat(JsonAutomaton.MAX_WHITESPACE);
        assertThat(accepts(JsonGrammar.anyObject(), ws + "{" + ws + "\"a\"" + ws + ":" + ws + "1" + ws + "}")).isTrue();
        assertThat(accepts(JsonGrammar.anyObject(), "{" + ws + " \"a\":1}")).isFalse();
        assertThat(accepts(JsonGrammar.anyObject(), "{\"a\":1\n" + " ".repeat(JsonAutomaton.MAX_WHITESPACE - 1) + "}")).isTrue();
        assertThat(accepts(JsonGrammar.anyObject(), "{\"a\":1\n\n}")).as("two line feeds").isFalse();
        assertThat(accepts(JsonGrammar.anyObject(), "{\"a\":1\r\n}")).as("carriage return").isFalse();
    }

    @Test
    void theShortestEndingCountsWhatIsStillDue() {
        JsonGrammar person = JsonGrammar.fromSchema(PERSON);
        String shortest = "{\"name\":\"\",\"age\":0,\"email\":\"\"}";
        assertThat(accepts(person, shortest)).isTrue();
        assertThat(closingBytes(person, "")).isEqualTo(shortest.length());
        assertThat(closingBytes(person, "{\"name\":\"Ann")).isEqualTo("\",\"age\":0,\"email\":\"\"}".length());
        assertThat(closingBytes(person, "{\"name\":\"Ann\",\"age\":3")).isEqualTo(",\"email\":\"\"}".length());
        assertThat(closingBytes(person, "{\"name\":\"Ann\",\"age\":3,\"ni")).as("nickname, then email").isEqualTo(
                "ckname\":\"\",\"email\":\"\"}".length());
        assertThat(closingBytes(person, "{\"name\":\"Ann\",\"age\":3,\"email\":\"a\"}")).isZero();
        JsonGrammar list = JsonGrammar.fromSchema("{\"type\":\"array\",\"minItems\":2,\"items\":{\"enum\":[\"yes\",\"no\"]}}");
        assertThat(closingBytes(list, "")).isEqualTo("[\"no\",\"no\"]".length());
        assertThat(closingBytes(list, "[\"y")).isEqualTo("es\",\"no\"]".length());
    }

    private static int closingBytes(JsonGrammar grammar, String prefix) {
        JsonAutomaton automaton = new JsonAutomaton(grammar);
        int[] stack = JsonAutomaton.newStack();
        int top = automaton.start(stack);
        for (byte b : prefix.getBytes(StandardCharsets.UTF_8)) {
            top = automaton.step(stack, top, b & 0xFF);
        }
        assertThat(top).as(prefix).isNotNegative();
        return automaton.closingBytes(stack, top);
    }

    @Test
    void unsupportedConstructsAreRefusedByNameAndPlace() {
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"type\":\"object\",\"properties\":{\"email\":{\"type\":\"string\",\"pattern\":\"@\"}}}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unsupported JSON Schema keyword \"pattern\" at #/properties/email");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"oneOf\":[{\"type\":\"string\"}]}"))
                .hasMessage("unsupported JSON Schema keyword \"oneOf\" at #");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"type\":\"integer\",\"minimum\":0}"))
                .hasMessage("unsupported JSON Schema keyword \"minimum\" at #");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"object\",\"properties\":{\"a\":{}}}]}"))
                .hasMessage("alternatives that both start with '{' (object and object) are not supported, at #");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"type\":\"date\"}")).hasMessage("unknown JSON Schema type \"date\" at #");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"$ref\":\"#/$defs/missing\"}"))
                .hasMessage("\"$ref\" at # points to nothing: #/$defs/missing");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{\"required\":[\"a\"],\"properties\":{\"b\":{}}}"))
                .hasMessage("required property \"a\" is not in \"properties\" at #");
        assertThatThrownBy(() -> JsonGrammar.fromSchema("{not json")).hasMessageStartingWith("the JSON schema is not valid JSON");
        assertThat(JsonGrammar.fromSchema("{\"type\":\"string\",\"format\":\"date\",\"description\":\"when\"}")).as("annotations").isNotNull();
    }
}
