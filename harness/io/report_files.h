// Writing report files so that a reader never sees half of one: write to a temporary name in the
// same directory, then rename over the final name.
#pragma once

#include <string>

namespace glmh {

// Throws std::runtime_error naming the path on any failure; the final name is untouched then.
void write_file_atomically(const std::string& path, const std::string& content);

// Quotes a CSV cell when it needs it (RFC 4180).
std::string csv_cell(const std::string& text);
// Escapes '|' so the text stays inside one Markdown table cell.
std::string md_cell(const std::string& text);

// Facts every report header records: glmh's git revision, the libtorch version, the host.
std::string git_revision();
std::string torch_version();
std::string host_name();
std::string cpu_model();
// "NVIDIA H200" for a CUDA device (CUDA builds), the CPU model otherwise.
std::string device_name(int cuda_index);
// NCCL_* and TORCH_NCCL_* variables of this process, "NAME=value" joined by spaces.
std::string nccl_environment();

}  // namespace glmh
