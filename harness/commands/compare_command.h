// glmh compare A B [--min-psnr X] [--min-cosine X] [--max-nmse X] [--min-ssim X]
#pragma once

#include <string>
#include <vector>

namespace glmh {

int compare_command(const std::vector<std::string>& args);

}  // namespace glmh
