#include "harness/run/run_reference.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "harness/cli/cli_args.h"
#include "harness/io/report_files.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

constexpr const char* kComputedHere = "computed by the binary under test";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

}  // namespace

Scenario request_scenario_of(const CliArgs& args) {
  Scenario s;
  s.name = "run";
  s.model = args.str("model");
  s.task = args.given("image") ? "i2i" : "t2i";
  s.image = args.str("image");
  s.prompt = args.str("prompt");
  s.height = int(args.integer("height", 32));
  s.width = int(args.integer("width", 32));
  s.steps = int(args.integer("steps", 1));
  s.guidance = args.real("guidance");
  s.seed = args.integer("seed", 0);
  s.dtype = args.str("dtype");
  s.device = args.str("device");
  s.cache = args.str("cache");
  return s;
}

std::string golden_of(const Scenario& request, const std::string& store) {
  if (store.empty() || store == "none" || !request.golden_portable()) return "";
  const std::string dir = store + "/" + request.reference_key();
  return posix_fs::exists(dir + "/latents.safetensors") && posix_fs::exists(dir + "/provenance.json") ? dir : "";
}

std::string matching_golden(const CliArgs& args, const std::string& store) {
  if (args.integer("model-seed", 0) != 0) return "";
  for (const char* unkeyed : {"greedy", "temperature", "top-p", "top-k", "glyph-max-length"})
    if (args.given(unkeyed)) return "";
  return golden_of(request_scenario_of(args), store);
}

std::string reference_origin(const std::string& dir) {
  if (dir.empty()) return "";
  const nlohmann::json provenance = read_json(dir + "/provenance.json");
  if (provenance.is_object())
    return "golden " + provenance.value("reference_key", dir) + " (glmh " + provenance.value("glmh_revision", "?") +
           ", " + provenance.value("created_utc", "?") + ")";
  const nlohmann::json run = read_json(dir + "/run.json");
  if (!run.is_object()) return "a directory without run.json (" + dir + ")";
  const std::string revision = run.value("glmh_revision", "?");
  // The revision of this binary: computed by it (or by a build of the same source).
  if (revision == git_revision()) {
    Scenario request;  // the run's precision and device: whether a golden could stand in for it
    request.dtype = run.value("dtype", "");
    request.device = run.value("device", "");
    return std::string(kComputedHere) + " (glmh " + revision + "): a defect it shares with the single-rank path goes " +
           (request.golden_portable() ? "unseen; a golden (--golden) avoids that"
                                      : "unseen; bf16 on the CPU has no golden, its rounding differs from CPU to CPU");
  }
  return "a run of glmh " + revision + " (" + dir + ")";
}

bool reference_computed_by_this_binary(const std::string& origin) { return origin.rfind(kComputedHere, 0) == 0; }

}  // namespace glmh
