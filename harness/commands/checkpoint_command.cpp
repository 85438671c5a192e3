#include "harness/commands/checkpoint_command.h"

#include <ATen/ATen.h>

#include <iostream>

#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/model/model_source.h"
#include "pipeline/runtime/error_text.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

int checkpoint_command(const std::vector<std::string>& raw_args) {
  const std::vector<OptionSpec> specs = {
      {"preset", "P", "tiny, small or full", ""},
      {"seed", "S", "weight seed (the preset used as --model P has seed 0)", "0"},
      {"out", "DIR", "the checkpoint directory to create (must not exist)", ""},
      {"dtype", "fp32|bf16", "stored dtype (default: fp32 for tiny and small, bf16 for full, like the real one)", ""},
      {"help", "", "show this help", ""},
  };
  RankLog log;
  std::vector<std::string> args = raw_args;
  const bool help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
  if (help || args.empty() || args[0] != "init") {
    std::cout << CliArgs::help_text("checkpoint init",
                                    "Writes a preset (deterministic random weights) as a GLM-Image checkpoint in the\n"
                                    "upstream layout: model_index.json, processor/, scheduler/, text_encoder/, tokenizer/,\n"
                                    "transformer/, vae/, vision_language_encoder/. The directory appears whole or not at all.",
                                    specs);
    return help ? kExitOk : kExitUsage;
  }
  args.erase(args.begin());
  try {
    const CliArgs a = CliArgs::parse("checkpoint init", specs, args);
    if (a.flag("help")) {
      std::cout << CliArgs::help_text("checkpoint init", "Writes a preset as a checkpoint directory.", specs);
      return kExitOk;
    }
    for (const char* required : {"preset", "out"})
      if (!a.given(required)) throw UsageError(std::string("glmh checkpoint init: --") + required + " is required");
    const std::string preset = a.str("preset");
    if (!is_preset_name(preset)) throw UsageError("glmh checkpoint init: unknown preset '" + preset + "' (tiny, small, full)");
    std::string dtype = a.str("dtype");
    if (dtype.empty()) dtype = preset == "full" ? "bf16" : "fp32";
    if (dtype != "fp32" && dtype != "bf16") throw UsageError("glmh checkpoint init: --dtype must be fp32 or bf16");
    write_preset_checkpoint(preset, static_cast<uint64_t>(a.integer("seed", 0)), a.str("out"),
                            dtype == "bf16" ? at::kBFloat16 : at::kFloat);
    log.info("wrote preset ", preset, " (seed ", a.integer("seed", 0), ", ", dtype, ") to ", a.str("out"));
    return kExitOk;
  } catch (const UsageError& e) {
    log.error(e.what());
    return kExitUsage;
  } catch (const CheckpointError& e) {
    log.error("glmh checkpoint init: ", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    log.error("glmh checkpoint init: ", one_line_error(e));
    return kExitInfrastructure;
  }
}

}  // namespace glmh
