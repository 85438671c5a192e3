#include "pipeline/model/ar/bpe_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "pipeline/checkpoint/config_fields.h"
#include "pipeline/runtime/printable_text.h"

namespace glmh {

const char* const kGlm4PretokenizerRegex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

namespace {

using nlohmann::json;

// GPT-2's pre-tokenizer regex, which ByteLevel(use_regex=true) runs before mapping bytes.
const char* const kGpt2Regex = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw CheckpointError("tokenizer '" + source + "': " + what);
}

// ---------------------------------------------------------------------------------------------
// UTF-8

// The well-formed sequence at s[i]: returns its length and sets *cp; or, when there is none,
// returns the length of the maximal subpart of an ill-formed one (>= 1) and sets *valid = false.
size_t utf8_at(const std::string& s, size_t i, uint32_t* cp, bool* valid) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  *valid = false;
  if (b0 < 0x80) {
    *cp = b0;
    *valid = true;
    return 1;
  }
  size_t len;
  uint32_t c;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, c = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, c = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, c = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return k;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return k;
    c = (c << 6) | (b & 0x3F);
  }
  *cp = c;
  *valid = true;
  return len;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Offset of the first ill-formed byte, or npos.
size_t first_invalid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    bool valid;
    const size_t n = utf8_at(s, i, &cp, &valid);
    if (!valid) return i;
    i += n;
  }
  return std::string::npos;
}

// Like Rust's String::from_utf8_lossy: one U+FFFD per maximal ill-formed subpart.
std::string lossy_utf8(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    uint32_t cp;
    bool valid;
    const size_t n = utf8_at(bytes, i, &cp, &valid);
    if (valid) out.append(bytes, i, n);
    else out += "\xEF\xBF\xBD";
    i += n;
  }
  return out;
}

// Unicode White_Space, which lstrip / rstrip of added tokens consume (Rust regex's \s).
bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Byte offset where the white space at the end of s[begin, end) starts.
size_t white_space_run_before(const std::string& s, size_t begin, size_t end) {
  size_t start = begin;
  for (size_t i = begin; i < end;) {
    uint32_t cp;
    bool valid;
    const size_t n = utf8_at(s, i, &cp, &valid);
    if (!(valid && is_white_space(cp))) start = i + n;
    i += n;
  }
  return start;
}

// Byte length of the white space at the start of s[begin, end).
size_t white_space_run_after(const std::string& s, size_t begin, size_t end) {
  size_t i = begin;
  while (i < end) {
    uint32_t cp;
    bool valid;
    const size_t n = utf8_at(s, i, &cp, &valid);
    if (!(valid && is_white_space(cp))) break;
    i += n;
  }
  return i - begin;
}

// ---------------------------------------------------------------------------------------------
// Byte-level alphabet (GPT-2): printable Latin-1 bytes stand for themselves, the other 68 bytes
// for U+0100 onwards, so that every byte is one visible character.

struct ByteAlphabet {
  std::array<std::string, 256> symbol;             // byte -> UTF-8 of its character
  std::unordered_map<uint32_t, uint8_t> byte_of;  // character -> byte
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet = [] {
    ByteAlphabet a;
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? b : next++;
      append_utf8(a.symbol[b], cp);
      a.byte_of[cp] = uint8_t(b);
    }
    return a;
  }();
  return alphabet;
}

// ---------------------------------------------------------------------------------------------
// PCRE2 regex, split with tokenizers' "Isolated" behaviour: every match and every gap between
// matches is a piece of its own; empty pieces are dropped.

// \s and \S spelled as the Unicode White_Space property. tokenizers' Oniguruma means exactly that
// by \s; PCRE2's \s (with PCRE2_UCP) also takes U+180E MONGOLIAN VOWEL SEPARATOR, which is no
// longer white space since Unicode 6.3. \Q...\E quoting is copied as it is.
std::string with_white_space_property(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    const char next = pattern[++i];
    if (next == 's') {
      out += "\\p{White_Space}";
    } else if (next == 'S') {
      out += "\\P{White_Space}";
    } else if (next == 'Q') {
      const size_t end = pattern.find("\\E", i + 1);
      const size_t stop = end == std::string::npos ? pattern.size() : end + 2;
      out.append(pattern, i - 1, stop - (i - 1));
      i = stop - 1;
    } else {
      out += '\\';
      out += next;
    }
  }
  return out;
}

