#include "pipeline/model/ar/ar_positions.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace glmh {

namespace {

struct Columns {
  std::vector<int64_t> t, h, w;
  void text(int64_t p) {
    t.push_back(p);
    h.push_back(p);
    w.push_back(p);
  }
  // A grid laid out from `start`; returns the counter after it.
  int64_t grid(int64_t start, const GridThw& g) {
    for (int64_t row = 0; row < g[1]; ++row)
      for (int64_t col = 0; col < g[2]; ++col) {
        t.push_back(start);
        h.push_back(start + row);
        w.push_back(start + col);
      }
    return start + std::max(g[1], g[2]);
  }
  at::Tensor tensor() const {
    const int64_t n = int64_t(t.size());
    at::Tensor out = at::empty({3, n}, at::kLong);
    for (int64_t i = 0; i < n; ++i) {
      out[0][i] = t[i];
      out[1][i] = h[i];
      out[2][i] = w[i];
    }
    return out;
  }
};

}  // namespace

ArPositions glm_image_rope_index(const std::vector<int64_t>& ids, const std::vector<GridThw>& grids,
                                 int64_t start_id, int64_t end_id) {
  // Source images are the complete start ... end spans, matched in order with the first grids.
  std::vector<size_t> starts, ends;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == start_id) starts.push_back(i + 1);
    if (ids[i] == end_id) ends.push_back(i);
  }
  const size_t complete = ends.size();
  Columns prefill;
  int64_t counter = 0;
  size_t consumed = 0;  // tokens laid out so far
  for (size_t img = 0; img < std::min(starts.size(), ends.size()) && img < grids.size(); ++img) {
    for (; consumed < starts[img]; ++consumed) prefill.text(counter++);
    counter = prefill.grid(counter, grids[img]);
    consumed = ends[img];
  }
  for (; consumed < ids.size(); ++consumed) prefill.text(counter++);

  ArPositions out;
  out.prefill = prefill.tensor().narrow(1, 0, int64_t(ids.size()));
  if (grids.empty()) {
    out.decode = at::empty({3, 0}, at::kLong);
    return out;
  }
  Columns decode;
  const size_t to_generate = grids.size() > complete ? grids.size() - complete : 0;
  for (size_t i = 1; i <= to_generate; ++i) counter = decode.grid(counter, grids[grids.size() - i]);
  decode.text(counter);  // the end marker
  out.decode = decode.tensor();
  return out;
}

}  // namespace glmh
