#include "harness/io/number_text.h"
#include "harness/scenarios/scenario.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace glmh {

std::vector<std::string> Scenario::run_arguments() const {
  std::vector<std::string> a = {"--model", model, "--prompt", prompt, "--height", std::to_string(height), "--width",
                                std::to_string(width), "--steps", std::to_string(steps), "--guidance",
                                number_text(guidance), "--seed", std::to_string(seed), "--device", device,
                                "--world-size", std::to_string(world_size), "--tp", std::to_string(tp), "--sp",
                                std::to_string(sp), "--cfg", std::to_string(cfg), "--ar-strategy", ar_strategy,
                                "--fault", fault, "--cache", cache};
  if (ulysses > 0) a.insert(a.end(), {"--ulysses", std::to_string(ulysses)});
  if (ring > 0) a.insert(a.end(), {"--ring", std::to_string(ring)});
  if (!dtype.empty()) a.insert(a.end(), {"--dtype", dtype});
  if (!image.empty()) a.insert(a.end(), {"--image", image});
  if (latent_tolerance) a.insert(a.end(), {"--latent-tolerance", number_text(*latent_tolerance)});
  if (min_cosine) a.insert(a.end(), {"--min-cosine", number_text(*min_cosine)});
  if (min_psnr) a.insert(a.end(), {"--min-psnr", number_text(*min_psnr)});
  return a;
}

std::vector<std::string> Scenario::expected_catchers() const {
  std::vector<std::string> names;
  const std::string prefix = "detect:";
  if (expect.rfind(prefix, 0) != 0) return names;
  std::string rest = expect.substr(prefix.size());
  for (size_t cut; (cut = rest.find('+')) != std::string::npos; rest = rest.substr(cut + 1)) names.push_back(rest.substr(0, cut));
  names.push_back(rest);
  std::sort(names.begin(), names.end());
  return names;
}

std::string Scenario::reference_key() const {
  // Everything that defines the single-rank output, in a file-name-safe form plus a hash of the
  // free text: the prompt and the reference image's bytes (not its path: a clone elsewhere must
  // find the same golden).
  std::string text = prompt + "\n";
  if (!image.empty()) {
    std::ifstream in(image, std::ios::binary);
    text += in ? std::string(std::istreambuf_iterator<char>(in), {}) : "missing:" + image;
  }
  if (cache != "none") text += "\ncache " + cache;  // a cached run has its own reference
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(h));
  std::string key = model + "-" + task + "-" + std::to_string(height) + "x" + std::to_string(width) + "-s" +
                    std::to_string(steps) + "-g" + number_text(guidance) + "-seed" + std::to_string(seed) + "-" +
                    (dtype.empty() ? (device == "cuda" ? "bf16" : "fp32") : dtype) + "-" + device +
                    (cache != "none" ? "-cached-" : "-") + hash;
  for (char& c : key)
    if (c == '/' || c == ' ') c = '_';
  return key;
}

bool Scenario::golden_portable() const { return !(device == "cpu" && dtype == "bf16"); }

std::string Scenario::layout_text() const {
  std::string s = "world " + std::to_string(world_size) + ": tp " + std::to_string(tp) + ", sp " + std::to_string(sp);
  if (sp > 1) s += " (ulysses " + std::to_string(ulysses) + ", ring " + std::to_string(ring) + ")";
  s += ", cfg " + std::to_string(cfg);
  return s;
}

}  // namespace glmh
