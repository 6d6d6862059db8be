// kvpc-display: the `--display sdl` window of one VM, started by kvpc (display/display_process.h)
// as `kvpc-display VM_NAME PARENT_PID` with the wire socket on fd 3 and the framebuffer memfd on
// fd 4 (display/display_wire.h). It holds nothing else of kvpc's: no guest memory, no KVM.
//
// It dies with kvpc (PR_SET_PDEATHSIG) and exits when kvpc says kQuit, closes the socket, or
// sends a message that does not parse.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "display/display_wire.h"
#include "display/window/sdl_window.h"

namespace {

namespace wire = kvpc::display_wire;

bool send_message(const wire::Message& message) {
  return send(wire::kSocketFd, &message, sizeof(message), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(message));
}

int fail(const std::string& why) {
  wire::Message error = wire::make(wire::Type::kError);
  wire::set_text(error, why);
  send_message(error);
  std::fprintf(stderr, "kvpc-display: %s\n", why.c_str());
  return 1;
}

// Reads kvpc's messages until the socket closes or one does not parse.
void read_messages(kvpc::SdlWindow& window) {
  for (;;) {
    wire::Message buffer[2];
    const ssize_t n = recv(wire::kSocketFd, buffer, sizeof(buffer), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    auto message = wire::parse_from_kvpc(buffer, static_cast<size_t>(n));
    if (!message) {
      std::fprintf(stderr, "kvpc-display: refused a message from kvpc: %s\n", message.error().message.c_str());
      break;
    }
    window.post(*message);
    if (message->type == wire::Type::kQuit) return;
  }
  window.post_gone();
}

}  // namespace

int main(int argc, char** argv) {
  // Die with kvpc even if it is killed; then make sure it was not already gone.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc != 3) {
    std::fprintf(stderr, "usage: kvpc-display VM_NAME PARENT_PID (started by kvpc run --display sdl)\n");
    return 2;
  }
  if (getppid() != static_cast<pid_t>(std::strtol(argv[2], nullptr, 10))) return 1;
  struct stat framebuffer_stat {};
  if (fstat(wire::kFramebufferFd, &framebuffer_stat) != 0 ||
      framebuffer_stat.st_size != static_cast<off_t>(wire::kFramebufferBytes)) {
    return fail("the framebuffer descriptor (fd 4) is missing or has the wrong size");
  }
  void* framebuffer = mmap(nullptr, wire::kFramebufferBytes, PROT_READ, MAP_SHARED, wire::kFramebufferFd, 0);
  if (framebuffer == MAP_FAILED) return fail(std::string("cannot map the framebuffer: ") + std::strerror(errno));
  close(wire::kFramebufferFd);

  kvpc::SdlWindow window(argv[1], static_cast<const uint8_t*>(framebuffer), send_message);
  if (const std::string error = window.open(); !error.empty()) return fail(error);
  if (!send_message(wire::make(wire::Type::kReady))) return 1;
  std::thread reader([&window] { read_messages(window); });
  window.run();
  // kvpc's kQuit or its exit ended the loop; a reader still blocked in recv ends with the process.
  reader.detach();
  std::_Exit(0);
}
