# The source tree's include rules, checked on every file (ctest: SourceLayout.IncludeLayers):
#  - one include style: every quoted include is written from the repository root;
#  - pipeline/ is a library: it never includes harness/, and its folders form layers
#    (runtime < checkpoint, executor, parallel, kernels < model < cache < glm_image; the executor also uses
#    checkpoint's safetensors codec for its requests): a folder includes only itself and the folders
#    below it.
# Run: cmake -DSOURCE_DIR=<repo> -P tests/check_include_layers.cmake
set(allowed_runtime runtime)
set(allowed_checkpoint checkpoint runtime)
set(allowed_executor executor checkpoint runtime)
set(allowed_parallel parallel runtime)
set(allowed_kernels kernels runtime)
set(allowed_model model checkpoint parallel kernels runtime)
set(allowed_cache cache model checkpoint parallel kernels runtime)
set(allowed_glm_image glm_image cache model checkpoint executor parallel kernels runtime)

set(violations "")
file(GLOB_RECURSE sources RELATIVE ${SOURCE_DIR}
     ${SOURCE_DIR}/pipeline/*.h ${SOURCE_DIR}/pipeline/*.cpp ${SOURCE_DIR}/harness/*.h ${SOURCE_DIR}/harness/*.cpp
     ${SOURCE_DIR}/tests/*.h ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/bench/*.cpp)
foreach(source ${sources})
  file(STRINGS ${SOURCE_DIR}/${source} includes REGEX "^[ \t]*#[ \t]*include[ \t]+\"")
  string(REGEX MATCH "^pipeline/([a-z_]+)/" in_pipeline "${source}")
  set(folder "${CMAKE_MATCH_1}")
  foreach(line ${includes})
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*" "\\1" path "${line}")
    if(NOT path MATCHES "^(pipeline|harness|tests|bench)/")
      list(APPEND violations "${source}: '${path}' is not written from the repository root")
    elseif(in_pipeline AND path MATCHES "^harness/")
      list(APPEND violations "${source}: pipeline/ includes the harness ('${path}')")
    elseif(in_pipeline AND path MATCHES "^pipeline/([a-z_]+)/")
      list(FIND allowed_${folder} "${CMAKE_MATCH_1}" found)
      if(found EQUAL -1)
        list(APPEND violations "${source}: pipeline/${folder} may not include pipeline/${CMAKE_MATCH_1} ('${path}')")
      endif()
    endif()
  endforeach()
endforeach()
list(LENGTH sources checked)
if(violations)
  string(REPLACE ";" "\n  " text "${violations}")
  message(FATAL_ERROR "include rules broken:\n  ${text}")
endif()
message(STATUS "include rules hold in ${checked} files")
