// The report writers on outcomes made up in the test (no glmh run): base64 and the in-memory PNG
// encoder round-trip, the amplified difference map, report.html's images (run beside reference,
// the difference only where image parity failed, "no image" for a missing one, images found again
// after the report directory moved) and the performance tables shared by summary.md and
// report.html.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "harness/io/base64.h"
#include "harness/io/png_image.h"
#include "harness/reports/image_difference.h"
#include "harness/reports/report_paths.h"
#include "harness/reports/report_writers.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

using testing::contains;
using testing::read_text;

const std::string kDataUri = "data:image/png;base64,";

int occurrences(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

// The base64 of the index-th data URI in `html`.
std::string data_uri_payload(const std::string& html, int index) {
  size_t at = html.find(kDataUri);
  for (int i = 0; i < index && at != std::string::npos; ++i) at = html.find(kDataUri, at + 1);
  if (at == std::string::npos) return "";
  at += kDataUri.size();
  return html.substr(at, html.find('"', at) - at);
}

// Every pixel different from its neighbours, and different per seed.
at::Tensor test_image(int64_t height, int64_t width, int64_t seed) {
  return (at::arange(height * width * 3, at::kLong) * (31 + 2 * seed) % 256).to(at::kByte).reshape({height, width, 3});
}

at::Tensor png_bytes_as_image(const std::string& bytes, const std::string& dir) {
  const std::string path = testing::write_text(dir, "decoded.png", bytes);
  return read_png(path);
}

TEST(Base64, EncodesTheRfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text), bytes);
  }
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += char(i);
  for (size_t length : {253u, 254u, 255u, 256u}) {
    const std::string text = base64_encode(bytes.substr(0, length));
    EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), std::string::npos);
    EXPECT_EQ(base64_decode(text), bytes.substr(0, length));
  }
  EXPECT_THROW(base64_decode("Zm9"), std::invalid_argument);
  EXPECT_THROW(base64_decode("Zm9*"), std::invalid_argument);
  EXPECT_THROW(base64_decode("Z=9v"), std::invalid_argument);
}

