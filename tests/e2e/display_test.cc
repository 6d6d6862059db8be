// The screen end to end: the built-in guest draws on the VGA (`vga text`, `vga vbe`), and
// `kvpc screenshot` must return exactly the expected pixels — glyphs from the same Debian
// PSF font kvpc preloads, colours from the VGA's mode-3 palette, the VBE test pattern.
// Then the SDL window under Xvfb: it belongs to the kvpc-display process (kvpc maps no SDL),
// the real window's pixels (xwd -root) match the screenshot, and keys typed into it with
// xdotool reach the guest's console through that process.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "devices/vga/psf_font.h"
#include "display/png_writer.h"
#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::run_kvpc;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Colour c of the 16-colour text palette as a VGA in mode 3 shows it (EGA DAC entries).
uint32_t text_colour(int c) {
  static constexpr int kPalette[16] = {0, 1, 2, 3, 4, 5, 0x14, 7, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F};
  const int i = kPalette[c];
  auto level = [](int primary, int secondary) {
    const int v = primary * 0x2A + secondary * 0x15;
    return (v << 2) | (v >> 4);
  };
  return static_cast<uint32_t>(level(i >> 2 & 1, i >> 5 & 1) << 16 | level(i >> 1 & 1, i >> 4 & 1) << 8 |
                               level(i & 1, i >> 3 & 1));
}

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

class DisplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(vga::kDefaultFontPath)) {
      GTEST_SKIP() << "skipped: " << vga::kDefaultFontPath << " is missing (install console-setup-linux)";
    }
    auto font = vga::load_psf_file(vga::kDefaultFontPath);
    ASSERT_TRUE(font.ok()) << font.error().message;
    font_ = *font;
    runtime_ = testing::make_runtime_dir();
  }
  void TearDown() override {
    vm_.reset();
    if (!runtime_.empty()) std::filesystem::remove_all(runtime_);
  }
  void boot(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run", "--accel", "emu", "--name", "disp", "--mem", "32M"};
    args.insert(args.end(), extra.begin(), extra.end());
    vm_ = std::make_unique<testing::KvpcProcess>(args, runtime_);
    ASSERT_TRUE(vm_->wait_for_output("kvpc> ", 30s)) << vm_->so_far().err;
  }
  Frame screenshot(const std::string& expected_mode) {
    const std::string file = runtime_ + "/screen.png";
    auto shot = run_kvpc({"screenshot", "disp", file, "--json"}, runtime_);
    EXPECT_EQ(shot.status, 0) << shot.err;
    auto answer = nlohmann::json::parse(shot.out, nullptr, false);
    EXPECT_EQ(answer.value("mode", ""), expected_mode) << shot.out;
    auto frame = decode_png(read_file(file));
    EXPECT_TRUE(frame.ok()) << (frame.ok() ? "" : frame.error().message);
    return frame.ok() ? *frame : Frame{};
  }
  // The 9x16 cell (col, row) must show `ch` (CP437) in fg on bg, as a VGA draws it.
  void expect_cell(const Frame& f, int col, int row, uint8_t ch, uint32_t fg, uint32_t bg) {
    for (int y = 0; y < 16; ++y) {
      int bits = font_.glyphs[ch][y] << 1;
      if (ch >= 0xC0 && ch <= 0xDF) bits |= bits >> 1 & 1;  // line graphics: 9th column repeats the 8th
      for (int x = 0; x < 9; ++x) {
        const uint32_t want = (bits >> (8 - x) & 1) ? fg : bg;
        ASSERT_EQ(f.pixel(static_cast<uint32_t>(col * 9 + x), static_cast<uint32_t>(row * 16 + y)), want)
            << "cell " << col << "," << row << " ('" << ch << "') pixel " << x << "," << y;
      }
    }
  }
  void expect_text_pattern(const Frame& f) {
    ASSERT_EQ(f.width, 720u);
    ASSERT_EQ(f.height, 400u);
    const std::string title = "KVPC VGA TEST";
    for (size_t i = 0; i < title.size(); ++i) {
      expect_cell(f, static_cast<int>(i), 0, static_cast<uint8_t>(title[i]), text_colour(15), text_colour(1));
    }
    for (int i = 0; i < 16; ++i) expect_cell(f, i, 1, static_cast<uint8_t>('A' + i), text_colour(i), text_colour(0));
    for (int i = 0; i < 8; ++i) expect_cell(f, i, 2, '#', text_colour(15), text_colour(i));
    expect_cell(f, 0, 3, 0xC4, text_colour(14), text_colour(0));
    expect_cell(f, 1, 3, 0xB3, text_colour(14), text_colour(0));
    expect_cell(f, 2, 3, 0xDB, text_colour(14), text_colour(0));
    expect_cell(f, 79, 24, ' ', text_colour(7), text_colour(0));
  }

  vga::VgaFont font_;
  std::string runtime_;
  std::unique_ptr<testing::KvpcProcess> vm_;
};

