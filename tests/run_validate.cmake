# glmh validate on a scenario file against the committed goldens; passes when it exits 0, wrote
# all four report files and used the goldens (computed no reference of its own, but for the bf16 CPU
# requests, which have none: docs/checks.md#goldens-and-bf16).
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${GLMH} validate --scenarios ${SCENARIOS} --golden ${GOLDEN} --out ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "glmh validate exited ${rc}; see ${OUT}/summary.md")
endif()
foreach(f results.csv summary.md report.html junit.xml)
  if(NOT EXISTS ${OUT}/${f})
    message(FATAL_ERROR "glmh validate wrote no ${f}")
  endif()
endforeach()
file(GLOB computed ${OUT}/references/*)
list(FILTER computed EXCLUDE REGEX "-bf16-cpu-")
if(computed)
  message(FATAL_ERROR "glmh validate computed references (${computed}): the committed goldens were not used")
endif()
