#include "pipeline/model/ar/ar_decode_graph.h"

#include "pipeline/runtime/cuda_graph.h"

namespace glmh {

bool replay_as_cuda_graph(const c10::Device& device, int64_t count, const std::function<void()>& step,
                          const std::function<void(int64_t)>& after_each) {
  if (!CudaGraph::available(device) || count < 2) return false;
  step();
  after_each(0);
  CudaGraph graph;
  graph.capture(device, step);
  for (int64_t i = 1; i < count; ++i) {
    graph.replay();
    after_each(i);
  }
  return true;  // the graph's destructor waits for its last replay
}

}  // namespace glmh
