#include "harness/io/staged_directory.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

StagedDirectory::StagedDirectory(std::string final_dir) : final_(std::move(final_dir)) {
  while (final_.size() > 1 && final_.back() == '/') final_.pop_back();
  std::string parent = posix_fs::parent_path(final_);
  if (parent.empty()) parent = ".";
  posix_fs::make_directories(parent);
  posix_fs::remove_directories_of_dead_processes(parent, base_name(final_) + ".partial-");
  staging_ = posix_fs::make_temp_directory(parent, base_name(final_) + ".partial-" + std::to_string(::getpid()) + "-");
  // mkdtemp makes it 0700; the final directory gets what mkdir would have given it.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::chmod(staging_.c_str(), 0777 & ~mask);
}

void StagedDirectory::commit(const std::string& keep_previous_as) {
  if (!posix_fs::exists(final_)) {
    if (::rename(staging_.c_str(), final_.c_str()) != 0)
      throw std::runtime_error("cannot rename " + staging_ + " to " + final_ + ": " + std::strerror(errno));
    return;
  }
  exchange_directories(staging_, final_);
  // `staging_` now names the previous directory.
  if (keep_previous_as.empty()) {
    posix_fs::remove_tree(staging_);
  } else if (::rename(staging_.c_str(), keep_previous_as.c_str()) != 0) {
    throw std::runtime_error("cannot rename the previous " + final_ + " to " + keep_previous_as + ": " + std::strerror(errno));
  }
}

void exchange_directories(const std::string& a, const std::string& b) {
  if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0)
    throw std::runtime_error("cannot exchange " + a + " and " + b + ": " + std::strerror(errno));
}

std::string relocated(const std::string& path, const std::string& from, const std::string& to) {
  if (path == from) return to;
  if (path.size() > from.size() && path.compare(0, from.size(), from) == 0 && path[from.size()] == '/')
    return to + path.substr(from.size());
  return path;
}

}  // namespace glmh
