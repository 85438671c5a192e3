# Finds libtorch and decides which collective backends glmh is built with.
#
#  - Debian's libtorch 1.13 is CPU-only and exports USE_C10D_GLOO; the Gloo headers come from
#    libgloo-dev.
#  - A pip torch 2.x wheel with CUDA exports USE_C10D_NCCL but ships neither gloo/*.h nor a CMake
#    path to its own nccl.h; the latter lives in site-packages/nvidia/nccl/include and MUST be the
#    one compiled against (ProcessGroupNCCL::Options changes size with the NCCL version).
# The result is two switches of our own, GLMH_WITH_GLOO and GLMH_WITH_NCCL, passed as compile
# definitions to every target that links glmh_torch.

find_package(Torch REQUIRED)

set(GLMH_TORCH_VERSION "${Torch_VERSION}")
add_library(glmh_torch INTERFACE)
target_link_libraries(glmh_torch INTERFACE ${TORCH_LIBRARIES})
# TORCH_CXX_FLAGS carries the C++ ABI flag on Debian's build and is empty for the 2.x wheels.
separate_arguments(_glmh_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(glmh_torch INTERFACE ${_glmh_torch_flags})

# Gloo: only where its headers exist.
find_path(GLMH_GLOO_INCLUDE_DIR gloo/algorithm.h)
if(GLMH_GLOO_INCLUDE_DIR)
  set(GLMH_WITH_GLOO ON)
  target_compile_definitions(glmh_torch INTERFACE GLMH_WITH_GLOO=1 USE_C10D_GLOO=1)
  target_include_directories(glmh_torch INTERFACE ${GLMH_GLOO_INCLUDE_DIR})
else()
  set(GLMH_WITH_GLOO OFF)
endif()

# NCCL: only with a CUDA build of torch.
set(GLMH_WITH_NCCL OFF)
if(TARGET torch_cuda)
  get_filename_component(_glmh_torch_root "${TORCH_INSTALL_PREFIX}" ABSOLUTE)
  find_path(GLMH_NCCL_INCLUDE_DIR nccl.h
    HINTS "${_glmh_torch_root}/../nvidia/nccl/include"
    NO_DEFAULT_PATH)
  if(NOT GLMH_NCCL_INCLUDE_DIR)
    message(FATAL_ERROR "glmh: torch has CUDA but the wheel's nccl.h was not found under "
                        "${_glmh_torch_root}/../nvidia/nccl/include")
  endif()
  set(GLMH_WITH_NCCL ON)
  target_compile_definitions(glmh_torch INTERFACE GLMH_WITH_NCCL=1 USE_C10D_NCCL=1)
  # BEFORE: the wheel's nccl.h must win over the CUDA toolkit's copy.
  target_include_directories(glmh_torch BEFORE INTERFACE ${GLMH_NCCL_INCLUDE_DIR})
  # ProcessGroupNCCL.hpp includes the CUDA runtime headers.
  find_package(CUDAToolkit REQUIRED)
  target_include_directories(glmh_torch INTERFACE ${CUDAToolkit_INCLUDE_DIRS})
  # The CUDA backend registers itself from libtorch_cuda's static initialisers; keep it linked.
  target_link_options(glmh_torch INTERFACE "LINKER:--no-as-needed")
endif()

if(NOT GLMH_WITH_GLOO AND NOT GLMH_WITH_NCCL)
  message(FATAL_ERROR "glmh: neither Gloo headers (libgloo-dev) nor a CUDA torch with NCCL found; "
                      "no collective backend to build with")
endif()
target_compile_definitions(glmh_torch INTERFACE USE_DISTRIBUTED=1)
message(STATUS "glmh: torch ${GLMH_TORCH_VERSION}, gloo=${GLMH_WITH_GLOO}, nccl=${GLMH_WITH_NCCL}")
