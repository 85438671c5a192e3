#include "harness/timing/step_breakdown.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>

#include "pipeline/runtime/printable_text.h"

namespace glmh {

namespace {

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }
bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

bool any_of_parts(const std::string& text, std::initializer_list<const char*> parts) {
  return std::any_of(parts.begin(), parts.end(), [&](const char* p) { return contains(text, p); });
}

bool is_one_of(const std::string& text, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return text == n; });
}

// One complete event of the trace, on one lane (a CPU thread or a GPU stream).
struct TraceEvent {
  double start = 0, end = 0;  // microseconds
  TraceCategory category = TraceCategory::Other;
};

// The lane's time, cut into disjoint segments with one category each (nested events resolved).
struct Segment {
  double start, end;
  TraceCategory category;
};

// Which of the active (nested) events decides a moment: an attention or collective scope decides
// for everything it contains (on the CPU, attention is matmuls and a softmax inside glmh's scope);
// otherwise the innermost classified one, so that a copy inside a matmul's reshape is a copy.
TraceCategory resolve(const std::vector<const TraceEvent*>& active) {
  for (TraceCategory winner : {TraceCategory::Attention, TraceCategory::Collective})
    for (const TraceEvent* e : active)
      if (e->category == winner) return winner;
  const TraceEvent* innermost = nullptr;
  for (const TraceEvent* e : active) {
    if (e->category == TraceCategory::Other) continue;
    if (!innermost || e->start > innermost->start || (e->start == innermost->start && e->end < innermost->end))
      innermost = e;
  }
  return innermost ? innermost->category : TraceCategory::Other;
}

void lane_segments(std::vector<TraceEvent>& events, std::vector<Segment>& out) {
  struct Boundary {
    double t;
    bool open;
    const TraceEvent* event;
  };
  std::vector<Boundary> bounds;
  bounds.reserve(events.size() * 2);
  for (const TraceEvent& e : events) {
    bounds.push_back({e.start, true, &e});
    bounds.push_back({e.end, false, &e});
  }
  // Closes before opens at the same moment: back-to-back events do not nest.
  std::sort(bounds.begin(), bounds.end(), [](const Boundary& a, const Boundary& b) {
    return a.t < b.t || (a.t == b.t && !a.open && b.open);
  });
  std::vector<const TraceEvent*> active;
  double previous = 0;
  for (const Boundary& b : bounds) {
    if (!active.empty() && b.t > previous) out.push_back({previous, b.t, resolve(active)});
    previous = b.t;
    if (b.open) active.push_back(b.event);
    else active.erase(std::find(active.begin(), active.end(), b.event));
  }
}

std::string lane_key(const nlohmann::json& event) {
  auto part = [&](const char* key) {
    if (!event.contains(key)) return std::string("-");
    const auto& v = event[key];
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  return part("pid") + "/" + part("tid");
}

bool is_device_activity(const nlohmann::json& event) {
  if (!event.contains("cat") || !event["cat"].is_string()) return false;
  const std::string cat = event["cat"].get<std::string>();
  return cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset";
}

double number_field(const nlohmann::json& event, const char* key, const std::string& where) {
  if (!event.contains(key) || !event[key].is_number()) throw TraceFormatError(where + ": \"" + key + "\" is not a number");
  const double v = event[key].get<double>();
  if (!std::isfinite(v) || std::abs(v) > 1e15) throw TraceFormatError(where + ": \"" + key + "\" is out of range");
  return v;
}

nlohmann::json parse_trace(const std::string& trace_json, const std::string& origin) {
  try {
    return nlohmann::json::parse(trace_json);
  } catch (const nlohmann::json::exception& e) {
    throw TraceFormatError(printable(origin + ": not JSON: " + e.what(), 300));
  }
}

// A Chrome trace is either the event array or an object holding it under "traceEvents".
const nlohmann::json& trace_events(const nlohmann::json& trace, const std::string& origin) {
  const nlohmann::json* events = &trace;
  if (trace.is_object()) {
    if (!trace.contains("traceEvents")) throw TraceFormatError(origin + ": no \"traceEvents\"");
    events = &trace["traceEvents"];
  }
  if (!events->is_array()) throw TraceFormatError(origin + ": the events are not an array");
  return *events;
}

}  // namespace

