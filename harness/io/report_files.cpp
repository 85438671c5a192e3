#include "harness/io/report_files.h"

#include <torch/version.h>
#if defined(GLMH_WITH_NCCL)
#include <ATen/cuda/CUDAContext.h>
#endif
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "pipeline/runtime/posix_fs.h"

extern char** environ;

namespace glmh {

void write_file_atomically(const std::string& path, const std::string& content) {
  posix_fs::make_directories(posix_fs::parent_path(path));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write '" + tmp + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + why);
  }
}

std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string md_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::string git_revision() {
#ifdef GLMH_GIT_REVISION
  return GLMH_GIT_REVISION;
#else
  return "unknown";
#endif
}

std::string torch_version() { return TORCH_VERSION; }

std::string host_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown cpu";
}

std::string device_name(int cuda_index) {
#if defined(GLMH_WITH_NCCL)
  if (cuda_index >= 0) return at::cuda::getDeviceProperties(cuda_index)->name;
#endif
  (void)cuda_index;
  return cpu_model();
}

std::string nccl_environment() {
  std::string out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (kv.rfind("NCCL_", 0) == 0 || kv.rfind("TORCH_NCCL_", 0) == 0)
      out += (out.empty() ? "" : " ") + kv;
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace glmh