class Regex {
 public:
  Regex(const std::string& pattern, bool literal, const std::string& source) : source_(source) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // PCRE2_LITERAL admits PCRE2_UTF but not PCRE2_UCP; a literal needs no character classes.
    const uint32_t options = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
    auto compile = [&](const std::string& p) {
      return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), options, &error, &offset, nullptr);
    };
    // Boolean properties need PCRE2 >= 10.40; older ones keep plain \s (differing at U+180E only).
    pcre2_code* code = literal ? nullptr : compile(with_white_space_property(pattern));
    if (code == nullptr) code = compile(pattern);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      fail(source, "pre_tokenizer pattern /" + printable(pattern) + "/ does not compile with PCRE2: " +
                       reinterpret_cast<const char*>(message) + " at offset " + std::to_string(offset));
    }
    code_.reset(code, pcre2_code_free);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: without JIT, pcre2_match interprets
  }

  void split_isolated(const std::string& text, std::vector<std::string>& out) const {
    std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr), pcre2_match_data_free);
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t last = 0, start = 0;
    while (start <= text.size()) {
      // The text was checked to be valid UTF-8 before it got here.
      const int rc = pcre2_match(code_.get(), subject, text.size(), start, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof message);
        fail(source_, std::string("pre_tokenizer regex failed to match: ") + reinterpret_cast<const char*>(message));
      }
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
      const size_t begin = ovector[0], end = ovector[1];
      if (begin > last) out.push_back(text.substr(last, begin - last));
      if (end > begin) out.push_back(text.substr(begin, end - begin));
      last = std::max(last, end);
      if (end > begin) {
        start = end;
      } else {  // an empty match: step over one character
        if (end >= text.size()) break;
        uint32_t cp;
        bool valid;
        start = end + utf8_at(text, end, &cp, &valid);
      }
    }
    if (last < text.size()) out.push_back(text.substr(last));
  }

 private:
  std::string source_;
  std::shared_ptr<pcre2_code> code_;
};

// ---------------------------------------------------------------------------------------------
// Added tokens, found leftmost-longest like the Aho-Corasick automaton tokenizers builds.

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false, normalized = true, lstrip = false, rstrip = false;
};

class TokenTrie {
 public:
  void insert(const std::string& s, int32_t token) {
    int32_t node = 0;
    for (unsigned char c : s) {
      const uint64_t key = (uint64_t(node) << 8) | c;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        it = edges_.emplace(key, int32_t(token_.size())).first;
        token_.push_back(-1);
      }
      node = it->second;
    }
    token_[node] = token;
  }
  bool empty() const { return token_.size() == 1; }
  // The longest token starting at text[pos], or -1; *length gets its byte length.
  int32_t longest_at(const std::string& text, size_t pos, size_t end, size_t* length) const {
    int32_t node = 0, best = -1;
    for (size_t i = pos; i < end; ++i) {
      const auto it = edges_.find((uint64_t(node) << 8) | static_cast<unsigned char>(text[i]));
      if (it == edges_.end()) break;
      node = it->second;
      if (token_[node] >= 0) {
        best = token_[node];
        *length = i + 1 - pos;
      }
    }
    return best;
  }

 private:
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
  std::vector<int32_t> token_{-1};                // node -> added-token index, -1 for none
};

