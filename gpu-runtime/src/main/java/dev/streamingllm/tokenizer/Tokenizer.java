package dev.streamingllm.tokenizer;

import static dev.streamingllm.tokenizer.TokenAttributes.BYTE;
import static dev.streamingllm.tokenizer.TokenAttributes.CONTROL;
import static dev.streamingllm.tokenizer.TokenAttributes.NORMAL;
import static dev.streamingllm.tokenizer.TokenAttributes.UNKNOWN;
import static dev.streamingllm.tokenizer.TokenAttributes.USER_DEFINED;

import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.gguf.GGUFFile;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * Text to token ids and back, for the vocabulary stored in a GGUF file, giving the same ids as llama.cpp
 * (llama_tokenize). Instances are immutable and thread-safe.
 *
 * <p>Encoding first cuts special tokens out of the text ({@link Fragment#partition}), then hands each piece of
 * text to the vocabulary's model: SentencePiece-style merges by score ({@code tokenizer.ggml.model = llama}) or
 * byte-level BPE by merge rank ({@code gpt2}).
 */
public abstract sealed class Tokenizer permits SpmTokenizer, BpeTokenizer {

    private static final byte[] NO_BYTES = {};

    final Vocabulary vocab;
    /** What each token adds to the text; empty for control and unknown tokens (llama_token_to_piece, special = false). */
    private final byte[][] pieces;

    Tokenizer(Vocabulary vocab, Function<String, byte[]> normalPiece) {
        this.vocab = vocab;
        this.pieces = new byte[vocab.size()][];
        for (int id = 0; id < vocab.size(); id++) {
            String text = vocab.tokens[id];
            if (vocab.has(id, CONTROL | UNKNOWN)) {
                pieces[id] = NO_BYTES;
            } else if (vocab.has(id, USER_DEFINED)) {
                pieces[id] = text.getBytes(StandardCharsets.UTF_8);
            } else if (vocab.has(id, NORMAL)) {
                pieces[id] = normalPiece.apply(text);
            } else if (vocab.has(id, BYTE)) {
                pieces[id] = new byte[] {(byte) Integer.parseInt(text.substring(3, 5), 16)}; // <0xXX>
            } else {
                pieces[id] = NO_BYTES; // unused and undefined tokens
            }
        }
    }

    /**
     * The tokenizer for {@code gguf}'s vocabulary, chosen by {@code tokenizer.ggml.model}.
     *
     * @throws GGUFException if the vocabulary is missing or uses a model or pre-tokenizer this runtime lacks
     */
    public static Tokenizer fromGGUF(GGUFFile gguf) {
        String model = gguf.getString("tokenizer.ggml.model");
        return switch (model) {
            case "llama" -> SpmTokenizer.load(gguf);
            case "gpt2" -> BpeTokenizer.load(gguf);
            default -> throw new GGUFException(gguf.path(),
                    "unsupported tokenizer model '" + model + "' in tokenizer.ggml.model (supported: llama, gpt2)");
        };
    }

    /**
     * Token ids for {@code text}.
     *
     * @param addSpecial   add BOS (and EOS) as {@code tokenizer.ggml.add_bos_token} / {@code add_eos_token} ask
     * @param parseSpecial recognise control-token text such as {@code <|im_start|>} in the input; when false it is
     *                     tokenized as ordinary text (user-defined tokens are recognised either way)
     */
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntStream.Builder ids = IntStream.builder();
        if (addSpecial && vocab.addBos) {
            ids.add(vocab.bos);
        }
        boolean afterSpecial = true; // the start of the text counts as following a special token
        for (Fragment fragment : Fragment.partition(text, vocab, parseSpecial)) {
            switch (fragment) {
                case Fragment.Text(String raw) -> {
                    encodeText(raw, afterSpecial, ids);
                    afterSpecial = false;
                }
                case Fragment.Token(int id) -> {
                    ids.add(id);
                    afterSpecial = true;
                }
            }
        }
        if (addSpecial && vocab.addEos) {
            ids.add(vocab.eos);
        }
        return ids.build().toArray();
    }

    /** Tokenizes non-empty text that holds no special tokens; {@code afterSpecial} when it starts the input or follows one. */
    abstract void encodeText(String text, boolean afterSpecial, IntStream.Builder ids);

    /**
     * The text of {@code tokens}: control and unknown tokens add nothing, and when the vocabulary adds a space prefix
     * (SentencePiece), the space that encoding put before the first word is removed, so that
     * {@code decode(encode(s, addSpecial, false))} gives {@code s} back. Bytes that are not valid UTF-8 become U+FFFD.
     */
    public String decode(int[] tokens) {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        int first = tokens.length > 0 && tokens[0] == vocab.bos ? 1 : 0;
        for (int i = 0; i < tokens.length; i++) {
            byte[] piece = bytes(tokens[i]);
            int skip = i == first && vocab.addSpacePrefix && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
            text.write(piece, skip, piece.length - skip);
        }
        return text.toString(StandardCharsets.UTF_8);
    }

    /**
     * The bytes {@code token} adds to the text, which need not be whole UTF-8 characters (byte tokens, byte-level BPE);
     * see {@link TokenDecoder} to turn a stream of tokens into text.
     */
    public byte[] decodeBytes(int token) {
        return bytes(token).clone();
    }

    /** A decoder for a stream of generated tokens. */
    public TokenDecoder newDecoder() {
        return new TokenDecoder(this);
    }

    /** The BOS token id, or -1 if the vocabulary has none. */
    public int bos() {
        return vocab.bos;
    }

    /** The EOS token id, or -1 if the vocabulary has none. */
    public int eos() {
        return vocab.eos;
    }

    /**
     * Whether generation should stop at {@code id}: EOS, EOT and EOM, FIM pad/repo/separator tokens, and tokens such
     * as {@code <|im_end|>}, {@code <|eot_id|>} or {@code <|end|>}, as llama.cpp's llama_vocab_is_eog.
     */
    public boolean isEndOfGeneration(int id) {
        return vocab.isEndOfGeneration(id);
    }

    public int vocabularySize() {
        return vocab.size();
    }

    /** The token's text as stored in the vocabulary ({@code ▁} for spaces in SentencePiece, {@code Ġ} in byte-level BPE). */
    public String piece(int id) {
        checkId(id);
        return vocab.tokens[id];
    }

    /** Whether {@code id} is a control or user-defined token ({@code tokenizer.ggml.token_type} 3 or 4). */
    public boolean isSpecial(int id) {
        checkId(id);
        return vocab.has(id, CONTROL | USER_DEFINED);
    }

    private byte[] bytes(int token) {
        checkId(token);
        return pieces[token];
    }

    private void checkId(int id) {
        if (id < 0 || id >= vocab.size()) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + vocab.size() + " tokens");
        }
    }
}
