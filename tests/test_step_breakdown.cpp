// The step breakdown read from profiler traces (harness/timing/step_breakdown.h): how moments are
// shared between overlapping kernels, nested CPU operators and collectives, that the parts add up
// to the window, and that a malformed trace is refused naming it.
#include <gtest/gtest.h>

#include <string>

#include "harness/timing/step_breakdown.h"

namespace glmh {
namespace {

std::string kernel(const std::string& name, double ts, double dur, int stream) {
  return R"({"ph": "X", "cat": "kernel", "name": ")" + name + R"(", "pid": 0, "tid": )" + std::to_string(stream) +
         R"(, "ts": )" + std::to_string(ts) + R"(, "dur": )" + std::to_string(dur) + "}";
}

std::string cpu_op(const std::string& name, double ts, double dur) {
  return R"({"ph": "X", "name": ")" + name + R"(", "pid": "CPU Functions", "tid": 1, "ts": )" + std::to_string(ts) +
         R"(, "dur": )" + std::to_string(dur) + "}";
}

void expect_parts(const StepBreakdown& b, double gemm, double attention, double copies, double other, double exposed,
                  double idle, double collectives, double step) {
  const double us = 1e-6;
  EXPECT_NEAR(b.gemm, gemm * us, 1e-12);
  EXPECT_NEAR(b.attention, attention * us, 1e-12);
  EXPECT_NEAR(b.copies, copies * us, 1e-12);
  EXPECT_NEAR(b.other, other * us, 1e-12);
  EXPECT_NEAR(b.exposed_communication, exposed * us, 1e-12);
  EXPECT_NEAR(b.idle, idle * us, 1e-12);
  EXPECT_NEAR(b.collectives, collectives * us, 1e-12);
  EXPECT_NEAR(b.step, step * us, 1e-12);
  EXPECT_NEAR(b.sum_of_parts(), b.step, 1e-12);
}

TEST(StepBreakdown, KernelNamesOfTheH200TraceFallIntoTheirParts) {
  EXPECT_EQ(classify_trace_event("nvjet_tst_128x256_64x4_1x2_h_bz_coopA_NNT"), TraceCategory::Gemm);
  EXPECT_EQ(classify_trace_event("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64"), TraceCategory::Gemm);
  EXPECT_EQ(classify_trace_event("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)"), TraceCategory::Collective);
  EXPECT_EQ(classify_trace_event("ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)"),
            TraceCategory::Collective);
  EXPECT_EQ(classify_trace_event("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128>>"),
            TraceCategory::Attention);
  EXPECT_EQ(classify_trace_event("cudnn_generated_fort_native_sdpa_sm90_knob_7_64x128x128_4x1x1"), TraceCategory::Attention);
  EXPECT_EQ(classify_trace_event("void at::native::elementwise_kernel<128, 2, direct_copy_kernel_cuda>"), TraceCategory::Copy);
  EXPECT_EQ(classify_trace_event("void at::native::(anonymous namespace)::CatArrayBatchedCopy<bf16>"), TraceCategory::Copy);
  EXPECT_EQ(classify_trace_event("Memcpy DtoD (Device -> Device)"), TraceCategory::Copy);
  EXPECT_EQ(classify_trace_event("void at::native::vectorized_elementwise_kernel<4, CUDAFunctor_add<bf16>>"),
            TraceCategory::Other);
  EXPECT_EQ(classify_trace_event("aten::addmm"), TraceCategory::Gemm);
  EXPECT_EQ(classify_trace_event("aten::cat"), TraceCategory::Copy);
  EXPECT_EQ(classify_trace_event("glmh::attention"), TraceCategory::Attention);
  EXPECT_EQ(classify_trace_event("glmh::collective all_to_all"), TraceCategory::Collective);
  EXPECT_EQ(classify_trace_event("aten::layer_norm"), TraceCategory::Other);
}

TEST(StepBreakdown, OverlappedCommunicationIsNotExposedAndGapsAreIdle) {
  // Stream 7 computes; stream 9 runs a collective from 12 to 20, overlapped by attention until 15.
  const std::string trace = R"({"traceEvents": [)" + kernel("nvjet_gemm", 0, 10, 7) + "," +
                            kernel("flash_fwd_kernel", 10, 5, 7) + "," + kernel("ncclDevKernel_SendRecv", 12, 8, 9) +
                            "," + kernel("Memcpy DtoD", 25, 2, 7) + "," +
                            R"({"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": -50, "dur": 500})" +
                            "]}";
  const StepBreakdown b = step_breakdown_from_trace(trace, 1, "t");
  EXPECT_TRUE(b.device_kernels) << "a trace with kernels is read from the kernels alone";
  expect_parts(b, /*gemm*/ 10, /*attention*/ 5, /*copies*/ 2, /*other*/ 0, /*exposed*/ 5, /*idle*/ 5,
               /*collectives*/ 8, /*step*/ 27);
}

TEST(StepBreakdown, ConcurrentComputeKindsShareTheirMomentsAndStepsDivideTheWindow) {
  const std::string trace = "[" + kernel("nvjet_gemm", 0, 10, 7) + "," + kernel("add_kernel", 0, 10, 8) + "]";
  expect_parts(step_breakdown_from_trace(trace, 2, "t"), 2.5, 0, 0, 2.5, 0, 0, 0, 5);
}

TEST(StepBreakdown, NestedCpuOperatorsGiveEachMomentToTheInnermostClassifiedOne) {
  const std::string trace = "[" + cpu_op("aten::linear", 0, 10) + "," + cpu_op("aten::addmm", 1, 8) + "," +
                            cpu_op("aten::copy_", 2, 1) + "," + cpu_op("glmh::attention", 10, 10) + "," +
                            cpu_op("aten::matmul", 11, 4) + "," + cpu_op("glmh::collective all_to_all", 20, 10) + "," +
                            cpu_op("aten::add", 32, 2) + "," + cpu_op("aten::view", 33, 0) + "]";
  const StepBreakdown b = step_breakdown_from_trace(trace, 1, "t");
  EXPECT_FALSE(b.device_kernels);
  // The matmul inside glmh's attention scope is attention; on one thread a collective is all exposed.
  expect_parts(b, 9, 10, 1, 2, 10, 2, 10, 34);
}

TEST(StepBreakdown, TheJsonFormRoundTrips) {
  const std::string trace = "[" + kernel("nvjet_gemm", 0, 10, 7) + "," + kernel("ncclKernel_AllReduce", 10, 4, 9) + "]";
  const StepBreakdown b = step_breakdown_from_trace(trace, 1, "t");
  const StepBreakdown back = StepBreakdown::from_json(b.to_json());
  expect_parts(back, 10, 0, 0, 0, 4, 0, 4, 14);
  EXPECT_TRUE(back.device_kernels);
}

TEST(KernelTotals, DeviceTimeIsSummedPerKernelNameLongestFirstAndCpuOperatorsAreLeftOut) {
  const std::string trace = R"({"traceEvents": [)" + kernel("layer_norm", 0, 10, 7) + "," + kernel("nvjet_gemm", 10, 30, 7) +
                            "," + kernel("layer_norm", 40, 14, 7) + "," + cpu_op("aten::layer_norm", 0, 100) + "]}";
  const auto totals = kernel_totals_from_trace(trace, 2, "t.json");
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[0].name, "nvjet_gemm");
  EXPECT_EQ(totals[0].category, TraceCategory::Gemm);
  EXPECT_NEAR(totals[0].seconds_per_step, 15e-6, 1e-12);
  EXPECT_EQ(totals[1].name, "layer_norm");
  EXPECT_NEAR(totals[1].seconds_per_step, 12e-6, 1e-12);
  EXPECT_DOUBLE_EQ(totals[1].calls_per_step, 1.0);
  EXPECT_TRUE(kernel_totals_from_trace("[" + cpu_op("aten::mm", 0, 5) + "]", 1, "cpu.json").empty());
  EXPECT_THROW(kernel_totals_from_trace("{\"events\": []}", 1, "bad.json"), TraceFormatError);
}

TEST(StepBreakdown, AMalformedTraceIsRefusedNamingIt) {
  for (const char* bad : {"{", "{\"other\": []}", "[]", "[1]", "[{\"ph\": \"X\", \"name\": \"k\", \"ts\": \"0\", \"dur\": 1}]",
                          "[{\"ph\": \"X\", \"name\": \"k\", \"ts\": 0, \"dur\": -1}]", "[{\"ph\": \"X\", \"ts\": 0, \"dur\": 1}]"}) {
    try {
      step_breakdown_from_trace(bad, 1, "rank 1's trace");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const TraceFormatError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("rank 1's trace", 0), 0u) << e.what();
    }
  }
  EXPECT_THROW(step_breakdown_from_trace("[" + kernel("k", 0, 1, 1) + "]", 0, "t"), TraceFormatError);
}

}  // namespace
}  // namespace glmh
