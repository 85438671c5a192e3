// Small file-system helpers on plain POSIX calls.
//
// Why not std::filesystem: the CUDA torch wheels (2.x, manylinux) export their own copies of
// libstdc++'s std::filesystem symbols from libtorch_cpu.so, and a program linked against them
// binds to those copies; recursive_directory_iterator / remove_all then crash (seen on torch
// 2.11+cu130). Everything in glmh that links torch uses these instead.
#pragma once

#include <string>
#include <vector>

namespace glmh::posix_fs {

bool exists(const std::string& path);
bool is_directory(const std::string& path);
// mkdir -p; throws std::runtime_error naming the path on failure.
void make_directories(const std::string& path);
// rm -rf; never throws (best effort).
void remove_tree(const std::string& path);
// Names in a directory (no "." or ".."), sorted; empty when it cannot be read.
std::vector<std::string> list_directory(const std::string& path);
// A new directory "<parent>/<prefix>XXXXXX"; throws std::runtime_error on failure.
std::string make_temp_directory(const std::string& parent, const std::string& prefix);
std::string parent_path(const std::string& path);
// Removes the directories PARENT/PREFIX<pid>-* whose process <pid> is gone: what a killed glmh
// left behind. Only real directories of this user: a link or another user's directory under such
// a name is left alone, and so is a name whose <pid> is not 1 to 9 digits (anyone can plant names
// in /tmp).
void remove_directories_of_dead_processes(const std::string& parent, const std::string& prefix);

}  // namespace glmh::posix_fs
