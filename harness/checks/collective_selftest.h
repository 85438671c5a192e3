// Every collective glmh uses, run on one group and checked against closed-form values (as
// nccl-tests do: the expected result is computed independently of the code under test). Values
// depend on the world rank, so a rank that talks to the wrong peers gets the wrong numbers.
#pragma once

#include <string>
#include <vector>

namespace glmh {

class Communicator;

struct CollectiveSelftest {
  int collectives_run = 0;
  std::vector<std::string> failures;  // one line each, naming the collective and the values
};

// Collective over `group`: every member must call it. Tensors live on the group's device.
CollectiveSelftest run_collective_selftest(Communicator& group);

}  // namespace glmh
