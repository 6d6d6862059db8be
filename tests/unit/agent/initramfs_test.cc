// tools/build-initramfs.sh builds an image with everything the Linux agent's end-to-end path
// needs: busybox init as /init, the agent started from inittab, a getty on ttyS0, the users with
// password hashes, utmp created at boot. Checked by unpacking the archive ("skipped: ..." without
// busybox-static).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(BuildInitramfs, ImageHoldsTheAgentInitGettyUsersAndUtmp) {
  if (system("file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'") != 0) {
    GTEST_SKIP() << "skipped: busybox-static is not installed";
  }
  char dir[] = "/tmp/kvpc-initramfs-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string d = dir;
  std::string build = std::string(KVPC_SOURCE_DIR) + "/tools/build-initramfs.sh -o " + d + "/initrd.cpio --agent " +
                      KVPC_BINARY_DIR + "/guest-agent/linux/kvpc-agent --user carol:pw1 --user dave:pw2 --hostname vm7";
  ASSERT_EQ(system((build + " > /dev/null").c_str()), 0);
  ASSERT_EQ(system(("mkdir " + d + "/x && cd " + d + "/x && /bin/busybox cpio -i < ../initrd.cpio 2>/dev/null").c_str()), 0);
  std::string x = d + "/x";
  char target[64] = {};
  ASSERT_GT(readlink((x + "/init").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  struct stat st {};
  ASSERT_EQ(stat((x + "/usr/sbin/kvpc-agent").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  std::string inittab = slurp(x + "/etc/inittab");
  EXPECT_NE(inittab.find("::respawn:/usr/sbin/kvpc-agent"), std::string::npos);
  EXPECT_NE(inittab.find("ttyS0::respawn:/sbin/getty"), std::string::npos);
  std::string passwd = slurp(x + "/etc/passwd");
  EXPECT_NE(passwd.find("carol:x:1000:1000:carol:/home/carol:/bin/sh"), std::string::npos);
  EXPECT_NE(passwd.find("dave:x:1001:"), std::string::npos);
  EXPECT_NE(slurp(x + "/etc/shadow").find("carol:$6$"), std::string::npos);
  EXPECT_EQ(slurp(x + "/etc/hostname"), "vm7\n");
  EXPECT_NE(slurp(x + "/etc/init.d/rcS").find(": > /run/utmp"), std::string::npos);
  EXPECT_NE(slurp(x + "/etc/os-release").find("PRETTY_NAME="), std::string::npos);
  EXPECT_NE(slurp(x + "/etc/init.d/rcS").find("/bin/busybox --install -s"), std::string::npos);
  ASSERT_GT(readlink((x + "/bin/sh").c_str(), target, sizeof target - 1), 0);
  // The image's / is searchable by the users (login cannot enter their homes otherwise).
  ASSERT_EQ(system(("/bin/busybox cpio -tv < " + d + "/initrd.cpio 2>/dev/null | grep -qE '^drwxr-xr-x .* [.]$'").c_str()), 0);
  // No telnetd unless asked for.
  EXPECT_EQ(inittab.find("telnetd"), std::string::npos);
  ASSERT_EQ(system((build + " --telnetd > /dev/null").c_str()), 0);
  ASSERT_EQ(system(("cd " + d + "/x && /bin/busybox cpio -i -u < ../initrd.cpio 2>/dev/null").c_str()), 0);
  EXPECT_NE(slurp(x + "/etc/inittab").find("::respawn:/usr/sbin/telnetd -F -b 127.0.0.1 -l /bin/login"),
            std::string::npos);
  EXPECT_NE(slurp(x + "/etc/init.d/rcS").find("ifconfig lo 127.0.0.1 up"), std::string::npos);
  // A bad user name is refused with an error, not written.
  EXPECT_NE(system((std::string(KVPC_SOURCE_DIR) + "/tools/build-initramfs.sh -o " + d + "/bad.cpio --agent " +
                    KVPC_BINARY_DIR + "/guest-agent/linux/kvpc-agent --user 'Eve Root:x' 2>/dev/null").c_str()),
            0);
  EXPECT_EQ(system(("rm -rf " + d).c_str()), 0);
}

}  // namespace
