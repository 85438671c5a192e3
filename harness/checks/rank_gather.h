// Small world-collective helpers for checks: every rank's text or numbers, on every rank.
#pragma once

#include <string>
#include <vector>

namespace glmh {

class Communicator;

// Each rank's text, on every rank, in rank order (one broadcast per rank: checks only).
std::vector<std::string> gather_strings(Communicator& group, const std::string& mine);

// "rank 1: ...; rank 3: ..." for the non-empty entries; "" when all are empty.
std::string join_rank_reports(const std::vector<std::string>& reports, int* count = nullptr);

// Each rank's value (double), on every rank, in rank order.
std::vector<double> gather_values(Communicator& group, double mine);

}  // namespace glmh
