// Debian's SeaBIOS with its VGA BIOS under --accel emu: kvpc hands vgabios-stdvga.bin to the
// firmware (fw_cfg "pci1234,1111.rom"), SeaBIOS runs it as the VGA option ROM for 00:03.0, the
// ROM sets mode 3 through kvpc's VGA registers and loads its own font into plane 2, and
// SeaBIOS's banner printed through int 10h must then be on the screen. The text is read back
// from `kvpc screenshot`'s PNG: each 9x16 cell is decoded to the printable ASCII glyph of the
// Debian VGA console font it is nearest to (vgabios's font is an IBM VGA font too, but not
// bit-identical to the PSF one, so an exact pixel compare would test the font, not the path).
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "devices/vga/psf_font.h"
#include "display/png_writer.h"
#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::run_kvpc;

constexpr const char* kSeaBios = "/usr/share/seabios/bios.bin";
constexpr const char* kVgaBios = "/usr/share/seabios/vgabios-stdvga.bin";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Row `row` of a 720x400 mode-3 screenshot as text: per cell, the glyph (0x20-0x7E) whose
// lit pixels differ from the cell's in the fewest places; a pixel counts as lit when it is not
// the cell's background, taken as its darkest colour (SeaBIOS writes light grey on black).
std::string decode_row(const Frame& f, int row, const vga::VgaFont& font) {
  std::string text;
  for (int col = 0; col < 80; ++col) {
    uint32_t bg = UINT32_MAX;
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 8; ++x) {
        bg = std::min(bg, f.pixel(static_cast<uint32_t>(col * 9 + x), static_cast<uint32_t>(row * 16 + y)));
      }
    }
    int best = ' ', best_distance = INT_MAX;
    for (int ch = 0x20; ch < 0x7F; ++ch) {
      int distance = 0;
      for (int y = 0; y < 16; ++y) {
        for (int x = 0; x < 8; ++x) {
          const bool lit = f.pixel(static_cast<uint32_t>(col * 9 + x), static_cast<uint32_t>(row * 16 + y)) != bg;
          const bool glyph = (font.glyphs[ch][y] >> (7 - x)) & 1;
          distance += lit != glyph;
        }
      }
      if (distance < best_distance) best = ch, best_distance = distance;
    }
    text.push_back(static_cast<char>(best));
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

TEST(SeaBiosVgaTest, VgaBiosRunsAndTheBannerIsOnTheScreenUnderEmu) {
  for (const char* file : {kSeaBios, kVgaBios}) {
    if (!std::filesystem::exists(file)) GTEST_SKIP() << "skipped: " << file << " is missing (Debian package seabios)";
  }
  if (!std::filesystem::exists(vga::kDefaultFontPath)) {
    GTEST_SKIP() << "skipped: " << vga::kDefaultFontPath << " is missing (install console-setup-linux)";
  }
  auto font = vga::load_psf_file(vga::kDefaultFontPath);
  ASSERT_TRUE(font.ok()) << font.error().message;
  const std::string runtime = testing::make_runtime_dir();
  ASSERT_FALSE(runtime.empty());
  const std::string debugcon = runtime + "/debugcon.log";
  const auto start = std::chrono::steady_clock::now();
  {
    testing::KvpcProcess process({"run", "--accel", "emu", "--bios", kSeaBios, "--mem", "128M", "--display", "none",
                                  "--debugcon", "file:" + debugcon, "--name", "vgabios"},
                                 runtime);
    // Split mode: the banner still reaches COM1, and once it has, it is on the VGA too.
    ASSERT_TRUE(process.wait_for_output("SeaBIOS (version", 60s)) << "COM1 so far:\n" << process.so_far().out
                                                                   << "\nstderr:\n" << process.so_far().err
                                                                   << "\ndebugcon:\n" << slurp(debugcon);
    const std::string png = runtime + "/screen.png";
    std::string first_line;
    Frame frame;
    // The banner is written character by character: poll the screen until the line is whole.
    for (int attempt = 0; attempt < 100 && first_line.find("SeaBIOS (version") == std::string::npos; ++attempt) {
      auto shot = run_kvpc({"screenshot", "vgabios", png}, runtime);
      ASSERT_EQ(shot.status, 0) << shot.err;
      std::ifstream in(png, std::ios::binary);
      auto decoded = decode_png(std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}));
      ASSERT_TRUE(decoded.ok()) << decoded.error().message;
      frame = *decoded;
      ASSERT_EQ(frame.width, 720u);
      ASSERT_EQ(frame.height, 400u);
      first_line = decode_row(frame, 0, *font);
      if (first_line.find("SeaBIOS (version") == std::string::npos) std::this_thread::sleep_for(100ms);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::printf("SeaBIOS + vgabios banner on the VGA screen after %lld ms (emu)\n",
                static_cast<long long>(elapsed.count()));
    EXPECT_EQ(first_line.rfind("SeaBIOS (version 1.", 0), 0u) << "screen row 0 reads: '" << first_line << "'";
    EXPECT_EQ(decode_row(frame, 24, *font), "") << "the bottom row should be blank";

    const std::string log = slurp(debugcon);
    for (const char* line : {
             "Running option rom at c000:0003",       // found through fw_cfg pci1234,1111.rom
             "Start SeaVGABIOS (version",             // vgabios's own log
             "VBE DISPI: bdf 00:03.0, bar 0",         // it got our VGA's BDF and found DISPI
             "sercon: configuring in splitmode",      // COM1 keeps a copy of the screen
             "set VGA mode 3",
         }) {
      EXPECT_NE(log.find(line), std::string::npos) << "debugcon lacks: " << line << "\n" << log;
    }
    process.signal(SIGTERM);
    auto result = process.wait(20s);
    EXPECT_EQ(result.status, 0) << result.err;
  }
  std::filesystem::remove_all(runtime);
}

// `--vga-rom none`: no option ROM, so SeaBIOS's console is COM1 alone (sercon primary).
TEST(SeaBiosVgaTest, VgaRomNoneLeavesTheConsoleOnCom1) {
  if (!std::filesystem::exists(kSeaBios)) GTEST_SKIP() << "skipped: " << kSeaBios << " is missing (Debian package seabios)";
  const std::string runtime = testing::make_runtime_dir();
  ASSERT_FALSE(runtime.empty());
  const std::string debugcon = runtime + "/debugcon.log";
  {
    testing::KvpcProcess process({"run", "--accel", "emu", "--bios", kSeaBios, "--mem", "128M", "--display", "none",
                                  "--vga-rom", "none", "--debugcon", "file:" + debugcon, "--name", "novga"},
                                 runtime);
    ASSERT_TRUE(process.wait_for_output("SeaBIOS (version", 60s)) << process.so_far().err;
    const std::string log = slurp(debugcon);
    EXPECT_EQ(log.find("Start SeaVGABIOS"), std::string::npos) << log;
    EXPECT_NE(log.find("sercon: using ioport 0x3f8"), std::string::npos) << log;
    EXPECT_EQ(log.find("splitmode"), std::string::npos) << log;
    process.signal(SIGTERM);
    process.wait(20s);
  }
  // A file that is not an option ROM is refused with a clear error.
  auto bad = run_kvpc({"run", "--accel", "emu", "--bios", kSeaBios, "--display", "none", "--vga-rom", kSeaBios,
                       "--name", "badrom"},
                      runtime);
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("--vga-rom"), std::string::npos) << bad.err;
  std::filesystem::remove_all(runtime);
}

}  // namespace
}  // namespace kvpc
