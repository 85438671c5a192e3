#include "pipeline/checkpoint/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw CheckpointError("safetensors file '" + path + "': " + what);
}

}  // namespace

std::string safetensors_dtype(c10::ScalarType t) {
  switch (t) {
    case at::kFloat: return "F32";
    case at::kBFloat16: return "BF16";
    case at::kHalf: return "F16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kByte: return "U8";
    case at::kChar: return "I8";
    case at::kBool: return "BOOL";
    default: throw CheckpointError(std::string("no safetensors dtype for ") + c10::toString(t));
  }
}

c10::ScalarType scalar_type_of(const std::string& d) {
  if (d == "F32") return at::kFloat;
  if (d == "BF16") return at::kBFloat16;
  if (d == "F16") return at::kHalf;
  if (d == "F64") return at::kDouble;
  if (d == "I64") return at::kLong;
  if (d == "I32") return at::kInt;
  if (d == "U8") return at::kByte;
  if (d == "I8") return at::kChar;
  if (d == "BOOL") return at::kBool;
  throw CheckpointError("unsupported safetensors dtype '" + d + "'");
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->self_ = f;
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(path, "truncated: " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(path, std::string("cannot map: ") + std::strerror(errno));
  f->map_ = map;
  f->map_size_ = size;
  const auto* bytes = static_cast<const uint8_t*>(map);

  SafetensorsHeader header = parse_safetensors_header(bytes, size, path);
  f->data_ = bytes + header.data_offset;
  f->entries_ = std::move(header.entries);
  f->metadata_ = std::move(header.metadata);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_, "no tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  auto keep_alive = self_.lock();
  void* data = const_cast<uint8_t*>(data_ + e.begin);
  if (e.end == e.begin) return at::empty(e.shape, at::TensorOptions().dtype(scalar_type_of(e.dtype)));
  // Unaligned data (legal in the format) would break vectorised kernels: copy those.
  const bool aligned = reinterpret_cast<uintptr_t>(data) % safetensors_element_size(e.dtype) == 0;
  at::Tensor view = at::from_blob(
      data, e.shape, [keep_alive](void*) {}, at::TensorOptions().dtype(scalar_type_of(e.dtype)));
  return aligned ? view : view.clone();
}

namespace {

// The header text (padded so that the data buffer stays 8-byte aligned) and the tensors as
// contiguous CPU tensors, in the header's order.
std::pair<std::string, std::vector<at::Tensor>> prepared(const std::map<std::string, at::Tensor>& tensors,
                                                         const std::map<std::string, std::string>& metadata,
                                                         const std::string& what) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw CheckpointError(what + ": tensor '" + name + "' is undefined");
    at::Tensor c = t.detach().cpu().contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", safetensors_dtype(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return {std::move(text), std::move(host)};
}

void append_length(std::string& out, uint64_t n) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
}

}  // namespace

std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  const auto [text, host] = prepared(tensors, metadata, "safetensors bytes");
  std::string out;
  append_length(out, text.size());
  out += text;
  for (const auto& c : host) out.append(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * c.element_size());
  return out;
}

std::map<std::string, at::Tensor> tensors_from_safetensors_bytes(const std::string& bytes, const std::string& source,
                                                                 std::map<std::string, std::string>& metadata) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const SafetensorsHeader header = parse_safetensors_header(data, bytes.size(), source);
  metadata = header.metadata;
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, e] : header.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(scalar_type_of(e.dtype)));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + header.data_offset + e.begin, e.end - e.begin);
    out[name] = std::move(t);
  }
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const auto [text, host] = prepared(tensors, metadata, "write '" + path + "'");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  posix_fs::make_directories(posix_fs::parent_path(path));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw CheckpointError("write '" + tmp + "': " + std::strerror(errno));
  auto write_all = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      const ssize_t w = ::write(fd, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        throw CheckpointError("write '" + tmp + "': " + why);
      }
      c += w;
      n -= static_cast<size_t>(w);
    }
  };
  std::string len;
  append_length(len, text.size());
  write_all(len.data(), 8);
  write_all(text.data(), text.size());
  for (const auto& c : host) write_all(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw CheckpointError("write '" + path + "': " + why);
  }
}

}  // namespace glmh
