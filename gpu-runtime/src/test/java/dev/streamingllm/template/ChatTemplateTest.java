package dev.streamingllm.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.model.Model;
import dev.streamingllm.testing.Shared;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {

    private static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system("You are terse."),
            ChatMessage.user("Hi"),
            ChatMessage.assistant("Hello."),
            ChatMessage.user("Bye"));

    /** TinyLlama-1.1B-Chat's tokenizer_config.json template (Zephyr style), verbatim. */
    private static final String TINYLLAMA = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    /** Qwen2.5-Instruct's template without the tool-calling branches: ChatML with a default system prompt. */
    private static final String QWEN = "{%- if messages[0]['role'] == 'system' %}\n    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n{%- else %}\n    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\") %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";

    /** Mistral-Instruct v0.1's template: refuses conversations that do not alternate. */
    private static final String MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

    @Test
    void rendersTheBuiltIns() {
        assertThat(ChatTemplate.builtin("chatml", "<s>", "</s>").render(CONVERSATION, true)).isEqualTo(
                "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
        assertThat(ChatTemplate.builtin("llama3", "<|begin_of_text|>", "<|eot_id|>").render(CONVERSATION.subList(0, 2), true)).isEqualTo(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(ChatTemplate.builtin("llama2", "<s>", "</s>").render(CONVERSATION, true)).isEqualTo(
                "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]");
        assertThat(ChatTemplate.builtin("zephyr", "<s>", "</s>").render(CONVERSATION.subList(1, 2), true)).isEqualTo(
                "<|user|>\nHi</s>\n<|assistant|>\n");
    }

    @Test
    void rendersRealModelTemplates() {
        assertThat(ChatTemplate.of("tinyllama", TINYLLAMA, "<s>", "</s>").render(CONVERSATION, true)).isEqualTo(
                "<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye</s>\n<|assistant|>\n");
        assertThat(ChatTemplate.of("qwen2.5", QWEN, "", "<|im_end|>").render(CONVERSATION.subList(1, 2), true)).isEqualTo(
                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                        + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        assertThat(ChatTemplate.of("mistral", MISTRAL, "<s>", "</s>").render(CONVERSATION.subList(1, 4), true)).isEqualTo(
                "<s>[INST] Hi [/INST]Hello.</s> [INST] Bye [/INST]");
    }

    @Test
    void aTemplateThatRefusesTheConversationSaysWhy() {
        ChatTemplate mistral = ChatTemplate.of("mistral", MISTRAL, "<s>", "</s>");
        assertThatThrownBy(() -> mistral.render(CONVERSATION, true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("mistral")
                .hasMessageContaining("Conversation roles must alternate");
    }

    @Test
    void unknownBuiltInsAndBrokenTemplatesAreClearErrors() {
        assertThatThrownBy(() -> ChatTemplate.builtin("vicuna", "", "")).hasMessageContaining("unknown chat template 'vicuna'")
                .hasMessageContaining("chatml, llama2, llama3, zephyr");
        assertThatThrownBy(() -> ChatTemplate.of("broken", "{% for m in messages %}{{ m.content }}", "", "").render(CONVERSATION, true))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("broken");
    }

    @Test
    void aModelWithoutATemplateGetsChatMl() {
        try (Model model = Model.load(Shared.model("stories260K.gguf"))) {
            assertThat(model.chatTemplate().name()).isEqualTo("chatml");
            assertThat(model.chatTemplate().render(List.of(ChatMessage.user("Hi")), true)).startsWith("<|im_start|>user\nHi");
        }
    }
}
