package dev.streamingllm.spring.routing;

import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.TurnRequest;
import dev.streamingllm.spring.session.TurnResult;
import dev.streamingllm.template.ChatMessage;
import java.util.List;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** An application instance for the multi-instance tests: one greedy turn per request, the whole history in the body. */
@SpringBootApplication(proxyBeanMethods = false)
public class RoutingTestApplication {

    static final SamplingParams GREEDY = SamplingParams.builder().temperature(0).maxTokens(16).build();

    public static void main(String[] args) {
        SpringApplication.run(RoutingTestApplication.class, args);
    }

    @RestController
    static class TurnController {

        private final ChatSessions sessions;

        TurnController(ChatSessions sessions) {
            this.sessions = sessions;
        }

        @PostMapping("/turn")
        Mono<Map<String, Object>> turn(@RequestHeader(RoutingWebFilter.CONVERSATION_ID) String id, @RequestBody List<ChatMessage> messages) {
            return Mono.fromCallable(() -> {
                TurnResult result = sessions.turn(new TurnRequest(id, messages, GREEDY), text -> { }, () -> false);
                return Map.<String, Object>of("text", result.text(), "reset", result.reset(), "tokensSeen", result.session().tokensSeen());
            }).subscribeOn(Schedulers.boundedElastic());
        }
    }
}
