// Where a denoise step's time goes, read from a profiler trace (Chrome trace JSON) of a few
// consecutive steps: matrix multiplies, attention, copies and layout changes, other kernels,
// exposed communication (collective time during which no compute runs) and device idle time.
// These six add up to the profiled window; `collectives` (all collective time, overlapped or not)
// is shown beside them. docs/performance.md#step-breakdown says how events are classified.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace glmh {

enum class TraceCategory { Gemm, Attention, Copy, Other, Collective };

// By the event's name: a kernel's (GPU trace) or an operator's / glmh scope's (CPU trace).
TraceCategory classify_trace_event(const std::string& name);

struct StepBreakdown {
  int steps = 0;             // denoise steps in the window
  bool device_kernels = false;  // from GPU kernels (else from CPU operators)
  // Seconds per step. The first six add up to `step`.
  double gemm = 0, attention = 0, copies = 0, other = 0, exposed_communication = 0, idle = 0;
  double collectives = 0;  // every moment some collective ran, overlapped or not
  double step = 0;         // the window / steps

  double sum_of_parts() const { return gemm + attention + copies + other + exposed_communication + idle; }
  nlohmann::json to_json() const;
  static StepBreakdown from_json(const nlohmann::json& j);
};

// The parts in report order: name (as in figures and JSON) and heading.
struct BreakdownPart {
  const char* name;
  const char* heading;
  double StepBreakdown::*value;
};
const std::vector<BreakdownPart>& breakdown_parts();  // the six additive parts, then collectives

class TraceFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The breakdown of a trace covering `steps` steps. A trace with GPU kernels ("cat": "kernel",
// "gpu_memcpy", "gpu_memset") is read from those alone, every stream a lane; otherwise from the
// CPU operators, nested by time on each thread, each moment given to the innermost classified
// operator (attention and collective scopes win over what they contain). Throws TraceFormatError
// naming `origin` on a malformed trace or one with no complete event.
StepBreakdown step_breakdown_from_trace(const std::string& trace_json, int steps, const std::string& origin);

// Device time per kernel name in a GPU trace, per step, longest first (the table a profile is
// read from before any kernel is optimised). Empty for a trace without device activity.
struct KernelTotal {
  std::string name;
  TraceCategory category;
  double seconds_per_step = 0;
  double calls_per_step = 0;
};
std::vector<KernelTotal> kernel_totals_from_trace(const std::string& trace_json, int steps, const std::string& origin);

}  // namespace glmh
