// tokenizer.json (pipeline/model/ar/bpe_tokenizer.h): an accepted tokenizer encodes a mixed-script
// prompt, and decodes what it encoded without error.
#include "fuzz/fuzz_input.h"
#include "pipeline/checkpoint/config_fields.h"
#include "pipeline/model/ar/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  fuzz::refuse_only_with<CheckpointError>([&] {
    const BpeTokenizer tokenizer =
        BpeTokenizer::from_json(parse_json_text(fuzz::text_of(data, size), "tokenizer.json"), "tokenizer.json");
    const std::vector<int64_t> ids = tokenizer.encode("A red poster that says \"glmh\" 海报 123456 don't\n\t  end");
    tokenizer.decode(ids);
  });
  return 0;
}
