#include "harness/cli/cli_args.h"

#include <algorithm>
#include <climits>
#include <sstream>

namespace glmh {

CliArgs CliArgs::parse(const std::string& command, const std::vector<OptionSpec>& specs,
                       const std::vector<std::string>& args) {
  CliArgs out;
  out.command_ = command;
  for (const auto& s : specs) out.defaults_[s.name] = s.default_value;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2)
      throw UsageError("glmh " + command + ": unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    bool has_inline = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end())
      throw UsageError("glmh " + command + ": unknown option '--" + name + "' (see glmh " +
                       command + " --help)");
    if (spec->value_name.empty()) {
      if (has_inline) throw UsageError("glmh " + command + ": option '--" + name + "' takes no value");
      value = "1";
    } else if (!has_inline) {
      if (i + 1 >= args.size())
        throw UsageError("glmh " + command + ": option '--" + name + "' needs a value (" +
                         spec->value_name + ")");
      value = args[++i];
    }
    out.values_[name] = value;
  }
  return out;
}

bool CliArgs::flag(const std::string& name) const { return values_.count(name) != 0; }

std::string CliArgs::str(const std::string& name) const {
  if (const auto it = values_.find(name); it != values_.end()) return it->second;
  if (const auto it = defaults_.find(name); it != defaults_.end()) return it->second;
  return "";
}

int64_t CliArgs::integer(const std::string& name, int64_t min_value) const {
  const std::string text = str(name);
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= min_value) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("glmh " + command_ + ": option '--" + name + "' expects an integer" +
                   (min_value > INT64_MIN ? " >= " + std::to_string(min_value) : "") +
                   ", got '" + text + "'");
}

double CliArgs::real(const std::string& name) const {
  const std::string text = str(name);
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("glmh " + command_ + ": option '--" + name + "' expects a number, got '" +
                   text + "'");
}

std::string CliArgs::help_text(const std::string& command, const std::string& summary,
                               const std::vector<OptionSpec>& specs) {
  std::ostringstream s;
  s << "usage: glmh " << command << " [options]\n\n" << summary << "\n\noptions:\n";
  for (const auto& o : specs) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    s << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << o.help;
    if (!o.default_value.empty()) s << " (default " << o.default_value << ")";
    s << "\n";
  }
  s << "\nexit codes: 0 all checks passed, 1 a check failed, 2 usage or input error,\n"
       "            3 the run broke (a rank died or stalled, a collective failed)\n";
  return s.str();
}

}  // namespace glmh
