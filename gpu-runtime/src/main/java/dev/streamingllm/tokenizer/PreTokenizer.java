package dev.streamingllm.tokenizer;

import dev.streamingllm.gguf.GGUFException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How a byte-level BPE vocabulary splits text into words before merging, chosen by {@code tokenizer.ggml.pre}
 * exactly as llama.cpp does (llama_vocab_pre_type and the regex lists of llm_tokenizer_bpe): each regex in
 * turn refines the words of the one before. The regexes are llama.cpp's, character for character, except that
 * non-ASCII literals are written as escapes.
 *
 * @param ignoreMerges whether a word that is itself a token skips merging (llama.cpp's ignore_merges)
 * @param addBos       llama.cpp's default for {@code tokenizer.ggml.add_bos_token} with this pre-tokenizer
 */
record PreTokenizer(String name, List<WordSplit> splits, boolean ignoreMerges, boolean addBos) {

    private static final List<String> DEFAULT = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|]+",
            CustomSplit.GPT2_REGEX,
            "\\p{N}+",
            "[0-9][0-9][0-9]");

    private static final List<String> GPT2 = List.of(CustomSplit.GPT2_REGEX);

    private static final List<String> LLAMA3 = List.of(CustomSplit.LLAMA3_REGEX);

    private static final List<String> DEEPSEEK_LLM = List.of(
            "[\r\n]",
            "\\s?[A-Za-z\\u00B5\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u01BA\\u01BC-\\u01BF\\u01C4-\\u0293\\u0295-\\u02AF"
                    + "\\u0370-\\u0373\\u0376\\u0377\\u037B-\\u037D\\u037F\\u0386\\u0388-\\u038A\\u038C\\u038E-\\u03A1"
                    + "\\u03A3-\\u03F5\\u03F7-\\u0481\\u048A-\\u052F\\u0531-\\u0556\\u10A0-\\u10C5\\u13A0-\\u13F5"
                    + "\\u13F8-\\u13FD\\u1C90-\\u1CBA\\u1CBD-\\u1CBF\\u1D00-\\u1D2B\\u1D6B-\\u1D77\\u1D79-\\u1D9A"
                    + "\\u1E00-\\u1F15\\u1F18-\\u1F1D\\u1F20-\\u1F45\\u1F48-\\u1F4D\\u1F50-\\u1F57\\u1F59\\u1F5B\\u1F5D"
                    + "\\u1F5F-\\u1F7D\\u1F80-\\u1FB4\\u1FB6-\\u1FBC\\u1FBE\\u1FC2-\\u1FC4\\u1FC6-\\u1FCC\\u1FD0-\\u1FD3"
                    + "\\u1FD6-\\u1FDB\\u1FE0-\\u1FEC\\u1FF2-\\u1FF4\\u1FF6-\\u1FFC\\u2102\\u2107\\u210A-\\u2113\\u2115"
                    + "\\u2119-\\u211D\\u2124\\u2126\\u2128\\u212A-\\u212D\\u212F-\\u2134\\u2139\\u213C-\\u213F"
                    + "\\u2145-\\u2149\\u214E\\u2183\\u2184\\u2C00-\\u2C7B\\u2C7E-\\u2CE4\\u2CEB-\\u2CEE\\u2CF2\\u2CF3"
                    + "\\uA640-\\uA66D\\uA680-\\uA69B\\uA722-\\uA76F\\uA771-\\uA787\\uA78B-\\uA78E\\uAB70-\\uABBF"
                    + "\\uFB00-\\uFB06\\uFB13-\\uFB17\\uFF21-\\uFF3A\\uFF41-\\uFF5A\\x{10400}-\\x{1044F}"
                    + "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
                    + "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
            "\\s?[!-/:-~\\uFF01-\\uFF0F\\uFF1A-\\uFF5E\\u2018-\\u201F\\u3000-\\u3002]+",
            "\\s+$",
            "[\\u4E00-\\u9FA5\\u0800-\\u4E00\\uAC00-\\uD7FF]+",
            "\\p{N}+");

    private static final List<String> DEEPSEEK_CODER = List.of(
            "[\r\n]",
            "\\s?\\p{L}+",
            "\\s?\\p{P}+",
            "[\\u4E00-\\u9FA5\\u0800-\\u4E00\\uAC00-\\uD7FF]+",
            "\\p{N}");

    private static final List<String> DEEPSEEK3_LLM = List.of(
            "\\p{N}{1,3}",
            "[\\u4E00-\\u9FA5\\u3040-\\u309F\\u30A0-\\u30FF]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                    + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+");

    private static final List<String> FALCON = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|`]+",
            CustomSplit.GPT2_REGEX,
            "[0-9][0-9][0-9]");

    private static final List<String> STARCODER = List.of("\\p{N}", CustomSplit.GPT2_REGEX);

    private static final List<String> QWEN2 = List.of(
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    private static final List<String> QWEN35 = List.of(
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}"
                    + "| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    private static final List<String> TEKKEN = List.of(
            "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
                    + "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
                    + "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    private static final List<String> GPT4O = List.of(
            "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
                    + "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
                    + "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
                    + "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
                    + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    /** One regex of the list: refines words given as lengths in code points. */
    @FunctionalInterface
    interface WordSplit {
        List<Integer> split(int[] cpts, List<Integer> words);
    }

    /**
     * The pre-tokenizer llama.cpp uses for {@code tokenizer.ggml.pre = pre}. Like llama.cpp, an unknown name is an
     * error rather than a silent fallback: a wrong split gives plausible but wrong tokens.
     */
    static PreTokenizer forName(String pre, Path file) {
        return switch (pre) {
            case "default" -> of(pre, DEFAULT, false, false);
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2" ->
                    of(pre, LLAMA3, true, true);
            case "dbrx", "smaug-bpe" -> of(pre, LLAMA3, false, false);
            case "deepseek-llm" -> of(pre, DEEPSEEK_LLM, false, false);
            case "deepseek-coder" -> of(pre, DEEPSEEK_CODER, false, false);
            case "deepseek-v3" -> of(pre, DEEPSEEK3_LLM, false, false);
            case "falcon" -> of(pre, FALCON, false, false);
            case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" ->
                    of(pre, STARCODER, false, false);
            case "gpt-2", "phi-2", "gigachat", "a.x-4.0", "mellum", "exaone4", "mpt", "olmo", "jais", "trillion",
                 "granite-docling" -> of(pre, GPT2, false, false);
            case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open",
                 "grok-2" -> of(pre, QWEN2, false, false);
            case "qwen35" -> of(pre, QWEN35, false, false);
            case "tekken" -> of(pre, TEKKEN, true, true);
            case "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2" -> of(pre, GPT4O, false, false);
            default -> throw new GGUFException(file, "unsupported pre-tokenizer '" + pre + "' in tokenizer.ggml.pre"
                    + " (supported: default, gpt-2, llama3, qwen2, qwen35, deepseek-llm, deepseek-coder, deepseek-v3,"
                    + " falcon, mpt, starcoder, smollm, refact, command-r, olmo, stablelm2, dbrx, tekken, gpt-4o"
                    + " and their llama.cpp aliases)");
        };
    }

    private static PreTokenizer of(String name, List<String> regexes, boolean ignoreMerges, boolean addBos) {
        List<WordSplit> splits = regexes.stream().map(PreTokenizer::compile).toList();
        return new PreTokenizer(name, splits, ignoreMerges, addBos);
    }

    /** llama.cpp routes these exact regex strings to its hand-written matchers; the others go to a regex engine. */
    private static WordSplit compile(String regex) {
        return switch (regex) {
            case CustomSplit.GPT2_REGEX -> CustomSplit::gpt2;
            case CustomSplit.LLAMA3_REGEX -> CustomSplit::llama3;
            default -> RegexSplit.compile(regex)::split;
        };
    }

    /** The words of {@code text}, in order; together they are the whole text. */
    List<String> split(String text) {
        int[] cpts = text.codePoints().toArray();
        List<Integer> words = List.of(cpts.length);
        for (WordSplit split : splits) {
            words = split.split(cpts, words);
        }
        List<String> result = new ArrayList<>(words.size());
        int start = 0;
        for (int length : words) {
            result.add(new String(cpts, start, length));
            start += length;
        }
        return result;
    }
}
