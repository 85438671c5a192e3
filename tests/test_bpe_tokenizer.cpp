// BpeTokenizer against the `tokenizers` library (golden/reference/tokenizer_cases.json and
// tokenizer_tiny/tokenizer.json from scripts/reference/make_tokenizer_golden.py): identical ids
// for every case and variant, decoding, the errors on bad input, and that the comparison does
// catch a wrong tokenizer.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/model/ar/bpe_tokenizer.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

using nlohmann::json;

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference/";
const std::string kTokenizer = kGolden + "tokenizer_tiny/tokenizer.json";

const json& golden() {
  static const json g = read_json_file(kGolden + "tokenizer_cases.json");
  return g;
}

json tokenizer_json() { return read_json_file(kTokenizer); }

// Number of golden cases whose ids `tok` does not reproduce.
int mismatches(const BpeTokenizer& tok, const json& expected_ids) {
  int bad = 0;
  const json& cases = golden()["cases"];
  for (size_t i = 0; i < cases.size(); ++i)
    bad += tok.encode(cases[i]["text"].get<std::string>()) != expected_ids[i].get<std::vector<int64_t>>();
  return bad;
}

json case_ids() {
  json ids = json::array();
  for (const auto& c : golden()["cases"]) ids.push_back(c["ids"]);
  return ids;
}

