// glmh golden generate|verify|update: the golden store (golden/scenarios/<request key>/) holds,
// per request the scenarios use, the single-rank run's prior tokens, latents and image with their
// provenance (git revision, libtorch, device, dtype, seed, the run's arguments). Never silently
// overwritten: generate skips what exists, update is explicit, swaps atomically and keeps the
// previous version.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int golden_command(const std::vector<std::string>& args);

}  // namespace glmh
