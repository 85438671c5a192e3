// The AR model's text tokenizer: a Hugging Face byte-level BPE `tokenizer.json`, as GLM-4 and
// GLM-Image's processor ship it, encoding exactly as the `tokenizers` library does.
//
// Encoding, in the library's order:
//  1. added tokens (specials such as <sop>, <|dit_token_16384|>) are cut out of the raw text
//     first, leftmost-longest; tokens with normalized=false in a first pass over the whole text,
//     then normalized=true ones over what is left (the normalizer must be null, so both passes
//     see the same text); lstrip / rstrip widen a match over adjacent Unicode white space;
//  2. the rest is pre-tokenized: each Split regex (behaviour Isolated) in turn, run with PCRE2,
//     then ByteLevel (use_regex=true adds GPT-2's regex) maps every byte to one symbol;
//  3. each piece is BPE-merged, lowest merge rank first, leftmost among equals.
// No BOS/EOS is added: GLM-Image's processor adds none to the AR prompt, and a post_processor
// that would add tokens is refused at load rather than silently ignored.
//
// The regexes run with PCRE2 (UTF + UCP, JIT when available), tokenizers runs them with
// Oniguruma. Over every code point in several contexts, the two split GLM-4's regex identically
// except at code points that PCRE2's Unicode tables do not assign yet (Unicode 14 in PCRE2 10.42:
// 9392 code points, e.g. CJK extensions H and I); \s is given as \p{White_Space} to agree at U+180E.
//
// Settings the loader does not implement (a normalizer, single_word added tokens, byte_fallback,
// dropout, subword prefixes/suffixes, other Split behaviours) are refused with a one-line
// CheckpointError naming the file, never approximated.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmh {

// Text the tokenizer cannot encode (not valid UTF-8): bad input, named with the byte offset.
class TokenizerInputError : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// GLM-4's pre-tokenizer regex (GLM-4-9B-0414, GLM-4.1V, GLM-Image): cl100k-style, with
// case-insensitive contractions and digit runs of at most three.
extern const char* const kGlm4PretokenizerRegex;

class BpeTokenizer {
 public:
  // Reads and checks a tokenizer.json; CheckpointError names the file on any problem.
  static BpeTokenizer load(const std::string& path);
  // The same from parsed JSON; `source` names it in error messages.
  static BpeTokenizer from_json(const nlohmann::json& tokenizer, const std::string& source);

  // Token ids of a UTF-8 text; no special tokens are added. Invalid UTF-8 throws TokenizerInputError
  // (pipeline/executor/request.h) naming the tokenizer and the byte offset.
  std::vector<int64_t> encode(const std::string& utf8) const;
  // Text of ids, special tokens included (tokenizers' decode with skip_special_tokens=false):
  // byte-level symbols back to bytes, invalid UTF-8 replaced by U+FFFD per maximal subpart.
  // An id the tokenizer does not have throws CheckpointError.
  std::string decode(const std::vector<int64_t>& ids) const;
  // Id of a token (an added token or a vocabulary entry); CheckpointError naming the file and
  // the token when there is none.
  int64_t token_id(const std::string& token) const;
  bool has_token(const std::string& token) const;
  // Largest id + 1, over the vocabulary and the added tokens.
  int64_t vocab_size() const;
  const std::string& source() const;

 private:
  struct Impl;
  explicit BpeTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable once loaded; copies share it
};

// A GLM-style tokenizer.json with no merges: the 256 byte-level symbols as ids first_byte_id ..
// first_byte_id + 255, GLM-4's pre-tokenizer, and `special_tokens` as special added tokens with
// consecutive ids from first_special_id. It encodes any text to its UTF-8 bytes (specials cut
// out first). glmh's random-weight presets ship it so that they have a real, loadable tokenizer.
nlohmann::json byte_level_tokenizer_json(const std::vector<std::string>& special_tokens, int64_t first_special_id,
                                         int64_t first_byte_id);

// Adds one more special token with a given id to such a tokenizer.json, in added_tokens and in
// the model vocabulary: tokenizers ignores an added token's id in the file and re-assigns it
// (the vocabulary's id, else the next after the largest so far), so an id out of that sequence
// holds only for a token the vocabulary has. std::invalid_argument when the id or the token is
// taken.
void add_special_token(nlohmann::json& tokenizer, const std::string& content, int64_t id);

}  // namespace glmh
