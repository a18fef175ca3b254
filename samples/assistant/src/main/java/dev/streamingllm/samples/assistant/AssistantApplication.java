package dev.streamingllm.samples.assistant;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;

/**
 * The assistant: the starter's OpenAI-compatible API ({@code streamingllm.web.enabled=true}) plus the chat page
 * in {@code static/}. Everything else is configuration (application.properties).
 */
@SpringBootApplication
public class AssistantApplication {

    public static void main(String[] args) {
        SpringApplication.run(AssistantApplication.class, args);
    }

    /** Tells where to point a browser, once the model's warm-up has run and the first reply comes at full speed. */
    @Bean
    ApplicationListener<ApplicationReadyEvent> announceUrl() {
        return event -> System.out.println("StreamingLLM assistant ready at http://localhost:"
                + ((WebServerApplicationContext) event.getApplicationContext()).getWebServer().getPort() + "/");
    }
}
