/**
 * What the HTTP API ({@code web}) and session routing ({@code routing}) share about a request: the client and
 * conversation id it names, kept as exchange attributes; the OpenAI-style error it is refused with; and which client
 * owns each conversation. Neither of those packages depends on the other.
 */
package dev.streamingllm.spring.api;
