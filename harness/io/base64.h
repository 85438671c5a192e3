// Base64 (RFC 4648, standard alphabet, '=' padding): how report.html embeds PNG files as data URIs.
#pragma once

#include <string>

namespace glmh {

std::string base64_encode(const std::string& bytes);
// Throws std::invalid_argument on a character outside the alphabet or a length that is not a
// multiple of 4 (whitespace is not skipped).
std::string base64_decode(const std::string& text);

}  // namespace glmh