struct Piece {
  size_t begin, end;
  int32_t token;  // added-token index, or -1 for text to pre-tokenize
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct BpeTokenizer::Impl {
  std::string source;
  std::vector<Regex> splits;  // pre-tokenizer regexes, in order
  std::unordered_map<std::string, int64_t> vocab;
  std::unordered_map<uint64_t, std::pair<uint32_t, int64_t>> merges;  // (left, right) -> (rank, merged)
  std::array<int64_t, 256> byte_id{};                                  // -1: not in the vocabulary
  bool ignore_merges = false;
  bool fuse_unk = false;
  int64_t unk_id = -1;
  std::vector<AddedToken> added;
  std::unordered_map<std::string, int64_t> added_ids;
  TokenTrie raw_trie, normalized_trie;
  std::vector<std::string> token_of_id;
  std::vector<char> id_known;
  int64_t vocab_size = 0;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;  // piece -> ids

  std::vector<Piece> find_added(const std::string& text, size_t begin, size_t end, const TokenTrie& trie) const;
  void bpe(const std::string& piece, std::vector<int64_t>& out) const;
  std::vector<int64_t> merge_word(const std::string& piece) const;
};

std::vector<Piece> BpeTokenizer::Impl::find_added(const std::string& text, size_t begin, size_t end,
                                                  const TokenTrie& trie) const {
  std::vector<Piece> pieces;
  if (trie.empty()) {
    if (begin < end) pieces.push_back({begin, end, -1});
    return pieces;
  }
  size_t covered = begin;  // everything before this is already in `pieces`
  for (size_t pos = begin; pos < end;) {
    size_t length = 0;
    const int32_t token = trie.longest_at(text, pos, end, &length);
    if (token < 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + length;
    const AddedToken& t = added[token];
    if (t.lstrip) start = std::max(white_space_run_before(text, begin, start), covered);
    if (t.rstrip) stop += white_space_run_after(text, stop, end);
    if (covered < start) pieces.push_back({covered, start, -1});
    pieces.push_back({start, stop, token});
    covered = stop;
    pos += length;  // like the automaton: the next match starts after this one's pattern
  }
  if (covered < end) pieces.push_back({covered, end, -1});
  return pieces;
}

std::vector<int64_t> BpeTokenizer::Impl::merge_word(const std::string& piece) const {
  const ByteAlphabet& alphabet = byte_alphabet();
  if (ignore_merges) {
    std::string whole;
    for (unsigned char b : piece) whole += alphabet.symbol[b];
    const auto it = vocab.find(whole);
    if (it != vocab.end()) return {it->second};
  }
  struct Symbol {
    int64_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  auto add = [&](int64_t id) {
    const int32_t n = int32_t(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, true});
  };
  // One symbol per byte; bytes without a vocabulary entry become unk (fused when asked).
  bool pending_unk = false;
  for (unsigned char b : piece) {
    const int64_t id = byte_id[b];
    if (id >= 0) {
      if (pending_unk) add(unk_id), pending_unk = false;
      add(id);
    } else if (unk_id >= 0) {
      if (pending_unk && !fuse_unk) add(unk_id);
      pending_unk = true;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", b);
      fail(source, std::string("byte ") + buf + " has no vocabulary entry and the model has no unk_token");
    }
  }
  if (pending_unk) add(unk_id);

  // Lowest rank first, leftmost among equal ranks; stale entries are skipped when popped.
  using Merge = std::tuple<uint32_t, int32_t, int64_t>;  // rank, position, merged id
  std::priority_queue<Merge, std::vector<Merge>, std::greater<Merge>> queue;
  auto pair_key = [](int64_t a, int64_t b) { return (uint64_t(a) << 32) | uint64_t(b); };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    const auto it = merges.find(pair_key(symbols[i].id, symbols[i + 1].id));
    if (it != merges.end()) queue.emplace(it->second.first, int32_t(i), it->second.second);
  }
  while (!queue.empty()) {
    const auto [rank, pos, merged] = queue.top();
    queue.pop();
    Symbol& left = symbols[pos];
    if (!left.alive || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    const auto now = merges.find(pair_key(left.id, right.id));
    if (now == merges.end() || now->second.second != merged) continue;
    symbols[left.next].alive = false;
    left.id = merged;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pos;
    if (left.prev >= 0) {
      const auto it = merges.find(pair_key(symbols[left.prev].id, left.id));
      if (it != merges.end()) queue.emplace(it->second.first, left.prev, it->second.second);
    }
    if (left.next >= 0) {
      const auto it = merges.find(pair_key(left.id, symbols[left.next].id));
      if (it != merges.end()) queue.emplace(it->second.first, pos, it->second.second);
    }
  }
  std::vector<int64_t> ids;
  for (const Symbol& s : symbols)
    if (s.alive) ids.push_back(s.id);
  return ids;
}

void BpeTokenizer::Impl::bpe(const std::string& piece, std::vector<int64_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    const auto it = cache.find(piece);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> ids = merge_word(piece);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (cache.size() < 10000) cache.emplace(piece, std::move(ids));
}

// ---------------------------------------------------------------------------------------------
// Loading

namespace {

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool flag(const json& object, const char* key, bool fallback, const std::string& source, const std::string& where) {
  const json* v = member(object, key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_boolean()) fail(source, where + "." + key + " must be true or false");
  return v->get<bool>();
}

std::string type_of(const json& object, const std::string& source, const std::string& where) {
  const json* t = member(object, "type");
  if (t == nullptr || !t->is_string()) fail(source, where + " has no \"type\"");
  return t->get<std::string>();
}

// Flattens the pre_tokenizer into regex splits; it must end with ByteLevel.
void read_pre_tokenizer(const json& pt, const std::string& source, std::vector<Regex>& splits, bool* byte_level) {
  const std::string where = "pre_tokenizer";
  if (*byte_level) fail(source, "pre_tokenizer ByteLevel must be the last step (steps after it would see mapped bytes)");
  const std::string type = type_of(pt, source, where);
  if (type == "Sequence") {
    const json* steps = member(pt, "pretokenizers");
    if (steps == nullptr || !steps->is_array()) fail(source, "pre_tokenizer Sequence has no \"pretokenizers\" list");
    for (const json& step : *steps) read_pre_tokenizer(step, source, splits, byte_level);
  } else if (type == "Split") {
    const json* pattern = member(pt, "pattern");
    const json* regex = pattern ? member(*pattern, "Regex") : nullptr;
    const json* literal = pattern ? member(*pattern, "String") : nullptr;
    if (!((regex && regex->is_string()) || (literal && literal->is_string())))
      fail(source, "pre_tokenizer Split needs \"pattern\": {\"Regex\": ...} or {\"String\": ...}");
    const json* behavior = member(pt, "behavior");
    if (behavior == nullptr || *behavior != "Isolated")
      fail(source, "pre_tokenizer Split behavior " + (behavior ? behavior->dump() : std::string("(missing)")) +
                       " is not supported (only \"Isolated\")");
    if (flag(pt, "invert", false, source, "pre_tokenizer Split")) fail(source, "pre_tokenizer Split with invert=true is not supported");
    splits.emplace_back(regex ? regex->get<std::string>() : literal->get<std::string>(), regex == nullptr, source);
  } else if (type == "ByteLevel") {
    if (flag(pt, "add_prefix_space", false, source, "pre_tokenizer ByteLevel"))
      fail(source, "pre_tokenizer ByteLevel with add_prefix_space=true is not supported");
    if (flag(pt, "use_regex", true, source, "pre_tokenizer ByteLevel")) splits.emplace_back(kGpt2Regex, false, source);
    *byte_level = true;
  } else {
    fail(source, "pre_tokenizer type \"" + type + "\" is not supported (Sequence, Split, ByteLevel)");
  }
}

// Accepts only post-processors that add no tokens to a single sequence.
void check_post_processor(const json& pp, const std::string& source) {
  if (pp.is_null()) return;
  const std::string type = type_of(pp, source, "post_processor");
  if (type == "ByteLevel") return;  // offsets only
  if (type == "Sequence") {
    const json* steps = member(pp, "processors");
    if (steps == nullptr || !steps->is_array()) fail(source, "post_processor Sequence has no \"processors\" list");
    for (const json& step : *steps) check_post_processor(step, source);
    return;
  }
  if (type == "TemplateProcessing") {
    const json* single = member(pp, "single");
    if (single && single->is_array() && single->size() == 1 && member((*single)[0], "Sequence")) return;
    fail(source, "post_processor TemplateProcessing adds special tokens (" + (single ? single->dump() : std::string("?")) +
                     "); GLM-Image's AR prompt has none, so this file is refused");
  }
  fail(source, "post_processor type \"" + type + "\" is not supported");
}

}  // namespace

BpeTokenizer BpeTokenizer::load(const std::string& path) { return from_json(read_json_file(path), path); }

BpeTokenizer BpeTokenizer::from_json(const json& j, const std::string& source) {
  auto impl = std::make_shared<Impl>();
  impl->source = source;
  if (!j.is_object()) fail(source, "is not a JSON object");

  // Normalizer: GLM's is null, and added-token matching relies on it.
  if (const json* n = member(j, "normalizer"); n && !n->is_null())
    fail(source, "normalizer " + type_of(*n, source, "normalizer") + " is not supported (only null)");

  // Pre-tokenizer.
  const json* pt = member(j, "pre_tokenizer");
  bool byte_level = false;
  if (pt && !pt->is_null()) read_pre_tokenizer(*pt, source, impl->splits, &byte_level);
  if (!byte_level) fail(source, "pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");

  // Decoder and post-processor.
  const json* decoder = member(j, "decoder");
  if (decoder == nullptr || decoder->is_null() || type_of(*decoder, source, "decoder") != "ByteLevel")
    fail(source, "decoder must be ByteLevel");
  if (const json* pp = member(j, "post_processor")) check_post_processor(*pp, source);

  // Model.
  const json* model = member(j, "model");
  if (model == nullptr || !model->is_object()) fail(source, "has no \"model\"");
  if (const json* t = member(*model, "type"); t && *t != "BPE")
    fail(source, "model type " + t->dump() + " is not supported (only BPE)");
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = member(*model, key);
    if (v && !v->is_null() && !(v->is_string() && v->get<std::string>().empty()))
      fail(source, std::string("model.") + key + " = " + v->dump() + " is not supported (only null)");
  }
  if (flag(*model, "byte_fallback", false, source, "model")) fail(source, "model.byte_fallback=true is not supported");
  impl->ignore_merges = flag(*model, "ignore_merges", false, source, "model");
  impl->fuse_unk = flag(*model, "fuse_unk", false, source, "model");

  const json* vocab = member(*model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) fail(source, "model has no \"vocab\" object");
  std::unordered_map<int64_t, std::string> seen_ids;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > std::numeric_limits<int32_t>::max())
      fail(source, "model.vocab[\"" + printable(it.key()) + "\"] must be an id in [0, 2^31)");
    const int64_t id = it.value().get<int64_t>();
    if (!seen_ids.emplace(id, it.key()).second)
      fail(source, "model.vocab gives id " + std::to_string(id) + " to both \"" + printable(seen_ids[id]) + "\" and \"" +
                       printable(it.key()) + "\"");
    impl->vocab.emplace(it.key(), id);
  }
  if (const json* unk = member(*model, "unk_token"); unk && !unk->is_null()) {
    const auto it = unk->is_string() ? impl->vocab.find(unk->get<std::string>()) : impl->vocab.end();
    if (it == impl->vocab.end()) fail(source, "model.unk_token " + unk->dump() + " is not in the vocabulary");
    impl->unk_id = it->second;
  }
  const ByteAlphabet& alphabet = byte_alphabet();
  for (int b = 0; b < 256; ++b) {
    const auto it = impl->vocab.find(alphabet.symbol[b]);
    impl->byte_id[b] = it == impl->vocab.end() ? -1 : it->second;
  }

  // Merges: "a b" strings (one space) or ["a", "b"] pairs; a later duplicate wins, as in tokenizers.
  const json* merges = member(*model, "merges");
  if (merges == nullptr || !merges->is_array()) fail(source, "model has no \"merges\" list");
  uint32_t rank = 0;
  for (const json& m : *merges) {
    std::string a, b;
    if (m.is_string()) {
      const std::string line = m.get<std::string>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        fail(source, "model.merges[" + std::to_string(rank) + "] \"" + printable(line) + "\" is not two tokens separated by one space");
      a = line.substr(0, space), b = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    } else {
      fail(source, "model.merges[" + std::to_string(rank) + "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto id_of = [&](const std::string& token) {
      const auto it = impl->vocab.find(token);
      if (it == impl->vocab.end())
        fail(source, "model.merges[" + std::to_string(rank) + "] names \"" + printable(token) + "\", which is not in the vocabulary");
      return it->second;
    };
    const int64_t left = id_of(a), right = id_of(b), merged = id_of(a + b);
    impl->merges[(uint64_t(left) << 32) | uint64_t(right)] = {rank, merged};
    ++rank;
  }

  // Added tokens. tokenizers does not take their ids from the file: it reuses a vocabulary id or
  // appends after the largest one so far; a file whose ids disagree with that is refused.
  const json* added = member(j, "added_tokens");
  if (added && !added->is_null()) {
    if (!added->is_array()) fail(source, "added_tokens must be a list");
    const int64_t model_size = int64_t(impl->vocab.size());
    int64_t max_added = -1;
    for (const json& a : *added) {
      const json* content = member(a, "content");
      const json* id = member(a, "id");
      if (content == nullptr || !content->is_string() || id == nullptr || !id->is_number_integer())
        fail(source, "added_tokens entry " + a.dump() + " needs a string \"content\" and an integer \"id\"");
      AddedToken t;
      t.content = content->get<std::string>();
      const std::string where = "added token \"" + printable(t.content) + "\"";
      if (t.content.empty()) continue;  // tokenizers ignores empty ones
      if (flag(a, "single_word", false, source, where)) fail(source, where + " has single_word=true, which is not supported");
      t.special = flag(a, "special", false, source, where);
      t.normalized = flag(a, "normalized", !t.special, source, where);
      t.lstrip = flag(a, "lstrip", false, source, where);
      t.rstrip = flag(a, "rstrip", false, source, where);
      if (impl->added_ids.count(t.content)) fail(source, where + " is listed twice");
      const auto in_vocab = impl->vocab.find(t.content);
      if (in_vocab != impl->vocab.end()) t.id = in_vocab->second;
      else if (max_added < 0) t.id = model_size;
      else t.id = (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
      if (t.id != id->get<int64_t>())
        fail(source, where + " has id " + std::to_string(id->get<int64_t>()) + " in the file, but tokenizers assigns it " +
                         std::to_string(t.id));
      max_added = std::max(max_added, t.id);
      impl->added_ids.emplace(t.content, t.id);
      (t.normalized ? impl->normalized_trie : impl->raw_trie).insert(t.content, int32_t(impl->added.size()));
      impl->added.push_back(t);
    }
  }

  // Id -> token, for decoding: an added token shadows a vocabulary entry with the same id.
  int64_t max_id = -1;
  for (const auto& [token, id] : impl->vocab) max_id = std::max(max_id, id);
  for (const AddedToken& t : impl->added) max_id = std::max(max_id, t.id);
  impl->vocab_size = max_id + 1;
  impl->token_of_id.assign(size_t(impl->vocab_size), std::string());
  impl->id_known.assign(size_t(impl->vocab_size), 0);
  for (const auto& [token, id] : impl->vocab) impl->token_of_id[id] = token, impl->id_known[id] = 1;
  for (const AddedToken& t : impl->added) impl->token_of_id[t.id] = t.content, impl->id_known[t.id] = 1;
  return BpeTokenizer(std::move(impl));
}

// ---------------------------------------------------------------------------------------------

std::vector<int64_t> BpeTokenizer::encode(const std::string& text) const {
  const Impl& m = *impl_;
  if (const size_t bad = first_invalid_utf8(text); bad != std::string::npos)
    throw TokenizerInputError("tokenizer '" + m.source + "': text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  std::vector<int64_t> ids;
  std::vector<std::string> words, next;
  for (const Piece& outer : m.find_added(text, 0, text.size(), m.raw_trie)) {
    if (outer.token >= 0) {
      ids.push_back(m.added[outer.token].id);
      continue;
    }
    // The normalizer is null, so normalized tokens match the same text, in a second pass.
    const std::string segment = text.substr(outer.begin, outer.end - outer.begin);
    for (const Piece& inner : m.find_added(segment, 0, segment.size(), m.normalized_trie)) {
      if (inner.token >= 0) {
        ids.push_back(m.added[inner.token].id);
        continue;
      }
      words.assign(1, segment.substr(inner.begin, inner.end - inner.begin));
      for (const Regex& split : m.splits) {
        next.clear();
        for (const std::string& w : words) split.split_isolated(w, next);
        words.swap(next);
      }
      for (const std::string& w : words)
        if (!w.empty()) m.bpe(w, ids);
    }
  }
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  const Impl& m = *impl_;
  const ByteAlphabet& alphabet = byte_alphabet();
  std::string bytes;
  for (const int64_t id : ids) {
    if (id < 0 || id >= m.vocab_size || !m.id_known[id]) fail(m.source, "cannot decode id " + std::to_string(id) + ": no such token");
    const std::string& token = m.token_of_id[id];
    // tokenizers' ByteLevel decoder: a token whose characters are all byte symbols becomes those
    // bytes; any other token (an added token with other characters) passes through as UTF-8.
    std::string mapped;
    bool all_bytes = true;
    for (size_t i = 0; i < token.size() && all_bytes;) {
      uint32_t cp;
      bool valid;
      i += utf8_at(token, i, &cp, &valid);
      const auto it = alphabet.byte_of.find(cp);
      if (!valid || it == alphabet.byte_of.end()) all_bytes = false;
      else mapped += char(it->second);
    }
    bytes += all_bytes ? mapped : token;
  }
  return lossy_utf8(bytes);
}

bool BpeTokenizer::has_token(const std::string& token) const {
  return impl_->added_ids.count(token) != 0 || impl_->vocab.count(token) != 0;
}

int64_t BpeTokenizer::token_id(const std::string& token) const {
  if (const auto it = impl_->added_ids.find(token); it != impl_->added_ids.end()) return it->second;
  if (const auto it = impl_->vocab.find(token); it != impl_->vocab.end()) return it->second;
  fail(impl_->source, "has no token \"" + printable(token) + "\"");
}

int64_t BpeTokenizer::vocab_size() const { return impl_->vocab_size; }

const std::string& BpeTokenizer::source() const { return impl_->source; }

// ---------------------------------------------------------------------------------------------

json byte_level_tokenizer_json(const std::vector<std::string>& special_tokens, int64_t first_special_id,
                               int64_t first_byte_id) {
  const int64_t n = int64_t(special_tokens.size());
  if (first_special_id < 0 || first_byte_id < 0)
    throw std::invalid_argument("byte_level_tokenizer_json: ids must be non-negative");
  if (n > 0 && first_special_id < first_byte_id + 256 && first_byte_id < first_special_id + n)
    throw std::invalid_argument("byte_level_tokenizer_json: special ids [" + std::to_string(first_special_id) + ", " +
                                std::to_string(first_special_id + n) + ") overlap byte ids [" +
                                std::to_string(first_byte_id) + ", " + std::to_string(first_byte_id + 256) + ")");
  const ByteAlphabet& alphabet = byte_alphabet();
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[alphabet.symbol[b]] = first_byte_id + b;
  json tokenizer = {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"}, {"pattern", {{"Regex", kGlm4PretokenizerRegex}}}, {"behavior", "Isolated"}, {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", json::array()}}}};
  for (int64_t i = 0; i < n; ++i) add_special_token(tokenizer, special_tokens[i], first_special_id + i);
  return tokenizer;
}

void add_special_token(json& tokenizer, const std::string& content, int64_t id) {
  json& vocab = tokenizer.at("model").at("vocab");
  if (content.empty() || vocab.contains(content))
    throw std::invalid_argument("add_special_token: \"" + printable(content) + "\" is empty or already a token");
  if (id < 0) throw std::invalid_argument("add_special_token: id " + std::to_string(id) + " is negative");
  for (const auto& entry : vocab.items())
    if (entry.value().get<int64_t>() == id)
      throw std::invalid_argument("add_special_token: id " + std::to_string(id) + " of \"" + printable(content) +
                                  "\" is taken by \"" + printable(entry.key()) + "\"");
  vocab[content] = id;
  tokenizer["added_tokens"].push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                                       {"rstrip", false}, {"normalized", false}, {"special", true}});
}

}  // namespace glmh
