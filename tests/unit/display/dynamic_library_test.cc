#include "display/dynamic_library.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace kvpc {
namespace {

TEST(DynamicLibrary, AMissingLibraryIsAnErrorThatNamesIt) {
  auto library = DynamicLibrary::open("libkvpc-no-such-library.so.7");
  ASSERT_FALSE(library.ok());
  EXPECT_NE(library.error().message.find("cannot load libkvpc-no-such-library.so.7: "), std::string::npos)
      << library.error().message;
}

TEST(DynamicLibrary, ResolvesFunctionsThatWorkAndNamesTheFirstMissingOne) {
  auto library = DynamicLibrary::open("libc.so.6");
  ASSERT_TRUE(library.ok()) << library.error().message;
  std::string error;
  pid_t (*get_pid)() = nullptr;
  ASSERT_TRUE(library->resolve("getpid", get_pid, error));
  EXPECT_EQ(get_pid(), getpid());
  EXPECT_TRUE(error.empty());

  void (*missing)() = nullptr;
  EXPECT_FALSE(library->resolve("kvpc_no_such_function", missing, error));
  EXPECT_FALSE(library->resolve("kvpc_another_missing_one", missing, error));
  EXPECT_EQ(missing, nullptr);
  EXPECT_EQ(error, "libc.so.6 has no kvpc_no_such_function");
}

}  // namespace
}  // namespace kvpc
