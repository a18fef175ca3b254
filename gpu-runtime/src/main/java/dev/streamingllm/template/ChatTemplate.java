package dev.streamingllm.template;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a conversation into prompt text with a Jinja chat template: the model's own
 * {@code tokenizer.chat_template} when the file has one, else a built-in template.
 */
public final class ChatTemplate {

    /** Built-in templates for files that carry none. */
    public static final Map<String, String> BUILTIN = new TreeMap<>(Map.of(
            "chatml", """
                    {%- for message in messages -%}
                    {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}
                    {%- endfor -%}
                    {%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}""",
            "llama2", """
                    {%- if messages[0]['role'] == 'system' -%}
                    {%- set system = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' -%}{%- set loop_messages = messages[1:] -%}
                    {%- else -%}{%- set system = '' -%}{%- set loop_messages = messages -%}{%- endif -%}
                    {%- for message in loop_messages -%}
                    {%- if message['role'] == 'user' -%}
                    {{ bos_token + '[INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}
                    {%- elif message['role'] == 'assistant' -%}
                    {{ ' ' + message['content'] + ' ' + eos_token }}
                    {%- endif -%}
                    {%- endfor -%}""",
            "llama3", """
                    {{- bos_token -}}
                    {%- for message in messages -%}
                    {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}
                    {%- endfor -%}
                    {%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}""",
            "zephyr", """
                    {%- for message in messages -%}
                    {{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}
                    {%- endfor -%}
                    {%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"""));

    private static final Jinjava JINJAVA = newEngine();

    private final String name;
    private final String source;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String name, String source, String bosToken, String eosToken) {
        this.name = name;
        this.source = source;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /** A template from Jinja source, e.g. a GGUF file's {@code tokenizer.chat_template}. */
    public static ChatTemplate of(String name, String source, String bosToken, String eosToken) {
        return new ChatTemplate(name, source, bosToken, eosToken);
    }

    /** A built-in template: chatml, llama2, llama3 or zephyr. */
    public static ChatTemplate builtin(String name, String bosToken, String eosToken) {
        String source = BUILTIN.get(name.toLowerCase(Locale.ROOT));
        if (source == null) {
            throw new ChatTemplateException("unknown chat template '" + name + "' (built-in: " + String.join(", ", BUILTIN.keySet()) + ")");
        }
        return new ChatTemplate(name.toLowerCase(Locale.ROOT), source, bosToken, eosToken);
    }

    /** Where the text came from: the model file's template or a built-in name. */
    public String name() {
        return name;
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> context = new HashMap<>();
        context.put("messages", messages.stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList());
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        RenderResult result;
        try {
            result = JINJAVA.renderForResult(source, context);
        } catch (RuntimeException e) {
            throw new ChatTemplateException("chat template '" + name + "' failed: " + rootMessage(e), e);
        }
        List<TemplateError> errors = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .toList();
        if (!errors.isEmpty()) {
            TemplateError error = errors.get(0);
            // raise_exception's own message is the useful one; Jinjava wraps it.
            String message = error.getException() != null ? rootMessage(error.getException()) : error.getMessage();
            throw new ChatTemplateException("chat template '" + name + "' failed: " + message
                    + (error.getLineno() > 0 ? " (line " + error.getLineno() + ")" : ""));
        }
        return result.getOutput();
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null && e.getCause() != e) {
            e = e.getCause();
        }
        return e.getMessage();
    }

    /** Called by templates as {@code raise_exception('...')} to refuse a conversation. */
    public static String raiseException(String message) {
        throw new ChatTemplateException(message);
    }

    private static Jinjava newEngine() {
        // Hugging Face renders chat templates with trim_blocks and lstrip_blocks; so must we.
        // Jinjava's legacy defaults differ from Python Jinja2; real templates need {{- -}} trimming,
        // Python operator precedence and Python's backslash handling.
        LegacyOverrides jinja2 = LegacyOverrides.newBuilder()
                .withUseTrimmingForNotesAndExpressions(true)
                .withParseWhitespaceControlStrictly(true)
                .withUseNaturalOperatorPrecedence(true)
                .withHandleBackslashInQuotesOnly(true)
                .withKeepNullableLoopValues(true)
                .build();
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(jinja2)
                .build());
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        return jinjava;
    }
}