TraceCategory classify_trace_event(const std::string& raw_name) {
  std::string name = raw_name;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (any_of_parts(name, {"nccl", "record_param_comms"}) || starts_with(name, "gloo:") ||
      starts_with(name, "glmh::collective"))
    return TraceCategory::Collective;
  if (any_of_parts(name, {"flash", "fmha", "attention", "sdpa"})) return TraceCategory::Attention;
  if (any_of_parts(name, {"gemm", "cutlass", "xmma", "nvjet", "cublas"}) ||
      is_one_of(name, {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear",
                       "aten::mv", "aten::addmv", "aten::dot", "aten::conv2d", "aten::convolution",
                       "aten::_convolution", "aten::mkldnn_convolution"}))
    return TraceCategory::Gemm;
  if (any_of_parts(name, {"copy", "memcpy", "memset", "transpose", "permute", "contiguous", "clone", "catarray", "gather",
                          "scatter", "index"}) ||
      is_one_of(name, {"aten::cat", "aten::stack", "aten::to", "aten::pad", "aten::constant_pad_nd", "aten::repeat",
                       "aten::roll", "aten::flip"}))
    return TraceCategory::Copy;
  return TraceCategory::Other;
}

const std::vector<BreakdownPart>& breakdown_parts() {
  static const std::vector<BreakdownPart> parts = {
      {"gemm", "GEMMs", &StepBreakdown::gemm},
      {"attention", "attention", &StepBreakdown::attention},
      {"copies", "copies / layout", &StepBreakdown::copies},
      {"other", "other kernels", &StepBreakdown::other},
      {"exposed_communication", "exposed comm.", &StepBreakdown::exposed_communication},
      {"idle", "device idle", &StepBreakdown::idle},
      {"collectives", "collectives (all)", &StepBreakdown::collectives},
  };
  return parts;
}

nlohmann::json StepBreakdown::to_json() const {
  nlohmann::json j;
  j["steps"] = steps;
  j["source"] = device_kernels ? "device kernels" : "cpu operators";
  j["step_seconds"] = step;
  for (const auto& part : breakdown_parts()) j["seconds"][part.name] = this->*part.value;
  return j;
}

StepBreakdown StepBreakdown::from_json(const nlohmann::json& j) {
  StepBreakdown b;
  b.steps = j.at("steps").get<int>();
  b.device_kernels = j.at("source").get<std::string>() == "device kernels";
  b.step = j.at("step_seconds").get<double>();
  for (const auto& part : breakdown_parts()) b.*part.value = j.at("seconds").at(part.name).get<double>();
  return b;
}

