// Every glmh command, in one table: main() dispatches through it and prints it as the usage.
// A new command is a file in harness/commands/ and a row in command_table.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace glmh {

struct CommandEntry {
  std::string_view name;
  std::string_view summary;  // one line for the usage text
  int (*run)(const std::vector<std::string>& args);  // the arguments after the command's name
};

const std::vector<CommandEntry>& command_table();
// nullptr for an unknown name.
const CommandEntry* find_command(std::string_view name);
std::string usage_text();

}  // namespace glmh
