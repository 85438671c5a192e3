// Private to the runtime: the c10d store behind a Rendezvous.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "pipeline/runtime/rendezvous.h"

namespace glmh {

struct Rendezvous::Impl {
  c10::intrusive_ptr<c10d::Store> store;
};

}  // namespace glmh