TEST(BpeTokenizer, EncodesEveryCaseLikeTokenizers) {
  const BpeTokenizer tok = BpeTokenizer::load(kTokenizer);
  for (const auto& c : golden()["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tok.encode(text), c["ids"].get<std::vector<int64_t>>()) << json(text).dump();
    EXPECT_EQ(tok.decode(c["ids"].get<std::vector<int64_t>>()), c["decoded"].get<std::string>()) << json(text).dump();
    EXPECT_EQ(tok.decode(tok.encode(text)), text);  // byte-level BPE loses nothing
  }
}

TEST(BpeTokenizer, DecodesInvalidUtf8LikeTokenizers) {
  const BpeTokenizer tok = BpeTokenizer::load(kTokenizer);
  for (const auto& c : golden()["decode_cases"])
    EXPECT_EQ(tok.decode(c["ids"].get<std::vector<int64_t>>()), c["text"].get<std::string>()) << c["ids"].dump();
}

TEST(BpeTokenizer, VariantsMatchTokenizers) {
  // Added-token lstrip / rstrip / normalized, non-special added tokens, ignore_merges, GPT-2's
  // ByteLevel regex: each variant is tokenizer.json with the golden's overrides applied.
  for (const auto& v : golden()["variants"]) {
    json doc = tokenizer_json();
    for (const auto& o : v["overrides"]) doc[json::json_pointer(o[0].get<std::string>())] = o[1];
    const BpeTokenizer tok = BpeTokenizer::from_json(doc, v["name"].get<std::string>());
    EXPECT_EQ(mismatches(tok, v["ids"]), 0) << v["name"];
  }
}

TEST(BpeTokenizer, GoldenComparisonCatchesAWrongTokenizer) {
  // Without merges every case falls apart into bytes; with GPT-2's regex instead of GLM-4's the
  // digit runs and contractions split differently. Either must fail the golden comparison.
  const json cases = case_ids();
  json no_merges = tokenizer_json();
  no_merges["model"]["merges"] = json::array();
  EXPECT_GT(mismatches(BpeTokenizer::from_json(no_merges, "no merges"), cases), 20);

  json gpt2 = tokenizer_json();
  gpt2["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  EXPECT_GE(mismatches(BpeTokenizer::from_json(gpt2, "gpt2 regex"), cases), 3);

  // Merges as "a b" strings (the older encoding) are the same merges.
  json strings = tokenizer_json();
  for (auto& m : strings["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  EXPECT_EQ(mismatches(BpeTokenizer::from_json(strings, "string merges"), cases), 0);
}

TEST(BpeTokenizer, TokenIdsAndVocabSize) {
  const BpeTokenizer tok = BpeTokenizer::load(kTokenizer);
  const json doc = tokenizer_json();
  int64_t max_id = 0;
  for (const auto& a : doc["added_tokens"]) {
    EXPECT_EQ(tok.token_id(a["content"]), a["id"].get<int64_t>());
    max_id = std::max(max_id, a["id"].get<int64_t>());
  }
  EXPECT_EQ(tok.vocab_size(), max_id + 1);
  EXPECT_EQ(tok.token_id("\xC4\xA0"), doc["model"]["vocab"]["\xC4\xA0"].get<int64_t>());  // "Ġ", the space byte
  EXPECT_TRUE(tok.has_token("<sop>"));
  EXPECT_FALSE(tok.has_token("<nope>"));
}

// The message of what `f` throws as E, checked to be one line naming `name`.
template <typename E, typename F>
std::string error_of(F f, const std::string& name) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(name), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "nothing thrown";
  return "";
}

TEST(BpeTokenizer, BadTokenizerFilesAreRefusedWithOneLineErrors) {
  auto refused = [](json doc) { return error_of<CheckpointError>([&] { BpeTokenizer::from_json(doc, "bad.json"); }, "bad.json"); };
  json j = tokenizer_json();
  j.erase("model");
  EXPECT_NE(refused(j).find("\"model\""), std::string::npos);

  j = tokenizer_json();
  j["model"]["merges"].push_back({"\xC4\xA0", "no-such-token"});
  EXPECT_NE(refused(j).find("no-such-token"), std::string::npos);

  j = tokenizer_json();
  j["model"]["merges"][0] = "one-token-only";
  EXPECT_NE(refused(j).find("merges[0]"), std::string::npos);

  j = tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+(";
  const std::string regex_error = refused(j);
  EXPECT_NE(regex_error.find("PCRE2"), std::string::npos) << regex_error;
  EXPECT_NE(regex_error.find("offset 7"), std::string::npos) << regex_error;

  j = tokenizer_json();
  j["normalizer"] = {{"type", "NFC"}};
  EXPECT_NE(refused(j).find("normalizer NFC"), std::string::npos);

  j = tokenizer_json();
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "[gMASK]"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  EXPECT_NE(refused(j).find("TemplateProcessing"), std::string::npos);

  j = tokenizer_json();
  j["added_tokens"][0]["id"] = 5;  // tokenizers would give it the next id after the vocabulary
  EXPECT_NE(refused(j).find("tokenizers assigns it"), std::string::npos);

  j = tokenizer_json();
  j["added_tokens"][0]["single_word"] = true;
  EXPECT_NE(refused(j).find("single_word"), std::string::npos);

  j = tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  EXPECT_NE(refused(j).find("Removed"), std::string::npos);

  j = tokenizer_json();
  j["model"]["byte_fallback"] = true;
  EXPECT_NE(refused(j).find("byte_fallback"), std::string::npos);

  error_of<CheckpointError>([] { BpeTokenizer::load("/nonexistent/tokenizer.json"); }, "/nonexistent/tokenizer.json");
}

TEST(BpeTokenizer, BadTextAndIdsAreRefused) {
  const BpeTokenizer tok = BpeTokenizer::load(kTokenizer);
  const std::string what = error_of<TokenizerInputError>([&] { tok.encode("ok \xE4\xB8 then"); }, kTokenizer);
  EXPECT_NE(what.find("byte offset 3"), std::string::npos) << what;
  error_of<TokenizerInputError>([&] { tok.encode("\xED\xA0\x80"); }, kTokenizer);  // a surrogate
  error_of<TokenizerInputError>([&] { tok.encode("\xC0\xAF"); }, kTokenizer);      // overlong
  EXPECT_NE(error_of<CheckpointError>([&] { tok.token_id("<nope>"); }, kTokenizer).find("<nope>"), std::string::npos);
  error_of<CheckpointError>([&] { tok.decode({tok.vocab_size()}); }, kTokenizer);
  error_of<CheckpointError>([&] { tok.decode({-1}); }, kTokenizer);
}

// Random valid UTF-8: ASCII, Latin, CJK, astral code points, specials' characters.
std::string random_utf8(std::mt19937& rng, int chars) {
  std::string s;
  std::uniform_int_distribution<int> kind(0, 5);
  for (int i = 0; i < chars; ++i) {
    uint32_t cp;
    switch (kind(rng)) {
      case 0: cp = std::uniform_int_distribution<uint32_t>(0, 0x7F)(rng); break;
      case 1: cp = std::uniform_int_distribution<uint32_t>(0x80, 0x7FF)(rng); break;
      case 2: cp = std::uniform_int_distribution<uint32_t>(0x4E00, 0x9FFF)(rng); break;
      case 3: cp = std::uniform_int_distribution<uint32_t>(0x10000, 0x10FFFF)(rng); break;
      case 4: cp = " \t\n<|>"[std::uniform_int_distribution<int>(0, 6)(rng)]; break;
      default: cp = std::uniform_int_distribution<uint32_t>(0xE000, 0xFFFD)(rng); break;
    }
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3F)), s += char(0x80 | ((cp >> 6) & 0x3F)),
          s += char(0x80 | (cp & 0x3F));
    }
  }
  return s;
}

TEST(BpeTokenizer, ByteLevelTokenizerJsonLoadsAndRoundTrips) {
  const std::vector<std::string> specials = {"<|dit_token_16384|>", "<|dit_token_16385|>", "<sop>", "<eop>", "<|image|>"};
  const json doc = byte_level_tokenizer_json(specials, 16384, 1000);
  testing::TempDir dir;
  const std::string path = dir.path() + "/tokenizer.json";
  {
    std::ofstream(path) << doc.dump();
  }
  const BpeTokenizer tok = BpeTokenizer::load(path);
  EXPECT_EQ(tok.vocab_size(), 16384 + 5);
  for (size_t i = 0; i < specials.size(); ++i) EXPECT_EQ(tok.token_id(specials[i]), int64_t(16384 + i));

  EXPECT_EQ(tok.encode("a<sop>\xC3\xA9"), (std::vector<int64_t>{1000 + 'a', 16386, 1000 + 0xC3, 1000 + 0xA9}));
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const std::string text = random_utf8(rng, trial);
    const std::vector<int64_t> ids = tok.encode(text);
    for (const int64_t id : ids) EXPECT_TRUE((id >= 1000 && id < 1256) || (id >= 16384 && id < 16389)) << id;
    EXPECT_EQ(tok.decode(ids), text);
  }
  for (const auto& c : golden()["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }

  EXPECT_THROW(byte_level_tokenizer_json({"<a>"}, 1100, 1000), std::invalid_argument);  // inside the byte ids
  EXPECT_THROW(byte_level_tokenizer_json({"<a>", "<a>"}, 0, 1000), std::invalid_argument);
}

TEST(BpeTokenizer, LongInputsStayFast) {
  // A 300 KB prompt with a 90 KB single word (one run of CJK letters): the merge loop is
  // O(n log n) per word, so this takes milliseconds; a quadratic one would take minutes.
  const BpeTokenizer tok = BpeTokenizer::load(kTokenizer);
  std::string text;
  for (int i = 0; i < 30000; ++i) text += "\xE4\xB8\xAD";  // 中
  const std::string prose = golden()["cases"].back()["text"];
  while (text.size() < 300000) text += " " + prose;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int64_t> ids = tok.encode(text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(tok.decode(ids), text);
}

}  // namespace
}  // namespace glmh
