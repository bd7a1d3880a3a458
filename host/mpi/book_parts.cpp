#include "mpi/book_parts.hpp"

#include <cstdio>
#include <stdexcept>

#include "cpu/risk_order.hpp"
#include "io/book_snapshot.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/book_slice.hpp"
#include "marginsync/errors.hpp"

namespace msync {

book_parts_from agree_book_parts_source(rank_group& ranks, const book_location& where) {
  std::vector<std::uint8_t> from(1);
  if (ranks.rank() == 0) {
    from[0] = static_cast<std::uint8_t>(is_book_snapshot(where.book) ? book_parts_from::snapshot
                                                                     : book_parts_from::first_rank);
    for (int to = 1; to < ranks.size(); ++to) ranks.send_vector(to, from);
  } else {
    from = ranks.receive_vector<std::uint8_t>(0);
    if (from.size() != 1 || from[0] > 1) throw std::logic_error("a bad book source from rank 0");
  }
  return static_cast<book_parts_from>(from[0]);
}

std::vector<std::uint32_t> accounts_of_rank(const book& whole, std::size_t scenarios, int part,
                                            int parts) {
  return cpu::accounts_of_part(
      cpu::accounts_in_risk_order(whole.account_exposure_begin, whole.exposure_underlying),
      scenarios, part, parts);
}

std::vector<std::uint32_t> accounts_of_rank_in_first(const book& whole, std::size_t first_accounts,
                                                     std::size_t scenarios, int part, int parts) {
  if (first_accounts > whole.accounts()) throw std::logic_error("more first accounts than a book");
  const column<std::uint64_t> first_begin(
      whole.account_exposure_begin.begin(),
      whole.account_exposure_begin.begin() + static_cast<std::ptrdiff_t>(first_accounts + 1));
  return cpu::accounts_of_part(cpu::accounts_in_risk_order(first_begin, whole.exposure_underlying),
                               scenarios, part, parts);
}

risk_share book_part::share(int rank, int ranks, std::size_t scenarios) const {
  if (rank == 0) return risk_share{0, 0, 0, ranks};  // the whole book, its first part
  return risk_share{book_accounts, share_of_accounts(book_accounts, scenarios, rank, ranks).begin,
                    rank, ranks};
}

void send_book_parts(rank_group& ranks, const book_inputs& whole, const book_texts& texts,
                     std::size_t scenarios) {
  const std::vector<std::uint32_t> order = cpu::accounts_in_risk_order(
      whole.positions.account_exposure_begin, whole.positions.exposure_underlying);
  for (int to = 1; to < ranks.size(); ++to) {
    const std::vector<std::uint32_t> accounts =
        cpu::accounts_of_part(order, scenarios, to, ranks.size());
    ranks.send_vector(to, std::vector<std::uint64_t>{whole.positions.accounts(), scenarios});
    ranks.send_vector(to, accounts);
    std::string bytes;  // none for a part without accounts (fewer chunks than ranks)
    if (!accounts.empty()) {
      const book_inputs part{whole.market, whole.risk, slice_accounts(whole.positions, accounts)};
      bytes = book_snapshot_bytes(part, texts.market, texts.risk, texts.marks);
    }
    ranks.send_vector(to, std::vector<char>(bytes.begin(), bytes.end()));
  }
}

std::string receive_book_part(rank_group& ranks, book_part& part, std::size_t& scenarios) {
  const std::vector<std::uint64_t> counts = ranks.receive_vector<std::uint64_t>(0);
  if (counts.size() != 2) throw std::logic_error("bad counts from rank 0");
  part.book_accounts = static_cast<std::size_t>(counts[0]);
  scenarios = static_cast<std::size_t>(counts[1]);
  part.whole_index = ranks.receive_vector<std::uint32_t>(0);
  const std::vector<char> bytes = ranks.receive_vector<char>(0);
  return std::string(bytes.begin(), bytes.end());
}

rank_book load_book_on_ranks(rank_group& ranks, const rank_stage& stage,
                             const rank_book_request& request, std::vector<stage_time>& stages,
                             const std::function<void(const std::string&)>& log) {
  rank_book held;
  const int r = ranks.rank(), k = ranks.size();
  const book_parts_from source_of_parts = agree_book_parts_source(ranks, request.where);
  book_part& part = held.part;
  std::size_t& scenarios = held.scenarios;
  book_texts texts;  // rank 0, a book directory: what its parts carry besides the accounts
  const auto& prepare = request.prepare;
  stage([&] {
    if (r == 0) {
      held.inputs = timed_stage(stages, "load", [&] { return load_book_at(request.where); });
      part.book_accounts = held.inputs.positions.accounts();
      scenarios = prepare(held.inputs);
      if (source_of_parts == book_parts_from::first_rank && k > 1)
        texts = read_book_texts(request.where.directory_paths());
    } else if (source_of_parts == book_parts_from::snapshot) {
      held.inputs = timed_stage(stages, "load", [&] {
        return load_book_at(request.where, [&](const book_inputs& whole) {
          book_inputs settings{whole.market, whole.risk, {}};
          scenarios = prepare(settings);
          part.book_accounts = whole.positions.accounts();
          part.whole_index = accounts_of_rank(whole.positions, scenarios, r, k);
          return part.whole_index;
        });
      });
      prepare(held.inputs);
    }
  });
  // Then rank 0 sends, for a book directory, each rank its part (with the whole book's account
  // count and N); for a snapshot, which each rank read itself, the whole book's account count and
  // N, for each rank to check that it cut its part from the same book at the same N.
  std::string bytes;
  std::vector<std::uint64_t> first_counts;  // a rank but 0, a snapshot: rank 0's A and N
  run_or_abort_job(ranks, request.program.c_str(), "while the book was sent", [&] {
    if (source_of_parts == book_parts_from::first_rank) {
      if (r == 0)
        timed_stage(stages, "send_parts", [&] {
          send_book_parts(ranks, held.inputs, texts, scenarios);
          return 0;
        });
      else
        bytes =
            timed_stage(stages, "load", [&] { return receive_book_part(ranks, part, scenarios); });
    } else if (r == 0) {
      for (int to = 1; to < k; ++to)
        ranks.send_vector(to, std::vector<std::uint64_t>{part.book_accounts, scenarios});
    } else {
      first_counts = ranks.receive_vector<std::uint64_t>(0);
      if (first_counts.size() != 2) throw std::logic_error("bad counts from rank 0");
    }
  });
  // A stage of its own, agreed as loading is: a rank reads the part rank 0 sent it, or checks the
  // part it read.
  const auto not_rank_0s = [&](const std::string& name, const std::string& what) {
    return input_error(
        {input_problem{name, 0, "", what + ": every rank must read the same inputs"}});
  };
  stage([&] {
    if (r == 0) return;
    if (source_of_parts == book_parts_from::snapshot) {
      if (first_counts[0] != part.book_accounts)
        throw not_rank_0s(request.where.book.string(),
                          "holds " + std::to_string(part.book_accounts) + " accounts, rank 0's " +
                              std::to_string(first_counts[0]));
      if (first_counts[1] != scenarios)
        throw not_rank_0s(
            request.scenarios_source,
            std::to_string(scenarios) + " scenarios, rank 0's " + std::to_string(first_counts[1]));
      return;
    }
    if (part.whole_index.empty()) return;
    held.inputs = read_book_snapshot_bytes(
        bytes, request.where.book.string() + " (rank " + std::to_string(r) + "'s part)");
    if (request.where.depth) {
      problem_list problems;
      load_depth_file(*request.where.depth, held.inputs.market, held.inputs.risk, problems);
      problems.throw_if_any();
    }
    if (const std::size_t own = prepare(held.inputs); own != scenarios)
      throw not_rank_0s(request.scenarios_source,
                        std::to_string(own) + " scenarios, rank 0's " + std::to_string(scenarios));
  });
  // A rank whose part has no accounts (fewer chunks than ranks) computes nothing; it still passes
  // the bad-debt sum on and sends its (empty) part.
  held.idle = r > 0 && part.whole_index.empty();
  const bool idle = held.idle;
  // Rank 0's notes go out without a rank prefix, the others' with one (`rank R: ...`).
  const std::string positions =
      " (" + std::to_string(idle ? 0 : held.inputs.positions.positions()) + " positions)";
  log(r == 0 ? "rank 0 of " + std::to_string(k) + " holds the whole book" + positions
             : "holds " + std::to_string(part.whole_index.size()) + " of the book's " +
                   std::to_string(part.book_accounts) + " accounts" + positions);
  return held;
}

}  // namespace msync
