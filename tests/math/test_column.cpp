// A book column: a view of someone else's memory reads in place, writes in place, and becomes owned
// storage (leaving the viewed memory as it was) on every call that changes its size; a copy owns
// its elements.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "marginsync/column.hpp"

namespace msync {
namespace {

// A "mapping": a vector kept alive by the shared pointer a view holds.
struct viewed {
  std::shared_ptr<std::vector<double>> memory =
      std::make_shared<std::vector<double>>(std::vector<double>{1, 2, 3, 4});
  column<double> view() const { return column<double>::view(memory->data(), 4, memory); }
};

TEST(column, owned_behaves_as_a_vector) {
  column<double> c{1, 2};
  c.push_back(3);
  c.insert(c.begin() + 1, 9);
  EXPECT_EQ(c, (column<double>{1, 9, 2, 3}));
  EXPECT_FALSE(c.is_view());
  c.resize(2);
  c.assign(c.begin(), c.end());  // its own range
  EXPECT_EQ(c, (std::vector<double>{1, 9}));
  c.clear();
  EXPECT_TRUE(c.empty());
}

TEST(column, a_view_reads_and_writes_in_place) {
  const viewed m;
  column<double> c = m.view();
  EXPECT_TRUE(c.is_view());
  EXPECT_EQ(c.data(), m.memory->data());
  EXPECT_EQ(c.back(), 4.0);
  c[1] = 20;
  EXPECT_EQ((*m.memory)[1], 20.0);
  const column<double> moved = std::move(c);
  EXPECT_TRUE(moved.is_view());
  EXPECT_EQ(moved.data(), m.memory->data());
}

TEST(column, size_changes_and_copies_own_their_elements) {
  const viewed m;
  for (int change = 0; change < 6; ++change) {
    column<double> c = m.view();
    switch (change) {
      case 0:
        c.push_back(c.back());
        break;
      case 1:
        c.insert(c.begin(), 0.0);
        break;
      case 2:
        c.resize(5);
        break;
      case 3:
        c.reserve(100);
        break;
      case 4:
        c = column<double>(c);
        break;
      case 5:
        c.assign(c.begin(), c.begin() + 2);
        break;
    }
    EXPECT_FALSE(c.is_view()) << change;
    EXPECT_NE(c.data(), m.memory->data()) << change;
    c[0] = -1;
    EXPECT_EQ(*m.memory, (std::vector<double>{1, 2, 3, 4})) << change;
  }
  column<double> c = m.view();
  c.push_back(c.back());  // the argument read from the view stays valid while it is copied
  EXPECT_EQ(c, (column<double>{1, 2, 3, 4, 4}));
  // The view kept the memory alive on its own.
  column<double> alone = viewed().view();
  EXPECT_EQ(alone, (column<double>{1, 2, 3, 4}));
}

// A loader sizes a column without zeroing it and writes every element: the elements already there
// (a view's, copied into owned storage) are kept, and the plain resize still fills.
TEST(column, resize_for_overwrite_keeps_what_is_there_and_resize_still_fills) {
  const viewed m;
  column<double> c = m.view();
  c.resize_for_overwrite(6);
  EXPECT_FALSE(c.is_view());
  ASSERT_EQ(c.size(), 6u);
  EXPECT_EQ(c[0], 1.0);
  EXPECT_EQ(c[3], 4.0);
  c[4] = 5;
  c[5] = 6;
  EXPECT_EQ(c, (column<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ((*m.memory)[3], 4.0);  // the mapping is untouched
  c.resize(8);
  EXPECT_EQ(c[6], 0.0);
  EXPECT_EQ(c[7], 0.0);
  column<double> filled(3, 7.5);
  filled.resize(5, 1.5);
  EXPECT_EQ(filled, (column<double>{7.5, 7.5, 7.5, 1.5, 1.5}));
}

}  // namespace
}  // namespace msync
