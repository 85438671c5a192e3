"""Golden for glmh's BpeTokenizer: a small byte-level BPE tokenizer trained with the `tokenizers`
library on a built-in multilingual text, with GLM-4's pre-tokenizer (Split on GLM-4's regex,
Isolated, then ByteLevel without regex) and GLM-Image's special tokens as added tokens; then the
ids and decoded text of tricky strings, as tokenizers encodes them.
Writes golden/reference/tokenizer_tiny/tokenizer.json and golden/reference/tokenizer_cases.json:
  cases:        [{text, ids, decoded}]  (decoded = decode(ids, skip_special_tokens=False))
  decode_cases: [{ids, text}]           (byte sequences that are not valid UTF-8)
  variants:     [{name, overrides: [[json_pointer, value]], ids: [...per case]}] -- the same
                cases under a modified tokenizer.json (added-token flags, ignore_merges, GPT-2's
                ByteLevel regex), so that those code paths are checked as well.
Usage: /work/ref-venv/bin/python scripts/reference/make_tokenizer_golden.py [OUT_DIR]
"""
import copy
import json
import os
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

# GLM-4's pre-tokenizer regex (GLM-4-9B-0414 / GLM-4.1V tokenizer.json; llama.cpp's CHATGLM4).
GLM4_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
              r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# GLM-Image's processor specials (tokenizer_config.json) and a few image tokens.
SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
            "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
            "<|end_of_video|>", "<|image|>", "<|video|>", "<|dit_token_0|>", "<|dit_token_1|>",
            "<|dit_token_16384|>", "<|dit_token_16385|>"]

CORPUS = """\
A photo of a cat sitting on a windowsill, soft morning light, highly detailed.
The quick brown fox jumps over the lazy dog. Don't stop; it's what we'll do, they've said, I'm sure you'd agree.
Café, naïve, résumé, Ångström, façade, jalapeño, Übermensch, crème brûlée, São Paulo, Łódź.
一只猫坐在窗台上，柔和的晨光，细节丰富。海报标题写着“夏季大促销”，价格只要九十九元！
窓辺に座っている猫の写真、柔らかい朝の光。「こんにちは世界」とカタカナのテキスト。
한국어 문장도 조금 있습니다. Ελληνικά γράμματα. Русский текст для проверки. العربية أيضا.
Emoji: 🙂 😀 👍🏽 🐱 🎉 🇫🇷 👨‍👩‍👧 ❤️
Numbers: 1234567 3.14159 2,000,000 1999-12-31 10:30pm 50% off $1,299.99 x² ½ Ⅻ ①
Whitespace:   multiple   spaces	tabs	and
newlines

and  trailing spaces   
Code: def f(x): return x * 2  # comment
<html><body class="main">Hello, World!</body></html>
Mongolian vowel separators (not white space): \u180e\u180e1 \u180e\u3000\u180e x \u180e\u180e1 \u180e\u180e1
"""

CASES = [
    "A photo of a cat.",
    "don't",
    "HELLO's",
    "I'M here, we'LL see, THEY'VE gone, it'ſ odd",
    "1234567",
    "3.14159 and 2,000,000 or 1999-12-31",
    "  multiple   spaces\n\n",
    "\ttab\tseparated\t\t",
    "line1\r\nline2\rline3\n\n\nline4",
    "trailing space   ",
    " leading space",
    "café naïve résumé Ångström e\u0301 o\u0308",
    "中文字符测试，你好！一只猫。",
    "日本語のテキスト、カタカナ「テスト」。",
    "한국어 Ελληνικά Русский العربية",
    "🙂👍🏽👨‍👩‍👧🇫🇷❤️",
    "a<sop>3 4<eop>b",
    "<|dit_token_16384|>",
    "<sop><sop>  <eop> <|dit_token_1|><|dit_token_16385|>x",
    "<so p> <|dit_token_16384| [gMASK<sop",
    "",
    " ",
    "\n",
    "a\u00a0b\u3000c\u2028d\u180ee\u200bf\u0085g\u2009h\u202fi",
    "x \u180e\u180e1 \u180e\u3000\u180e",  # U+180E: not white space for tokenizers (nor Unicode >= 6.3)
    "\x00\x01\x7f end",
    "x²³ ½ Ⅻ ① 〇 ٣٤٥ १२३",
    "price: $1,299.99!!! end.\n\n\nNext",
    "   \n   \t\n",
    "def f(x): return x * 2  # comment <html>",
    ("A vintage travel poster with the title “Summer in Kyoto” in bold serif letters, and below it the "
     "text 「京都の夏」 in brush calligraphy. Cherry blossoms, a red torii gate, Mt. Fuji in the distance; "
     "warm sunset colours, 1960s print texture. The footer reads \"Visit Japan — 50% off rail passes!\" "
     "海报底部写着“欢迎光临”。Don't forget the small logo in the corner: ©2026 JNTO."),
]


