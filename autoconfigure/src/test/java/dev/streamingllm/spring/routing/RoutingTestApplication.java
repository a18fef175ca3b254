package dev.streamingllm.spring.routing;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** An application instance for the multi-instance tests: only the starter's auto-configuration (HTTP API, routing). */
@SpringBootApplication(proxyBeanMethods = false)
public class RoutingTestApplication {

    public static void main(String[] args) {
        SpringApplication.run(RoutingTestApplication.class, args);
    }
}
