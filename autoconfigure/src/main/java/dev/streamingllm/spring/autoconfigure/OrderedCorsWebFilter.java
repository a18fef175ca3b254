package dev.streamingllm.spring.autoconfigure;

import org.springframework.core.Ordered;
import org.springframework.web.cors.reactive.CorsConfigurationSource;
import org.springframework.web.cors.reactive.CorsWebFilter;

/** Spring's CORS filter at a given order: the HTTP API's must answer preflights and tag refusals before its API filter. */
class OrderedCorsWebFilter extends CorsWebFilter implements Ordered {

    private final int order;

    OrderedCorsWebFilter(CorsConfigurationSource source, int order) {
        super(source);
        this.order = order;
    }

    @Override
    public int getOrder() {
        return order;
    }
}
