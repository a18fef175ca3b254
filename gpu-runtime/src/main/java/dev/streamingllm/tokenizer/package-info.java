/**
 * Tokenizers for GGUF vocabularies that give llama.cpp's token ids: {@link dev.streamingllm.tokenizer.Tokenizer}
 * ({@code Tokenizer.fromGGUF}) and {@link dev.streamingllm.tokenizer.TokenDecoder} for streamed output.
 *
 * <p>Where this package knowingly differs from llama.cpp:
 * <ul>
 *   <li>Decoding never applies {@code clean_up_tokenization_spaces} (" ," to ","), so text round-trips exactly; and
 *       the SentencePiece space prefix is also removed after a leading BOS, so that
 *       {@code decode(encode(s, true, false))} is {@code s}.</li>
 *   <li>A {@code gpt2} vocabulary without BOS/EOS ids has none ({@code -1}), not llama.cpp's Falcon default 11.</li>
 *   <li>Characters a byte-level BPE token cannot spell decode as themselves, not as llama.cpp's
 *       {@code [UNK_BYTE_...]}; a SentencePiece vocabulary without byte tokens falls back to its unknown token where
 *       llama.cpp throws.</li>
 *   <li>Unicode categories come from the JDK, not llama.cpp's generated tables (a different Unicode version can only
 *       matter for newly assigned characters).</li>
 *   <li>Tokens llama.cpp finds by text when the file names no EOT/EOM/FIM id are taken lowest id first; its
 *       model-specific fix-ups for gpt-oss and gemma4 are not applied.</li>
 * </ul>
 */
package dev.streamingllm.tokenizer;
