// CommandTable::Find: case-insensitive, and its per-thread memo of the last answer never
// outlives a rename or answers for another table.

#include "omnibus/commands/command_table.h"

#include <gtest/gtest.h>

#include <memory>

namespace omnibus {
namespace {

TEST(CommandTableTest, FindIgnoresCaseAndRepeats) {
  CommandTable table;
  const CommandSpec* get = table.Find("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "get");
  EXPECT_EQ(table.Find("GET"), get);
  EXPECT_EQ(table.Find("gEt"), get);
  EXPECT_EQ(table.Find("set")->name, "set");
  EXPECT_EQ(table.Find("get"), get);
  EXPECT_EQ(table.Find("ge"), nullptr);
  EXPECT_EQ(table.Find("gett"), nullptr);
  EXPECT_EQ(table.Find(""), nullptr);
  EXPECT_EQ(table.Find(std::string(65, 'g')), nullptr);
}

TEST(CommandTableTest, RenameIsSeenByTheNextFind) {
  CommandTable table;
  ASSERT_NE(table.Find("get"), nullptr);  // now the thread's last answer
  ASSERT_TRUE(table.Rename("get", "fetch"));
  EXPECT_EQ(table.Find("get"), nullptr);
  ASSERT_NE(table.Find("fetch"), nullptr);
  EXPECT_EQ(table.Find("fetch")->name, "get");
  ASSERT_TRUE(table.Rename("fetch", ""));  // removed
  EXPECT_EQ(table.Find("fetch"), nullptr);
}

TEST(CommandTableTest, EachTableAnswersForItself) {
  auto a = std::make_unique<CommandTable>();
  ASSERT_NE(a->Find("incr"), nullptr);
  CommandTable b;
  ASSERT_TRUE(b.Rename("incr", ""));
  EXPECT_EQ(b.Find("incr"), nullptr);
  EXPECT_NE(a->Find("incr"), nullptr);
  ASSERT_NE(a->Find("decr"), nullptr);  // a's answer is now the thread's last
  a.reset();
  // A table made where the old one was must not get its answers.
  auto c = std::make_unique<CommandTable>();
  ASSERT_TRUE(c->Rename("decr", ""));
  EXPECT_EQ(c->Find("decr"), nullptr);
}

}  // namespace
}  // namespace omnibus