TEST(PngImage, EncodedInMemoryItReadsBackAsTheSamePixels) {
  testing::TempDir dir;
  const at::Tensor image = test_image(5, 7, 1);
  const std::string png = encode_png(image);
  EXPECT_EQ(png.compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
  // Through base64 as report.html carries it, then libpng's reader.
  EXPECT_TRUE(at::equal(png_bytes_as_image(base64_decode(base64_encode(png)), dir.path()), image));
  // write_png writes the same bytes.
  write_png(dir.path() + "/written.png", image);
  EXPECT_EQ(read_text(dir.path() + "/written.png"), png);
  EXPECT_THROW(encode_png(at::zeros({4, 4}, at::kByte)), std::invalid_argument);
}

TEST(ImageDifference, TheLargestDifferenceBecomesWhiteAndTheGainSaysByHowMuch) {
  const at::Tensor a = at::full({2, 3, 3}, 100, at::kByte);
  at::Tensor b = a.clone();
  b[0][1][2] = 107;  // 7 levels in one channel: the largest
  b[1][2][0] = 97;   // 3 levels
  const AmplifiedDifference d = amplified_difference(a, b);
  EXPECT_EQ(d.largest, 7);
  EXPECT_DOUBLE_EQ(d.gain, 255.0 / 7);
  ASSERT_EQ(d.image.sizes(), a.sizes());
  auto pixel = [&](int y, int x) {
    return std::vector<int>{d.image[y][x][0].item<int>(), d.image[y][x][1].item<int>(), d.image[y][x][2].item<int>()};
  };
  EXPECT_EQ(pixel(0, 1), (std::vector<int>{255, 255, 255}));
  EXPECT_EQ(pixel(0, 0), (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(pixel(1, 2), (std::vector<int>{255, 72, 0}));  // round(3 x 255 / 7) = 109 on the ramp
  EXPECT_EQ(amplified_difference(a, a).largest, 0);
  EXPECT_THROW(amplified_difference(a, at::zeros({3, 2, 3}, at::kByte)), std::invalid_argument);
}

// A report directory with one scenario's run and reference directories, as glmh validate lays
// them out.
class HtmlReport : public ::testing::Test {
 protected:
  void SetUp() override {
    report_ = dir_.path() + "/report";
    posix_fs::make_directories(report_ + "/scenarios/sp2");
    posix_fs::make_directories(report_ + "/references/r");
    write_png(report_ + "/scenarios/sp2/image.png", run_image_);
    write_png(report_ + "/references/r/image.png", reference_image_);
  }
  ScenarioOutcome outcome(CheckStatus image_parity) const {
    ScenarioOutcome o;
    o.scenario.name = "sp2";
    o.scenario.height = 8;
    o.scenario.width = 12;
    o.scenario.world_size = 2;
    o.scenario.sp = 2;
    o.scenario.ulysses = 2;
    o.passed = image_parity != CheckStatus::Fail;
    o.reason = o.passed ? "every check passed" : "1 check(s) failed; image_parity";
    o.run_dir = report_ + "/scenarios/sp2";
    o.reference_dir = report_ + "/references/r";
    o.checks = {{"output_parity", CheckStatus::Pass, 1e-7, 1e-4, "fine"},
                {"image_parity", image_parity, 30.5, 40, "PSNR 30.5 dB"}};
    o.stage_seconds = {{"glm_image.ar", 0.5}, {"glm_image.denoising", 1.5}};
    return o;
  }
  ReportContext context() const {
    ReportContext c;
    c.title = "glmh validate test.csv";
    c.run_id = "test";
    c.written_to = report_;
    return c;
  }
  testing::TempDir dir_;
  std::string report_;
  const at::Tensor run_image_ = test_image(8, 12, 2);
  const at::Tensor reference_image_ = test_image(8, 12, 3);
};

TEST_F(HtmlReport, ShowsTheRunImageBesideTheReferenceImage) {
  const std::string html = report_html(context(), {outcome(CheckStatus::Pass)}, report_);
  EXPECT_EQ(occurrences(html, kDataUri), 2) << "the run's image and the reference's";
  EXPECT_TRUE(contains(html, "single-rank run"));
  EXPECT_FALSE(contains(html, "difference ×")) << "no difference map where image parity passed";
  EXPECT_TRUE(contains(html, "function zoom(")) << "a click enlarges an image";
  testing::TempDir scratch;
  EXPECT_TRUE(at::equal(png_bytes_as_image(base64_decode(data_uri_payload(html, 0)), scratch.path()), run_image_));
  EXPECT_TRUE(at::equal(png_bytes_as_image(base64_decode(data_uri_payload(html, 1)), scratch.path()), reference_image_));
}

TEST_F(HtmlReport, AddsTheAmplifiedDifferenceWhereImageParityFailed) {
  const std::string html = report_html(context(), {outcome(CheckStatus::Fail)}, report_);
  EXPECT_EQ(occurrences(html, kDataUri), 3);
  const AmplifiedDifference expected = amplified_difference(run_image_, reference_image_);
  std::ostringstream gain;
  gain << "difference ×" << std::setprecision(3) << expected.gain << " ";
  EXPECT_TRUE(contains(html, gain.str())) << gain.str();
  testing::TempDir scratch;
  EXPECT_TRUE(at::equal(png_bytes_as_image(base64_decode(data_uri_payload(html, 2)), scratch.path()), expected.image));
}

TEST_F(HtmlReport, AMissingImageIsShownAsNoImage) {
  ScenarioOutcome o = outcome(CheckStatus::Fail);
  o.run_dir = dir_.path() + "/never-written";
  const std::string html = report_html(context(), {o}, report_);
  EXPECT_EQ(occurrences(html, kDataUri), 1) << "only the reference";
  EXPECT_TRUE(contains(html, ">no image<"));
  EXPECT_TRUE(contains(html, "no difference map: an image is missing"));
  ScenarioOutcome single = outcome(CheckStatus::Pass);
  single.reference_dir = "";
  EXPECT_TRUE(contains(report_html(context(), {single}, report_), "no single-rank reference"));
  // No image anywhere (a report copied without its run directories): one line instead of cards.
  single.run_dir = dir_.path() + "/never-written";
  const std::string none = report_html(context(), {single, single}, report_);
  EXPECT_TRUE(contains(none, "No images: ")) << none;
  EXPECT_FALSE(contains(none, "class=\"card")) << none;
}

TEST_F(HtmlReport, FindsTheImagesAgainAfterTheReportDirectoryMoved) {
  // Recorded relative to where glmh ran ("reports/x/..."), rendered from somewhere else.
  ScenarioOutcome o = outcome(CheckStatus::Pass);
  o.run_dir = "reports/x/scenarios/sp2";
  o.reference_dir = "reports/x/references/r";
  ReportContext c = context();
  c.written_to = "reports/x/";
  EXPECT_EQ(occurrences(report_html(c, {o}, report_), kDataUri), 2);
  // The order report_paths.h documents: as given, then moved with the report, then below it.
  EXPECT_EQ(find_run_file(report_ + "/scenarios/sp2", "image.png", "", ""), report_ + "/scenarios/sp2/image.png");
  EXPECT_EQ(find_run_file("/old/place", "image.png", "/old/place", report_ + "/scenarios/sp2"),
            report_ + "/scenarios/sp2/image.png");
  EXPECT_EQ(find_run_file("./scenarios/sp2", "image.png", "elsewhere", report_), report_ + "/scenarios/sp2/image.png");
  EXPECT_EQ(find_run_file("/old/place/scenarios/none", "image.png", "/old/place", report_), "");
  EXPECT_EQ(find_run_file("", "image.png", "/old/place", report_), "");
}

TEST_F(HtmlReport, CarriesThePerformanceTablesOfSummaryMarkdown) {
  ScenarioOutcome o = outcome(CheckStatus::Pass);
  const std::string without = report_html(context(), {o}, report_);
  EXPECT_FALSE(contains(without, "<h2>Performance")) << "no timed figures, no table";
  EXPECT_FALSE(contains(summary_markdown(context(), {o}), "## Performance"));
  o.performance = {{"iterations", 3},           {"glm_image.denoising:p50", 1.25},   {"glm_image.denoising:p90", 1.5},
                   {"end_to_end:p50", 2.0},     {"end_to_end:p90", 2.5},             {"end_to_end:min", 1.75},
                   {"end_to_end:max", 2.75},    {"denoise_step:p50", 0.0123},        {"speedup:end_to_end", 1.5},
                   {"amdahl:end_to_end", 1.8}, {"speedup:glm_image.denoising", 1.9}};
  const std::string html = report_html(context(), {o}, report_);
  const std::string md = summary_markdown(context(), {o});
  EXPECT_TRUE(contains(html, "<h2>Performance"));
  // The same cells in both, in the same order: denoise step p50, p90, min, max (ms), end to end (s).
  std::string html_row = "<tr><td>sp2</td><td>2</td>", md_row = "| sp2 | 2 |";
  for (const std::string cell : {"12.30", "–", "–", "–", "2.0000", "2.5000", "1.7500", "2.7500"}) {
    html_row += "<td>" + cell + "</td>";
    md_row += " " + cell + " |";
  }
  EXPECT_TRUE(contains(html, html_row)) << html_row;
  EXPECT_TRUE(contains(md, md_row)) << md_row << "\n" << md;
  for (const std::string cell : {"glm_image.denoising p50 / p90 (s)", "1.2500 / 1.5000", "end to end min (s)",
                                 "Amdahl bound", "1.80", "1.90"}) {
    EXPECT_TRUE(contains(html, "<td>" + cell + "</td>") || contains(html, "<th>" + cell + "</th>")) << cell;
    EXPECT_TRUE(contains(md, "| " + cell + " |")) << cell << "\n" << md;
  }
}

TEST_F(HtmlReport, WriteReportsRecordsWhereItWroteTheReport) {
  write_reports(report_, context(), {outcome(CheckStatus::Fail)});
  ReportContext read;
  std::vector<ScenarioOutcome> outcomes;
  read_report_data(report_ + "/outcomes.json", read, outcomes);
  EXPECT_EQ(read.written_to, report_);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].reference_dir, report_ + "/references/r");
  EXPECT_EQ(occurrences(read_text(report_ + "/report.html"), kDataUri), 3);
}

}  // namespace
}  // namespace glmh
