#include "guest-agent/linux/pci_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/io.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "guest-agent/linux/log.h"
#include "guest-agent/linux/wire.h"

namespace kvpc::agent {
namespace {

unsigned long read_hex_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  in >> text;
  return text.empty() ? ~0ul : strtoul(text.c_str(), nullptr, 0);
}

bool write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

std::string link_name(const std::string& path) {
  char target[512] = {};
  ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
  if (n <= 0) return "";
  std::string text(target, static_cast<size_t>(n));
  return text.substr(text.rfind('/') + 1);
}

}  // namespace

std::string SysfsPciDevice::find(const std::string& sysfs_root) {
  DIR* dir = opendir(sysfs_root.c_str());
  if (!dir) return "";
  std::string found;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string path = sysfs_root + "/" + entry->d_name;
    if (read_hex_file(path + "/vendor") == wire::kVendorId && read_hex_file(path + "/device") == wire::kDeviceId) {
      found = path;
      break;
    }
  }
  closedir(dir);
  return found;
}

std::unique_ptr<SysfsPciDevice> SysfsPciDevice::open(const std::string& sysfs_dir, bool use_uio, std::string* error) {
  std::unique_ptr<SysfsPciDevice> device(new SysfsPciDevice());
  write_file(sysfs_dir + "/enable", "1");  // I/O decoding on (a no-op when firmware did it)
  device->bar_fd_ = ::open((sysfs_dir + "/resource0").c_str(), O_RDWR | O_CLOEXEC);
  if (device->bar_fd_ < 0) {
    // resource0 of I/O BARs is readable/writable since Linux 4.x; older kernels: port I/O.
    std::ifstream resource(sysfs_dir + "/resource");
    std::string start;
    resource >> start;
    unsigned long base = strtoul(start.c_str(), nullptr, 0);
    if (base == 0 || base > 0xFFFF - 64 || ioperm(base, 64, 1) != 0) {
      *error = "cannot open " + sysfs_dir + "/resource0 or get port access: " + strerror(errno);
      return nullptr;
    }
    device->io_base_ = static_cast<unsigned>(base);
  }
  if (device->read32(wire::kRegMagic) != wire::kMagic) {
    *error = "BAR0 of " + sysfs_dir + " does not read the KVIC magic";
    return nullptr;
  }
  if (use_uio) device->open_uio(sysfs_dir);
  return device;
}

// Binds uio_pci_generic to the function (new_id binds it when no driver owns it) and opens
// its /dev/uioN. Any failure leaves polling in place.
void SysfsPciDevice::open_uio(const std::string& sysfs_dir) {
  const std::string driver_dir = "/sys/bus/pci/drivers/uio_pci_generic";
  if (access(driver_dir.c_str(), F_OK) != 0) {
    pid_t child = fork();
    if (child == 0) {  // a module build: try to load it (quietly; absent modprobe is fine)
      execl("/sbin/modprobe", "modprobe", "-q", "uio_pci_generic", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (child > 0) waitpid(child, nullptr, 0);
  }
  if (link_name(sysfs_dir + "/driver") != "uio_pci_generic") {
    write_file(driver_dir + "/new_id", "6b76 4943");
  }
  DIR* dir = opendir((sysfs_dir + "/uio").c_str());
  if (!dir) {
    log_line("uio_pci_generic not available: polling");
    return;
  }
  std::string name;
  while (dirent* entry = readdir(dir)) {
    if (strncmp(entry->d_name, "uio", 3) == 0) name = entry->d_name;
  }
  closedir(dir);
  if (!name.empty()) uio_fd_ = ::open(("/dev/" + name).c_str(), O_RDWR | O_CLOEXEC);
  log_line(uio_fd_ >= 0 ? "interrupt through /dev/%s" : "cannot open /dev/%s: polling", name.c_str());
}

SysfsPciDevice::~SysfsPciDevice() {
  if (bar_fd_ >= 0) close(bar_fd_);
  if (uio_fd_ >= 0) close(uio_fd_);
}

uint32_t SysfsPciDevice::read32(uint32_t offset) {
  if (bar_fd_ < 0) return inl(static_cast<uint16_t>(io_base_ + offset));
  uint32_t value = ~0u;
  if (pread(bar_fd_, &value, 4, offset) != 4) return ~0u;
  return value;
}

void SysfsPciDevice::write32(uint32_t offset, uint32_t value) {
  if (bar_fd_ < 0) {
    outl(value, static_cast<uint16_t>(io_base_ + offset));
    return;
  }
  if (pwrite(bar_fd_, &value, 4, offset) != 4) log_line("BAR0 write at 0x%x failed: %s", offset, strerror(errno));
}

void SysfsPciDevice::wait(std::chrono::milliseconds timeout) {
  if (uio_fd_ < 0) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  // Unmask INTx (uio_pci_generic masked it when it fired). The line is level-triggered, so an
  // interrupt that came while masked fires again now: nothing is lost between service() and here.
  uint32_t enable = 1;
  if (write(uio_fd_, &enable, 4) != 4) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  struct pollfd pfd {uio_fd_, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(timeout.count())) > 0 && (pfd.revents & POLLIN)) {
    uint32_t count = 0;
    if (read(uio_fd_, &count, 4) != 4) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace kvpc::agent
