#!/usr/bin/env python3
"""Writes smollm2.inp (varied strings) and smollm2.out (llama.cpp's token ids for each) beside this script.

usage: smollm2-vectors.py LLAMA_TOKENIZE MODEL.gguf TEXT [--count N]

LLAMA_TOKENIZE is llama.cpp's llama-tokenize, MODEL the SmolLM2 file (bin/streamingllm pull smollm2-135m-instruct),
TEXT ../shared/text/pride-and-prejudice.txt (snippets of prose). Each string is tokenized on its own, without BOS and
without parsing special-token text, as llama.cpp's test-tokenizer-0 vectors are; the files use its format.
"""
import argparse, os, random, subprocess, sys, tempfile

SEPARATOR = "\n__ggml_vocab_test__\n"

CODE = [
    "def f(x):\n    return x ** 2  # square\n",
    "public static void main(String[] args) {\n\tSystem.out.println(\"hi\");\n}",
    "{\"name\": \"Ada\", \"age\": 36, \"tags\": [\"x\", \"y\"], \"ok\": true, \"n\": null}",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "$ ls -la /tmp && echo \"$HOME\" | grep -v '^#' > out.txt 2>&1",
    "<div class=\"a\"><p>Hello&nbsp;world</p></div>",
    "x = [i for i in range(10) if i % 2 == 0]\nprint(f\"{x!r:>10}\")",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "#include <stdio.h>\nint main(void){printf(\"%d\\n\",42);}",
]
WORDS = ["hello", "world", "I'm", "don't", "it's", "WE'LL", "they've", "O'Brien", "naïve", "café", "Straße",
         "über", "résumé", "Ångström", "Tiếng Việt", "Привет", "мир", "Ελληνικά", "日本語", "中文", "한국어",
         "العربية", "हिन्दी", "ñandú", "façade", "coöperate", "e\u0301", "a\u0308", "ﬁ", "Ⅻ", "½", "²"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "🤖", "🎉🎉", "☕", "🏳️‍🌈", "✅", "🙂🙃", "🐍"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t\t", "    \n", "\u00a0", "\u3000", "\u2009"]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<s>", "</s>"]


def number(rng):
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randrange(1, 16)))
    if kind == 1:
        return f"{rng.uniform(-1e4, 1e4):.{rng.randrange(1, 7)}f}"
    if kind == 2:
        return f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if kind == 3:
        return f"+1 ({rng.randrange(100, 999)}) {rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"
    if kind == 4:
        return f"{rng.randrange(1, 10 ** 9):,}"
    if kind == 5:
        return f"{rng.random():.3e}"
    return "0x" + format(rng.randrange(1 << 32), "x")


def codepoints(rng):
    out = []
    for _ in range(rng.randrange(1, 12)):
        while True:
            cp = rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0x2FFF), rng.randrange(0x3000, 0xD7FF),
                             rng.randrange(0xE000, 0xFFFD), rng.randrange(0x10000, 0x1FAFF)])
            if not (0xD800 <= cp <= 0xDFFF):
                break
        out.append(chr(cp))
    return "".join(out)


def prose(rng, text):
    start = rng.randrange(len(text) - 400)
    return text[start:start + rng.randrange(1, 400)]


def make(rng, text):
    parts = []
    for _ in range(rng.randrange(1, 7)):
        kind = rng.randrange(9)
        parts.append([
            lambda: rng.choice(CODE), lambda: rng.choice(WORDS), lambda: rng.choice(EMOJI), lambda: rng.choice(SPACES),
            lambda: number(rng), lambda: codepoints(rng), lambda: prose(rng, text), lambda: prose(rng, text).upper(),
            lambda: rng.choice(SPECIAL),
        ][kind]())
        if rng.random() < 0.5:
            parts.append(rng.choice(SPACES))
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenize")
    ap.add_argument("model")
    ap.add_argument("text")
    ap.add_argument("--count", type=int, default=3000)
    args = ap.parse_args()
    text = open(args.text, encoding="utf-8").read()
    rng = random.Random(20261202)
    strings = ["", " ", "\n", "   leading", "trailing   ", "a" * 300, " " * 100, "\n" * 20] + [make(rng, text) for _ in range(args.count - 8)]
    here = os.path.dirname(os.path.abspath(__file__))
    outputs = []
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", delete=False) as f:
        path = f.name
    for s in strings:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(s)
        ids = subprocess.run([args.tokenize, "-m", args.model, "-f", path, "--ids", "--no-bos", "--no-escape",
                              "--no-parse-special", "--log-disable"], capture_output=True, text=True, check=True).stdout
        outputs.append(" ".join(ids.strip().strip("[]").replace(",", " ").split()))
    os.unlink(path)
    with open(os.path.join(here, "smollm2.inp"), "w", encoding="utf-8", newline="") as f:
        f.write(SEPARATOR.join(strings))
    with open(os.path.join(here, "smollm2.out"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(outputs) + "\n")


if __name__ == "__main__":
    sys.exit(main())
