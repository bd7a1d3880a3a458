// string_column (include/marginsync/string_column.hpp): ids in one column of characters and one of
// offsets, read as string_views, owned or a view of a mapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "marginsync/string_column.hpp"

namespace msync {
namespace {

TEST(string_column, holds_ids_as_views_of_one_character_block) {
  string_column ids = {"a1", "", "long-account-id-past-the-small-string-buffer"};
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], "a1");
  EXPECT_EQ(ids[1], "");
  EXPECT_EQ(ids[2], "long-account-id-past-the-small-string-buffer");
  EXPECT_EQ(ids.characters(), 2u + 44u);
  EXPECT_EQ(ids[1].data(), ids[0].data() + 2);  // one block, in order
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "") - ids.begin(), 1);
  EXPECT_EQ(string_column(std::vector<std::string>{"a1", "", std::string(ids[2])}), ids);
  EXPECT_NE(string_column({"a1"}), ids);
  EXPECT_TRUE(string_column().empty());
}

TEST(string_column, appending_its_own_id_and_replacing_one) {
  string_column ids = {"x", "yy"};
  for (int k = 0; k < 100; ++k) ids.push_back(ids[1]);  // its own characters, while growing
  EXPECT_EQ(ids.size(), 102u);
  EXPECT_EQ(ids.back(), "yy");
  ids.set(0, ids[1]);
  EXPECT_EQ(ids[0], "yy");
  ids.set(1, "");
  EXPECT_EQ(ids[1], "");
  EXPECT_EQ(ids[2], "yy");
  EXPECT_EQ(ids.size(), 102u);
}

TEST(string_column, a_view_reads_the_mapping_and_becomes_owned_to_grow) {
  // The snapshot's string table: offsets (count + 1), then the characters.
  auto table = std::make_shared<std::vector<std::uint64_t>>(std::vector<std::uint64_t>{0, 3, 5});
  auto chars = std::make_shared<std::string>("abcde");
  std::shared_ptr<const void> keeper = std::make_shared<int>(0);
  string_column ids = string_column::view(table->data(), chars->data(), 2, keeper);
  ASSERT_TRUE(ids.is_view());
  EXPECT_EQ(ids[0], "abc");
  EXPECT_EQ(ids[1], "de");
  EXPECT_EQ(ids[1].data(), chars->data() + 3);  // in place
  string_column copy = ids;
  EXPECT_FALSE(copy.is_view());
  ids.push_back("f");
  EXPECT_FALSE(ids.is_view());
  EXPECT_EQ(*chars, "abcde");  // the mapping is never written
  EXPECT_EQ(ids, (string_column{"abc", "de", "f"}));
  EXPECT_EQ(copy, (string_column{"abc", "de"}));
}

}  // namespace
}  // namespace msync
