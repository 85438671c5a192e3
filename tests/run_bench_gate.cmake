# glmh bench on the layouts the CPU baseline names, then glmh gate against it.
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${GLMH} bench --scenarios ${SCENARIOS} --golden ${GOLDEN} --filter "^(sp2-ring|cfg2|tp2)$"
                        --repeat 3 --warmup 1 --out ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "glmh bench exited ${rc}; see ${OUT}/summary.md")
endif()
execute_process(COMMAND ${GLMH} gate --results ${OUT}/results.csv --baseline ${BASELINE} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "glmh gate exited ${rc} against ${BASELINE}")
endif()
