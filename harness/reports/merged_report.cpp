#include "harness/reports/merged_report.h"

#include <algorithm>
#include <map>
#include <set>

#include "harness/timing/bench_figures.h"

namespace glmh {

namespace {

// Facts that must agree: the runs measured the same build on the same machine.
const char* const kSameFacts[] = {"glmh revision", "libtorch", "host / cpu", "NCCL environment"};
// Facts that are lists over the scenarios: their union.
const char* const kUnionFacts[] = {"devices", "backends", "world sizes"};

}  // namespace

MergedReport merge_reports(const std::vector<ReportToMerge>& reports, const std::string& run_id) {
  if (reports.empty()) throw ReportDataError("merging reports: no report given");
  const ReportToMerge& first = reports.front();
  MergedReport merged;
  merged.context = first.context;
  merged.context.run_id = run_id;
  merged.context.written_to.clear();
  std::map<std::string, std::set<std::string>> unions;
  std::map<std::string, std::string> scenario_report;  // scenario name -> the report that ran it
  std::string ids;
  for (const ReportToMerge& r : reports) {
    for (const char* fact : kSameFacts) {
      const auto mine = r.context.facts.find(fact), theirs = first.context.facts.find(fact);
      const std::string a = mine == r.context.facts.end() ? "" : mine->second;
      const std::string b = theirs == first.context.facts.end() ? "" : theirs->second;
      if (a != b)
        throw ReportDataError("merging reports: " + r.name + " and " + first.name + " differ in " + fact + " ('" + a +
                              "' and '" + b + "'): only runs of one build on one machine merge");
    }
    if (r.context.scenario_file != first.context.scenario_file)
      throw ReportDataError("merging reports: " + r.name + " ran " + r.context.scenario_file + ", " + first.name +
                            " ran " + first.context.scenario_file);
    for (const char* fact : kUnionFacts) {
      const auto it = r.context.facts.find(fact);
      if (it != r.context.facts.end()) unions[fact].merge(fact_list_items(it->second));
    }
    for (ScenarioOutcome o : r.outcomes) {
      const auto [at, fresh] = scenario_report.emplace(o.scenario.name, r.name);
      if (!fresh)
        throw ReportDataError("merging reports: scenario '" + o.scenario.name + "' is in both " + at->second +
                              " and " + r.name);
      o.performance.erase(std::remove_if(o.performance.begin(), o.performance.end(),
                                         [](const auto& figure) { return is_speedup_figure(figure.first); }),
                          o.performance.end());
      merged.outcomes.push_back(std::move(o));
    }
    ids += (ids.empty() ? "" : ", ") + r.context.run_id;
  }
  for (const auto& [fact, items] : unions) merged.context.facts[fact] = fact_list(items);
  merged.context.facts["merged from"] = ids;
  merged.context.title = first.context.title + " (merged from " + std::to_string(reports.size()) + " runs)";
  add_speedups(merged.outcomes);
  return merged;
}

}  // namespace glmh