StepBreakdown step_breakdown_from_trace(const std::string& trace_json, int steps, const std::string& origin) {
  if (steps < 1) throw TraceFormatError(origin + ": a breakdown needs at least one step");
  const nlohmann::json trace = parse_trace(trace_json, origin);
  const nlohmann::json* events = &trace_events(trace, origin);

  bool device = false;
  for (const auto& e : *events) device = device || (e.is_object() && is_device_activity(e));
  std::map<std::string, std::vector<TraceEvent>> lanes;
  size_t index = 0;
  for (const auto& e : *events) {
    const std::string where = origin + ": event " + std::to_string(index++);
    if (!e.is_object()) throw TraceFormatError(where + " is not an object");
    if (!e.contains("ph") || e["ph"] != "X") continue;  // only complete events have a duration
    if (device && !is_device_activity(e)) continue;
    if (!e.contains("name") || !e["name"].is_string()) throw TraceFormatError(where + ": no \"name\"");
    const double ts = number_field(e, "ts", where), dur = number_field(e, "dur", where);
    if (dur < 0) throw TraceFormatError(where + ": negative \"dur\"");
    if (dur == 0) continue;
    lanes[lane_key(e)].push_back({ts, ts + dur, classify_trace_event(e["name"].get<std::string>())});
  }
  if (lanes.empty()) throw TraceFormatError(origin + ": no complete event with a duration");

  std::vector<Segment> segments;
  for (auto& [lane, lane_events] : lanes) lane_segments(lane_events, segments);

  // One sweep over every lane's segments: each moment goes to the compute categories running then
  // (shared equally), else to exposed communication, else it is idle.
  struct Boundary {
    double t;
    int delta;
    TraceCategory category;
  };
  std::vector<Boundary> bounds;
  for (const Segment& s : segments) {
    bounds.push_back({s.start, +1, s.category});
    bounds.push_back({s.end, -1, s.category});
  }
  std::sort(bounds.begin(), bounds.end(), [](const Boundary& a, const Boundary& b) { return a.t < b.t; });
  std::array<int, 5> running{};
  std::array<double, 5> compute{};
  double exposed = 0, idle = 0, collectives = 0;
  double previous = bounds.front().t;
  for (const Boundary& b : bounds) {
    const double span = b.t - previous;
    if (span > 0) {
      int kinds = 0;
      for (int c = 0; c < 4; ++c) kinds += running[size_t(c)] > 0;
      const bool communicating = running[size_t(TraceCategory::Collective)] > 0;
      if (communicating) collectives += span;
      if (kinds > 0) {
        for (int c = 0; c < 4; ++c)
          if (running[size_t(c)] > 0) compute[size_t(c)] += span / kinds;
      } else if (communicating) {
        exposed += span;
      } else {
        idle += span;
      }
    }
    running[size_t(b.category)] += b.delta;
    previous = b.t;
  }
  const double window = bounds.back().t - bounds.front().t;
  const double per_step = 1e-6 / steps;  // microseconds in the window -> seconds per step
  StepBreakdown out;
  out.steps = steps;
  out.device_kernels = device;
  out.gemm = compute[size_t(TraceCategory::Gemm)] * per_step;
  out.attention = compute[size_t(TraceCategory::Attention)] * per_step;
  out.copies = compute[size_t(TraceCategory::Copy)] * per_step;
  out.other = compute[size_t(TraceCategory::Other)] * per_step;
  out.exposed_communication = exposed * per_step;
  out.idle = idle * per_step;
  out.collectives = collectives * per_step;
  out.step = window * per_step;
  return out;
}

std::vector<KernelTotal> kernel_totals_from_trace(const std::string& trace_json, int steps, const std::string& origin) {
  if (steps < 1) throw TraceFormatError(origin + ": kernel totals need at least one step");
  const nlohmann::json trace = parse_trace(trace_json, origin);
  std::map<std::string, KernelTotal> by_name;
  size_t index = 0;
  for (const auto& e : trace_events(trace, origin)) {
    const std::string where = origin + ": event " + std::to_string(index++);
    if (!e.is_object() || !is_device_activity(e) || !e.contains("ph") || e["ph"] != "X") continue;
    if (!e.contains("name") || !e["name"].is_string()) throw TraceFormatError(where + ": no \"name\"");
    const std::string name = e["name"].get<std::string>();
    KernelTotal& total = by_name.try_emplace(name, KernelTotal{name, classify_trace_event(name)}).first->second;
    total.seconds_per_step += number_field(e, "dur", where) * 1e-6 / steps;
    total.calls_per_step += 1.0 / steps;
  }
  std::vector<KernelTotal> out;
  for (auto& [name, total] : by_name) out.push_back(std::move(total));
  std::stable_sort(out.begin(), out.end(),
                   [](const KernelTotal& a, const KernelTotal& b) { return a.seconds_per_step > b.seconds_per_step; });
  return out;
}

}  // namespace glmh
