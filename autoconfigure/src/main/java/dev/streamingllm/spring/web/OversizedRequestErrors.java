package dev.streamingllm.spring.web;

import dev.streamingllm.spring.api.ApiException;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import org.springframework.http.HttpStatus;
import tools.jackson.databind.json.JsonMapper;

/**
 * Gives the answers Reactor Netty sends itself, with an empty body, to a request it cannot decode — headers too large
 * (431), a URL too long (414) — the API's error body. They are sent before any handler runs, so the path is unknown:
 * every such answer of the server gets it. Sits in each connection's pipeline after the HTTP codec.
 */
@ChannelHandler.Sharable
public final class OversizedRequestErrors extends ChannelDuplexHandler {

    private final byte[] headersTooLarge;
    private final byte[] urlTooLong;

    public OversizedRequestErrors(JsonMapper json) {
        this.headersTooLarge = json.writeValueAsBytes(new ApiException(HttpStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                "invalid_request_error", "request_headers_too_large", "The request's headers are larger than this server's limit"
                        + " (server.max-http-request-header-size).").body());
        this.urlTooLong = json.writeValueAsBytes(new ApiException(HttpStatus.URI_TOO_LONG, "invalid_request_error",
                "url_too_long", "The request's URL is longer than this server's limit.").body());
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof FullHttpResponse response && response.content().readableBytes() == 0) {
            byte[] body = switch (response.status().code()) {
                case 431 -> headersTooLarge;
                case 414 -> urlTooLong;
                default -> null;
            };
            if (body != null) {
                FullHttpResponse withBody = response.replace(Unpooled.wrappedBuffer(body));
                withBody.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
                response.release();
                ctx.write(withBody, promise);
                return;
            }
        }
        ctx.write(msg, promise);
    }
}
