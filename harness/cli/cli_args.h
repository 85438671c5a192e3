// A small GNU-style option parser: "--name value", "--name=value", boolean "--flag".
// Each command declares its options; anything else is a usage error naming the option.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace glmh {

class UsageError : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct OptionSpec {
  std::string name;        // without the leading "--"
  std::string value_name;  // empty for a boolean flag
  std::string help;
  std::string default_value;
};

class CliArgs {
 public:
  // Throws UsageError for unknown options, a missing value or a value given to a flag.
  static CliArgs parse(const std::string& command, const std::vector<OptionSpec>& specs,
                       const std::vector<std::string>& args);

  bool flag(const std::string& name) const;
  bool given(const std::string& name) const { return values_.count(name) != 0; }
  std::string str(const std::string& name) const;
  // Integer/real options; UsageError names the option and the bad text.
  int64_t integer(const std::string& name, int64_t min_value = INT64_MIN) const;
  double real(const std::string& name) const;

  static std::string help_text(const std::string& command, const std::string& summary,
                               const std::vector<OptionSpec>& specs);

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> defaults_;
};

}  // namespace glmh
