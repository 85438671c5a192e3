// An output directory (a run's, a report's) built under a temporary name next to its final one
// and put in place in one step: a process killed at any moment leaves the final directory as it
// was before or as the finished run left it, never a mix of the two and never a partial file
// under a final name (docs/reliability.md#crash-safe-outputs).
#pragma once

#include <string>

namespace glmh {

class StagedDirectory {
 public:
  // Creates "FINAL.partial-PID-XXXXXX" beside `final_dir` (its parent is created if needed),
  // after removing this user's leftover stagings of `final_dir` whose process is gone.
  explicit StagedDirectory(std::string final_dir);
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  const std::string& path() const { return staging_; }  // where to write
  const std::string& final_path() const { return final_; }

  // Puts the staging in place: renamed to the final name when there is none, else exchanged
  // with it (renameat2 RENAME_EXCHANGE) and the previous tree, now under the staging name,
  // removed, or renamed to `keep_previous_as` when one is given. Throws std::runtime_error
  // naming the paths when the file system refuses.
  void commit(const std::string& keep_previous_as = "");

 private:
  std::string final_, staging_;
};

// Swaps two directory entries in one step (renameat2 RENAME_EXCHANGE); throws on failure.
void exchange_directories(const std::string& a, const std::string& b);

// `path` with a leading `from` directory replaced by `to` (unchanged when it does not start
// there): where a file written under a staging will be once it is committed.
std::string relocated(const std::string& path, const std::string& from, const std::string& to);

}  // namespace glmh