def train():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GLM4_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=256 + 400, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS] * 4, trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    return json.loads(tok.to_str())


def set_pointer(doc, pointer, value):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for p in parts[:-1]:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    doc[int(parts[-1]) if isinstance(doc, list) else parts[-1]] = value


def variants(base):
    added = copy.deepcopy(base["added_tokens"])
    by_content = {t["content"]: t for t in added}
    by_content["<sop>"]["lstrip"] = True
    by_content["<eop>"]["rstrip"] = True
    by_content["<|dit_token_1|>"].update(lstrip=True, rstrip=True)
    by_content["<|image|>"]["normalized"] = True
    next_id = max(t["id"] for t in added) + 1
    # A non-special normalized token inside ordinary words, and one that is a prefix of others.
    for i, content in enumerate(["ésu", "<|dit_token_1"]):
        assert content not in base["model"]["vocab"]
        added.append({"id": next_id + i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": content == "ésu", "special": False})
    # ignore_merges only matters for a word that is in the vocabulary but that the merges do not
    # reach: drop the merge that builds the longest such whole word of the cases.
    tok = Tokenizer.from_str(json.dumps(base))
    vocab_r = {i: t for t, i in base["model"]["vocab"].items()}
    words = set()
    for text in CASES:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(text):
            ids = tok.encode(word).ids if word not in by_content else []
            if len(ids) == 1 and len(word) > 2:
                words.add(vocab_r[ids[0]])
    merges = [m for m in base["model"]["merges"] if "".join(m) not in words or len("".join(m)) < max(map(len, words))]
    assert len(merges) == len(base["model"]["merges"]) - 1
    return [
        {"name": "added_token_flags", "overrides": [["/added_tokens", added]]},
        {"name": "dropped_merge", "overrides": [["/model/merges", merges]]},
        {"name": "ignore_merges_with_dropped_merge", "overrides": [["/model/merges", merges], ["/model/ignore_merges", True]]},
        {"name": "gpt2_byte_level_regex",
         "overrides": [["/pre_tokenizer", {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                           "use_regex": True}]]},
    ]


def main(out_dir):
    base = train()
    tok = Tokenizer.from_str(json.dumps(base))
    assert json.loads(tok.to_str())["added_tokens"] == base["added_tokens"], "added-token ids were reassigned"
    cases = []
    for text in CASES:
        ids = tok.encode(text).ids
        cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})

    byte_id = {c: tok.token_to_id(c) for c in pre_tokenizers.ByteLevel.alphabet()}
    symbol = {}  # byte value -> its byte-level character (GPT-2's table)
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    n = 0
    for b in range(256):
        if b in printable:
            symbol[b] = chr(b)
        else:
            symbol[b] = chr(256 + n)
            n += 1
    decode_cases = []
    for raw in [b"\xe4\xb8", b"\xe4\xb8a", b"\xff", b"\xf0\x80\x80", b"a\xed\xa0\x80b", b"\xc3", b"\xf4\x90\x80\x80",
                "中".encode()]:
        ids = [byte_id[symbol[b]] for b in raw]
        decode_cases.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False)})
    ids = [tok.token_to_id("<sop>"), byte_id[symbol[0xe4]], tok.token_to_id("<eop>")]
    decode_cases.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False)})

    out_variants = []
    previous = [c["ids"] for c in cases]
    for v in variants(base):
        doc = copy.deepcopy(base)
        for pointer, value in v["overrides"]:
            set_pointer(doc, pointer, value)
        vt = Tokenizer.from_str(json.dumps(doc))
        assert json.loads(vt.to_str())["added_tokens"] == doc["added_tokens"], "added-token ids were reassigned"
        v["ids"] = [vt.encode(text).ids for text in CASES]
        assert v["ids"] != previous, f"variant {v['name']} encodes like the one before it"
        previous = v["ids"]
        out_variants.append(v)

    tiny = os.path.join(out_dir, "tokenizer_tiny")
    os.makedirs(tiny, exist_ok=True)
    with open(os.path.join(tiny, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(base, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"producer": "scripts/reference/make_tokenizer_golden.py", "tokenizers": tokenizers.__version__,
                   "tokenizer": "tokenizer_tiny/tokenizer.json", "cases": cases, "decode_cases": decode_cases,
                   "variants": out_variants}, f, ensure_ascii=False)
    print(f"wrote tokenizer_tiny/tokenizer.json ({len(base['model']['merges'])} merges, "
          f"{len(base['added_tokens'])} added tokens) and tokenizer_cases.json ({len(cases)} cases)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
