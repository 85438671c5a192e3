// Line-at-a-time logging tagged with the rank.
//
// Every line goes out in one write(2) on stderr, so lines from several rank processes sharing a
// terminal or pipe never interleave mid-line, and nothing sits in a buffer when a rank is killed.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace glmh {

class RankLog {
 public:
  explicit RankLog(int rank = -1) : rank_(rank) {}
  void set_rank(int rank) { rank_ = rank; }
  int rank() const { return rank_; }

  template <class... Args>
  void info(const Args&... args) const { write("", args...); }
  template <class... Args>
  void warn(const Args&... args) const { write("warning: ", args...); }
  template <class... Args>
  void error(const Args&... args) const { write("error: ", args...); }

  // Writes `text` as-is (it is expected to end in '\n') in one system call.
  static void write_raw(std::string_view text);

 private:
  template <class... Args>
  void write(const char* level, const Args&... args) const {
    std::ostringstream line;
    if (rank_ >= 0) line << "[rank " << rank_ << "] ";
    else line << "[glmh] ";
    line << level;
    (line << ... << args);
    line << '\n';
    write_raw(line.str());
  }

  int rank_;
};

}  // namespace glmh
