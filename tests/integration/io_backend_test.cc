// The I/O backend as a user sees it (issue 14): where io_uring cannot be set up (a container
// whose seccomp profile blocks it), the server says so in one log line and serves on epoll.
#include <cstdlib>
#include <string>

#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

bool AgainstAnotherServer() {
  const char* other = getenv("OMNIBUS_TEST_SERVER");
  return other != nullptr && *other != '\0';
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(IoBackendFallbackTest, WithoutIoUringTheServerSaysSoOnceAndServesOnEpoll) {
  if (AgainstAnotherServer()) GTEST_SKIP() << "io-backend is ours";
  ServerProcess::Options options;
  options.block_io_uring = true;
  ServerProcess server({"--io-backend", "uring"}, options);
  ASSERT_TRUE(server.ok()) << server.error();
  auto c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"SET", "k", "v"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", "k"}), IsBulk("v"));
  Reply info = Command(c, {"INFO", "server"});
  ASSERT_TRUE(StringOf(info.get()));
  EXPECT_NE(StringOf(info.get())->find("multiplexing_api:epoll\r\n"), std::string::npos);
  std::string log = server.Log();
  EXPECT_EQ(Count(log, "io-backend uring is not available"), 1u) << log;
  EXPECT_NE(log.find("io-backend uring is not available (io_uring_setup failed: Operation not "
                     "permitted): using epoll instead"),
            std::string::npos)
      << log;
}

TEST(IoBackendFallbackTest, TheBackendAskedForIsTheOneServing) {
  if (AgainstAnotherServer()) GTEST_SKIP() << "io-backend is ours";
  for (const char* backend : {"epoll", "uring"}) {
    ServerProcess server({"--io-backend", backend});
    ASSERT_TRUE(server.ok()) << server.error();
    auto c = server.Connect();
    ASSERT_TRUE(c);
    Reply info = Command(c, {"INFO", "server"});
    ASSERT_TRUE(StringOf(info.get()));
    EXPECT_NE(StringOf(info.get())->find(std::string("multiplexing_api:") + backend + "\r\n"),
              std::string::npos);
    EXPECT_THAT(Command(c, {"CONFIG", "GET", "io-backend"}),
                IsArray(::testing::ElementsAre("io-backend", backend)));
  }
}

}  // namespace
}  // namespace omnibus::testing
