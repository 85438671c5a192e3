// A one-rank NCCL group on GPU 0 for the GPU tests of what captures collectives in CUDA graphs
// (NCCL runs a one-rank communicator; the 2-GPU runs check the matching across ranks). Null
// where this build has no NCCL or the machine no GPU: the caller skips.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/cuda_graph.h"
#include "pipeline/runtime/rendezvous.h"

namespace glmh::testing {

inline std::unique_ptr<Communicator> one_rank_nccl_group(const std::string& store_dir, const std::string& name) {
  const c10::Device gpu(c10::kCUDA, 0);
  if (!backend_available(CommBackend::Nccl) || !CudaGraph::available(gpu)) return nullptr;
  StoreAddress store;
  store.path = store_dir + "/store";
  const auto rendezvous = Rendezvous::connect(store, 0, 1, std::chrono::seconds(20));
  CommOptions options;
  options.backend = CommBackend::Nccl;
  options.device = gpu;
  options.timeout = std::chrono::seconds(20);
  return Communicator::create(*rendezvous, name, 0, {0}, options);
}

}  // namespace glmh::testing
