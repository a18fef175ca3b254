package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** OpenAI's {@code GET /v1/models}: the one model this server runs. */
public record ModelList(String object, List<ModelCard> data) {

    public ModelList(List<ModelCard> data) {
        this("list", data);
    }

    public record ModelCard(String id, String object, long created, @JsonProperty("owned_by") String ownedBy) {

        public ModelCard(String id, long created) {
            this(id, "model", created, "streamingllm");
        }
    }
}
