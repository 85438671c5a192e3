// glmh compare A B: two outputs of GLM-Image runs by the metrics of harness/checks/output_comparison.h.
#include "harness/commands/compare_command.h"

#include <iostream>

#include "harness/checks/output_comparison.h"
#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

int compare_command(const std::vector<std::string>& raw_args) {
  const std::vector<OptionSpec> specs = {
      {"min-psnr", "DB", "fail (exit 1) below this PSNR", ""},
      {"min-cosine", "X", "fail below this cosine", ""},
      {"max-nmse", "X", "fail above this NMSE", ""},
      {"min-ssim", "X", "fail below this SSIM (images)", ""},
      {"help", "", "show this help", ""},
  };
  RankLog log;
  try {
    // An option takes its value as the next word (or after "="); the rest are the two files.
    std::vector<std::string> opts, positional;
    for (size_t i = 0; i < raw_args.size(); ++i) {
      const std::string& a = raw_args[i];
      if (a.rfind("--", 0) == 0) {
        opts.push_back(a);
        if (a != "--help" && a.find('=') == std::string::npos && i + 1 < raw_args.size()) opts.push_back(raw_args[++i]);
      } else {
        positional.push_back(a);
      }
    }
    const CliArgs args = CliArgs::parse("compare", specs, opts);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text("compare A B",
                                      "Compares output A with the reference B: two latents or prior-token files\n"
                                      "(safetensors: every tensor, by name) or two images (PNG): max abs error,\n"
                                      "relative max error, NMSE, cosine, PSNR and, for images, SSIM.",
                                      specs);
      return kExitOk;
    }
    if (positional.size() != 2) throw UsageError("glmh compare: expected two files, A and B");
    const OutputComparison c = compare_files(positional[0], positional[1]);
    std::cout << "# glmh compare " << positional[0] << " (A) against " << positional[1] << " (B), " << c.kind << "\n"
              << c.summary() << "\n";
    std::vector<std::string> violated;
    if (args.given("min-psnr") && !(c.psnr_db >= args.real("min-psnr"))) violated.push_back("PSNR below " + args.str("min-psnr"));
    if (args.given("min-cosine") && !(c.cosine >= args.real("min-cosine"))) violated.push_back("cosine below " + args.str("min-cosine"));
    if (args.given("max-nmse") && !(c.nmse <= args.real("max-nmse"))) violated.push_back("NMSE above " + args.str("max-nmse"));
    if (args.given("min-ssim") && !(c.ssim >= args.real("min-ssim"))) violated.push_back("SSIM below " + args.str("min-ssim"));
    for (const auto& v : violated) std::cout << "FAIL: " << v << "\n";
    std::cout << (violated.empty() ? "OK" : "FAILED") << std::endl;
    return violated.empty() ? kExitOk : kExitCheckFailed;
  } catch (const std::invalid_argument& e) {
    log.error(e.what());
    return kExitUsage;
  } catch (const std::exception& e) {  // CheckpointError, PNG errors
    log.error(e.what());
    return kExitUsage;
  }
}

}  // namespace glmh