TEST_F(DisplayTest, ScreenshotShowsTheGuestsTextInFontGlyphsAndColours) {
  boot();
  vm_->write_stdin("vga text\r");
  ASSERT_TRUE(vm_->wait_for_output("vga: text pattern written", 20s)) << vm_->so_far().out;
  Frame frame = screenshot("text 80x25");
  expect_text_pattern(frame);
  // The cursor (CRTC 0x0E/0x0F = row 4, column 0; scan lines 14-15 in mode 3) blinks:
  // its lines are either all foreground or all background, the rest of the cell background.
  const uint32_t line = frame.pixel(0, 4 * 16 + 14);
  EXPECT_TRUE(line == text_colour(7) || line == text_colour(0));
  for (int x = 0; x < 9; ++x) EXPECT_EQ(frame.pixel(static_cast<uint32_t>(x), 4 * 16 + 14), line);
  EXPECT_EQ(frame.pixel(4, 4 * 16 + 5), text_colour(0));
}

TEST_F(DisplayTest, ScreenshotShowsTheVbeFramebufferPattern) {
  boot();
  vm_->write_stdin("vga vbe\r");
  ASSERT_TRUE(vm_->wait_for_output("vbe 640x480x32 pattern written", 60s)) << vm_->so_far().out;
  EXPECT_NE(vm_->so_far().out.find("dispi id 0xb0c5"), std::string::npos) << vm_->so_far().out;
  Frame frame = screenshot("vbe 640x480x32");
  ASSERT_EQ(frame.width, 640u);
  ASSERT_EQ(frame.height, 480u);
  int wrong = 0;
  for (uint32_t y = 0; y < 480; ++y) {
    for (uint32_t x = 0; x < 640; ++x) {
      const uint32_t want = (x & 0xFF) << 16 | (y & 0xFF) << 8 | ((x ^ y) & 0xFF);
      if (frame.pixel(x, y) != want && ++wrong < 5) ADD_FAILURE() << "pixel " << x << "," << y;
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST_F(DisplayTest, ScreenshotOfAnUnknownVmFails) {
  auto shot = run_kvpc({"screenshot", "nosuchvm", runtime_ + "/x.png"}, runtime_);
  EXPECT_EQ(shot.status, 2);
  EXPECT_NE(shot.err.find("nosuchvm"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(runtime_ + "/x.png"));
}

// --- the SDL window under Xvfb

// Runs a shell command, returns its exit status.
int shell(const std::string& command) { return std::system(command.c_str()); }
bool have(const char* tool) { return shell(std::string("command -v ") + tool + " >/dev/null 2>&1") == 0; }

// Reads an XWD dump (as `xwd -root` writes it) of a 24/32-bit TrueColor screen.
Frame read_xwd(const std::vector<uint8_t>& b) {
  auto be32 = [&](size_t at) {
    return at + 4 <= b.size() ? uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3] : 0u;
  };
  Frame f;
  const uint32_t header = be32(0), width = be32(16), height = be32(20), byte_order = be32(28), bpp = be32(44);
  const uint32_t line = be32(48), colours = be32(76);
  const size_t data = size_t{header} + size_t{colours} * 12;
  const uint32_t bytes_pp = bpp / 8;  // Xvfb at depth 24 dumps 24 (packed) or 32 bits per pixel
  if ((bpp != 24 && bpp != 32) || width == 0 || height == 0 || data + size_t{line} * height > b.size()) return f;
  f.resize(width, height);
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      const uint8_t* p = &b[data + size_t{y} * line + size_t{x} * bytes_pp];
      uint32_t v = 0;
      for (uint32_t i = 0; i < bytes_pp; ++i) {
        v |= byte_order == 0 ? uint32_t{p[i]} << (8 * i) : uint32_t{p[i]} << (8 * (bytes_pp - 1 - i));
      }
      uint8_t* out = f.row(y) + size_t{x} * 4;
      out[0] = static_cast<uint8_t>(v >> 16);
      out[1] = static_cast<uint8_t>(v >> 8);
      out[2] = static_cast<uint8_t>(v);
      out[3] = 0xFF;
    }
  }
  return f;
}

TEST_F(DisplayTest, SdlWindowUnderXvfbShowsTheScreenAndTakesTheKeyboard) {
  for (const char* tool : {"Xvfb", "xwd", "xdotool", "xprop"}) {
    if (!have(tool)) GTEST_SKIP() << "skipped: " << tool << " is not installed (Debian xvfb, x11-apps, x11-utils, xdotool)";
  }
  const std::string display = ":" + std::to_string(90 + getpid() % 100);
  const std::string xvfb_pid = runtime_ + "/xvfb.pid";
  ASSERT_EQ(shell("Xvfb " + display + " -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 & echo $! > " + xvfb_pid),
            0);
  struct XvfbGuard {
    std::string pid_file;
    ~XvfbGuard() { std::system(("kill $(cat " + pid_file + ") 2>/dev/null").c_str()); }
  } guard{xvfb_pid};
  bool up = false;
  for (int i = 0; i < 50 && !up; ++i) {
    up = shell("xdpyinfo -display " + display + " >/dev/null 2>&1") == 0 ||
         shell("DISPLAY=" + display + " xdotool getmouselocation >/dev/null 2>&1") == 0;
    if (!up) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up) << "Xvfb did not start on " << display;
  setenv("DISPLAY", display.c_str(), 1);
  boot({"--display", "sdl"});
  unsetenv("DISPLAY");
  vm_->write_stdin("vga text\r");
  ASSERT_TRUE(vm_->wait_for_output("vga: text pattern written", 20s)) << vm_->so_far().out;
  std::this_thread::sleep_for(500ms);  // a few window refreshes (every 33 ms)

  // The window's title names the VM and its state.
  // (SDL 2.26 on X11 updates WM_NAME, Latin-1 encoded, so the em dash shows as bytes: match around it.)
  ASSERT_EQ(shell("DISPLAY=" + display + " xprop -id $(DISPLAY=" + display +
                  " xdotool search --name 'kvpc: disp' | head -1) WM_NAME _NET_WM_NAME | grep -q 'kvpc: disp .* running'"),
            0)
      << vm_->so_far().err;
  // The window belongs to the kvpc-display process, which maps libSDL2; kvpc itself maps no
  // SDL (the window is a separate process: display/display_process.h).
  const std::string window_pid_file = runtime_ + "/window.pid";
  ASSERT_EQ(shell("DISPLAY=" + display + " xdotool search --name 'kvpc: disp' getwindowpid > " + window_pid_file), 0);
  const int window_pid = std::atoi(read_text(window_pid_file).c_str());
  ASSERT_GT(window_pid, 0);
  EXPECT_NE(window_pid, vm_->pid());
  EXPECT_EQ(read_text("/proc/" + std::to_string(window_pid) + "/comm"), "kvpc-display\n");
  EXPECT_NE(read_text("/proc/" + std::to_string(window_pid) + "/maps").find("libSDL2"), std::string::npos);
  EXPECT_EQ(read_text("/proc/" + std::to_string(vm_->pid()) + "/maps").find("libSDL2"), std::string::npos);
  // The real window's pixels: find its top-left corner (the title cell's blue background at
  // (0,0) of the guest picture) and compare the text pattern there.
  const std::string dump = runtime_ + "/root.xwd";
  ASSERT_EQ(shell("xwd -root -silent -display " + display + " > " + dump), 0);
  Frame root = read_xwd(read_file(dump));
  ASSERT_GT(root.width, 0u) << "unreadable xwd dump";
  uint32_t ox = 0, oy = 0;
  bool found = false;
  for (uint32_t y = 0; y + 400 <= root.height && !found; ++y) {
    for (uint32_t x = 0; x + 720 <= root.width && !found; ++x) {
      if (root.pixel(x, y) == text_colour(1)) {
        ox = x;
        oy = y;
        found = true;
      }
    }
  }
  ASSERT_TRUE(found) << "no blue title cell on the X screen";
  Frame window;
  window.resize(720, 400);
  for (uint32_t y = 0; y < 400; ++y) std::memcpy(window.row(y), root.row(oy + y) + size_t{ox} * 4, 720 * 4);
  // The cursor cell blinks independently of the screenshot, so compare rows 0-3 only.
  expect_text_pattern(window);

  // Keys typed into the window reach the guest's console through the i8042 (IRQ 1).
  ASSERT_EQ(shell("DISPLAY=" + display + " xdotool mousemove " + std::to_string(ox + 100) + " " +
                  std::to_string(oy + 100)),
            0);
  ASSERT_EQ(shell("DISPLAY=" + display + " xdotool type --delay 40 'echo keys' && DISPLAY=" + display +
                  " xdotool key Return"),
            0);
  EXPECT_TRUE(vm_->wait_for_output("\nkeys", 20s)) << vm_->so_far().out;
}

}  // namespace
}  // namespace kvpc
