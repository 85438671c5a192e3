// One line of text for an exception: c10::Error's message without its C++ backtrace, and only
// the first line of anything else, so that every log line stays tagged with its rank.
#pragma once

#include <c10/util/ArrayRef.h>

#include <exception>
#include <string>

namespace glmh {

std::string one_line_error(const std::exception& e);

// "[2, 3, 4]": a tensor's shape (t.sizes()) in an error message.
std::string shape_text(c10::IntArrayRef shape);

}  // namespace glmh
