// marginsync cascade: a price shock and the liquidation cascade it sets off (host/cascade.hpp),
// once (--shock) or for every point of a grid of shocks (--shock-grid).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cascade/cascade.hpp"
#include "cli_common.hpp"
#include "io/number_parse.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/stopwatch.hpp"
#include "mpi/cascade_ranks.hpp"
#include "mpi/margin_ranks.hpp"

namespace msync::cli {

namespace {

// "BTC=-0.15,ETH=-0.2": the entries, or an error message. A symbol given twice is an error: which
// of its values was meant cannot be guessed (keeping the last would drop the other silently).
std::string split_entries(const std::string& text,
                          std::vector<std::pair<std::string, std::string>>& out) {
  std::stringstream in(text);
  for (std::string entry; std::getline(in, entry, ',');) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      return "expected SYMBOL=VALUE, got " + quote_input(entry);
    std::string symbol = entry.substr(0, eq);
    for (const auto& [seen, value] : out)
      if (seen == symbol) return "underlying " + quote_input(symbol) + " is given twice";
    out.emplace_back(std::move(symbol), entry.substr(eq + 1));
  }
  if (out.empty()) return "no shocks given";
  return "";
}

std::string underlying_index(const market_state& m, const std::string& symbol, std::size_t& u) {
  u = m.index_of(symbol);
  return u < m.size() ? "" : "unknown underlying " + quote_input(symbol);
}

std::string parse_shock_value(const std::string& text, double& x) {
  if (std::string why = parse_number(text, x); !why.empty()) return why;
  if (!(x > -1.0 && x <= 10.0)) return "a shock must be within (-1, 10], got " + excerpt(text);
  return "";
}

// --shock: one vector of relative moves per underlying.
std::string parse_shock(const std::string& text, const market_state& m,
                        std::vector<double>& shock) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (std::string why = split_entries(text, entries); !why.empty()) return why;
  shock.assign(m.size(), 0.0);
  for (const auto& [symbol, value] : entries) {
    std::size_t u = 0;
    if (std::string why = underlying_index(m, symbol, u); !why.empty()) return why;
    if (std::string why = parse_shock_value(value, shock[u]); !why.empty())
      return symbol + ": " + why;
  }
  return "";
}

// --shock-grid BTC=-0.05:-0.40:0.05[,ETH=...]: every underlying's grid from its start to its end
// in steps of |step|, taken together point by point (the grids must have the same length).
std::string parse_grid(const std::string& text, const market_state& m,
                       std::vector<std::vector<double>>& points) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (std::string why = split_entries(text, entries); !why.empty()) return why;
  points.clear();
  for (const auto& [symbol, range] : entries) {
    std::size_t u = 0;
    if (std::string why = underlying_index(m, symbol, u); !why.empty()) return why;
    std::stringstream in(range);
    std::string a, b, c;
    if (!std::getline(in, a, ':') || !std::getline(in, b, ':') || !std::getline(in, c))
      return symbol + ": expected START:END:STEP, got " + quote_input(range);
    double start = 0.0, end = 0.0, step = 0.0;
    if (std::string why = parse_shock_value(a, start); !why.empty()) return symbol + ": " + why;
    if (std::string why = parse_shock_value(b, end); !why.empty()) return symbol + ": " + why;
    if (std::string why = parse_number(c, step); !why.empty() || !(std::fabs(step) > 0.0))
      return symbol + ": the step must be a number other than 0, got " + quote_input(c);
    // The count by rounding, so -0.05:-0.40:0.05 has its 8 points despite binary fractions.
    const double span = std::fabs(end - start) / std::fabs(step);
    const std::size_t count = static_cast<std::size_t>(std::floor(span + 1e-9)) + 1;
    if (count > 100000) return symbol + ": more than 100,000 grid points";
    if (points.empty()) points.assign(count, std::vector<double>(m.size(), 0.0));
    if (points.size() != count)
      return "every underlying's grid must have the same number of points";
    const double direction = end >= start ? 1.0 : -1.0;
    // Each point rounded to 12 decimals, so -0.05 + 2 * -0.05 is written as -0.15.
    for (std::size_t i = 0; i < count; ++i)
      points[i][u] =
          std::round((start + direction * std::fabs(step) * static_cast<double>(i)) * 1e12) / 1e12;
  }
  return "";
}

std::string rounds_csv(const cascade_result& r, const market_state& m) {
  std::string out = "round";
  for (const std::string& s : m.symbols) out += ",spot_" + s;
  for (const std::string& s : m.symbols) out += ",fill_" + s;
  out += ",accounts,notional,penalties,bad_debt,uncovered_bad_debt,insurance_fund\n";
  for (const cascade_round& round : r.rounds) {
    out += std::to_string(round.round);
    append_fields(out, round.spot);
    append_fields(out, round.fill);
    out += ',' + std::to_string(round.accounts);
    append_fields(out,
                  {round.notional, round.penalties, round.bad_debt, round.uncovered, round.fund});
    out += '\n';
  }
  return out;
}

std::string liquidations_csv(const cascade_result& r, const book& b) {
  std::string out =
      "round,account_id,equity,own_funds,maintenance_margin,gross_notional,execution_cost,penalty,"
      "bad_debt\n";
  for (const liquidation_record& l : r.liquidations) {
    out += std::to_string(l.round) + ',';
    append_id(out, b.account_id[l.account]);
    append_fields(out, {l.equity, l.own_funds, l.maintenance_margin, l.gross_notional,
                        l.execution_cost, l.penalty, l.bad_debt});
    out += '\n';
  }
  return out;
}

struct cascade_totals {
  std::int64_t accounts = 0;
  double notional = 0.0, penalties = 0.0, bad_debt = 0.0, uncovered = 0.0;
};

cascade_totals totals_of(const cascade_result& r) {
  cascade_totals t;
  for (const cascade_round& round : r.rounds) {
    t.accounts += round.accounts;
    t.notional += round.notional;
    t.penalties += round.penalties;
    t.bad_debt += round.bad_debt;
    t.uncovered += round.uncovered;
  }
  return t;
}

nlohmann::json prices_json(const std::vector<double>& spot, const market_state& m) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t u = 0; u < m.size(); ++u) j[m.symbols[u]] = spot[u];
  return j;
}

struct cascade_cli_options {
  book_options book;
  std::string shock, shock_grid;
  CLI::Option *shock_opt = nullptr, *grid_opt = nullptr;
  int max_rounds = 100;
  risk_options risk;
  run_options run;
};

int run_cascade_command(const cascade_cli_options& o, const run_context& context) {
  if ((o.shock_opt->count() > 0) == (o.grid_opt->count() > 0))
    throw usage_error("give one of --shock and --shock-grid");
  // Under mpirun (docs/design.md 16.4): rank 0 holds the whole book and runs the rounds, every
  // other rank its part of the book, whose margins it computes each round; rank 0 alone claims
  // --out, writes and prints.
  rank_group* ranks = context.ranks && context.ranks->size() > 1 ? context.ranks : nullptr;
  const bool lead = !ranks || ranks->rank() == 0;
  const bool quiet = o.run.quiet || !lead;
  std::optional<output_directory> out_dir;
  book_inputs in;
  std::vector<std::vector<double>> shocks;
  const bool single = o.shock_opt->count() > 0;
  impact_params impact;
  backend_selection selection;
  progress_reporter progress(!quiet);
  std::string point_label = "cascade";
  double load_seconds = 0.0;
  rank_book held;  // across ranks: this rank's book (rank 0's is the whole book, as `in`)
  std::vector<std::uint16_t> owner;  // across ranks, on rank 0: the rank holding each account
  std::vector<stage_time> load_stages;
  const auto load = [&] {
    if (!ranks) {
      in = load_book_from(o.book, o.risk);
      return;
    }
    const auto log = rank_note(*ranks, o.run, nullptr);
    const risk_overrides overrides = risk_overrides_from(o.risk);
    held = load_book_on_ranks(
        *ranks,
        [&](const std::function<void()>& work) {
          on_every_rank(*ranks, "marginsync cascade", work);
        },
        {book_location_from(o.book),
         [&](book_inputs& b) {
           apply_risk_overrides(overrides, b.market.size(), b.risk);
           return static_cast<std::size_t>(b.risk.scenarios);
         },
         "--scenarios", "marginsync cascade"},
        load_stages, log);
    if (lead) in = std::move(held.inputs);
  };
  const auto prepare = [&] {
    if (ranks && !lead) {
      // The shocks, the impact and the rounds are rank 0's; this rank holds its part.
      if (held.idle) return;
      selection = select_backend(
          backend_choice::cpu,
          o.run.threads > 0 ? o.run.threads : cpu_threads_per_rank(ranks->local_size()), 0);
      if (!selection.instance->set_risk_share(
              held.part.share(ranks->rank(), ranks->size(), held.scenarios)))
        throw backend_unavailable("backend " + selection.instance->name() +
                                  " cannot split its scenario risk");
      selection.instance->load_book(held.inputs.positions, held.inputs.risk);
      return;
    }
    const market_state& m = in.market;
    const std::string spec = single ? o.shock : o.shock_grid;
    std::string why;
    if (single) {
      shocks.emplace_back();
      why = parse_shock(spec, m, shocks.back());
    } else {
      why = parse_grid(spec, m, shocks);
    }
    if (!why.empty())
      throw usage_error(std::string("--") + (single ? "shock" : "shock-grid") + ": " + why);
    // Y and V per underlying: risk.json's, with --depth applied at load.
    const liquidity_table liquidity = make_liquidity_table(m.size(), in.risk);
    impact = impact_params{liquidity.coefficient, liquidity.daily_volume};
    // Across ranks, the CPU backend with this rank's share of the cores and of the book's
    // bad-debt chunks (docs/design.md 16.2).
    selection =
        ranks
            ? select_backend(
                  backend_choice::cpu,
                  o.run.threads > 0 ? o.run.threads : cpu_threads_per_rank(ranks->local_size()), 0)
            : select_backend(o.run.choice(), o.run.threads, o.run.max_device_bytes());
    if (ranks && !selection.instance->set_risk_share(
                     held.part.share(ranks->rank(), ranks->size(), held.scenarios)))
      throw backend_unavailable("backend " + selection.instance->name() +
                                " cannot split its scenario risk");
    note(o.run, &progress, selection.note);
    // The backend's stages, under the grid point they belong to.
    if (progress.enabled())
      selection.instance->set_progress([&](const char* stage, double fraction) {
        progress.update(point_label + ": " + stage, fraction);
      });
    const stopwatch load_start;
    selection.instance->load_book(in.positions, in.risk);  // once: the grid's points share it
    load_seconds = load_start.seconds();
    // In the agreed stage: from here on the other ranks wait for rank 0's rounds.
    if (ranks) owner = account_owners(*ranks, in.positions, held.scenarios);
  };
  if (ranks) {
    on_every_rank(*ranks, "marginsync cascade", [&] {
      if (lead)
        out_dir = claim_output_directory(o.run, "cascade", context, book_inputs_named(o.book));
    });
    load();
    on_every_rank(*ranks, "marginsync cascade", [&] {
      if (o.run.choice() == backend_choice::cuda)
        throw backend_unavailable(
            "the CUDA backend cannot yet split its scenario risk between ranks: --backend cpu");
      prepare();
    });
  } else {
    out_dir = claim_output_directory(o.run, "cascade", context, book_inputs_named(o.book));
    load();
    prepare();
  }
  if (ranks && !lead) {
    // Rounds exchange data between ranks: a rank that fails now ends the whole job, since rank 0
    // may be waiting for its part (docs/design.md 16.3).
    run_or_end_job(*ranks, "marginsync cascade", [&] {
      follow_cascades(*ranks, held, held.idle ? nullptr : selection.instance.get());
    });
    return exit_ok;
  }
  const market_state& m = in.market;
  nlohmann::json summary;
  summary["marginsync_version"] = MSYNC_VERSION;
  summary["backend"] = selection.instance->name();
  summary["method"] = method_name(in.risk.method);
  summary["scenarios"] = in.risk.scenarios;
  summary["liquidation_penalty"] = in.risk.liquidation_penalty;
  summary["insurance_fund_start"] = in.risk.insurance_fund;
  std::string grid = "point";
  for (const std::string& s : m.symbols) grid += ",shock_" + s;
  for (const std::string& s : m.symbols) grid += ",final_" + s;
  grid += ",rounds,accounts,notional,penalties,bad_debt,uncovered_bad_debt,insurance_fund\n";
  if (o.run.verbose)
    note(o.run, &progress, "book resident in " + std::to_string(load_seconds) + " s");
  // Across ranks, each round's margins put together on rank 0, and the other ranks told each
  // round's prices and close-outs (host/mpi/cascade_ranks.hpp).
  risk_result merged_margins;
  const round_margins margins_of_round =
      ranks ? margins_from_ranks(*ranks, merged_margins) : round_margins{};
  const round_events events = ranks ? events_to_ranks(*ranks, owner) : round_events{};
  double total_seconds = 0.0;
  std::int64_t total_rounds = 0;
  std::int64_t points_in_error = 0;  // grid points where some round had accounts in error
  for (std::size_t point = 0; point < shocks.size(); ++point) {
    const stopwatch start;
    point_label =
        "cascade, shock " + std::to_string(point + 1) + "/" + std::to_string(shocks.size());
    progress.update(point_label, static_cast<double>(point) / static_cast<double>(shocks.size()));
    const cascade_options options{shocks[point], o.max_rounds};
    cascade_result r;
    if (!ranks) {
      r = run_cascade(in, *selection.instance, impact, options);
    } else {
      // Rounds exchange data between ranks: a rank that fails now ends the whole job, since the
      // others may be waiting for its part (docs/design.md 16.3).
      run_or_end_job(*ranks, "marginsync cascade", [&] {
        r = run_cascade(in, *selection.instance, impact, options, margins_of_round, events);
        if (point + 1 == shocks.size()) end_cascades_on_ranks(*ranks);
      });
    }
    const double seconds = start.seconds();
    total_seconds += seconds;
    total_rounds += static_cast<std::int64_t>(r.rounds.size());
    const cascade_totals t = totals_of(r);
    if (r.accounts_in_error > 0 && lead) {  // said even with -q: they were not closed out
      std::fprintf(stderr,
                   "marginsync cascade: shock %zu/%zu: %lld accounts in status error (numbers not "
                   "finite) in a round: never closed out, the cascade's totals leave them out\n",
                   point + 1, shocks.size(), static_cast<long long>(r.accounts_in_error));
      points_in_error += 1;
    }
    const double fund_end = r.rounds.empty() ? r.fund_start : r.rounds.back().fund;
    grid += std::to_string(point + 1);
    append_fields(grid, shocks[point]);
    append_fields(grid, r.final_spot);
    grid += ',' + std::to_string(r.rounds.size()) + ',' + std::to_string(t.accounts);
    append_fields(grid, {t.notional, t.penalties, t.bad_debt, t.uncovered, fund_end});
    grid += '\n';
    if (o.run.verbose) {
      for (const cascade_round& round : r.rounds)
        note(o.run, &progress,
             point_label + ", round " + std::to_string(round.round) + ": " +
                 std::to_string(round.not_ok) + " accounts not ok, " +
                 std::to_string(round.accounts) + " closed out");
      note(o.run, &progress, point_label + ": " + std::to_string(seconds) + " s");
    }
    if (!quiet && progress.enabled()) progress.done();
    if (!quiet)
      std::printf(
          "shock %zu/%zu: %zu rounds, %lld accounts liquidated, notional %.2f, bad debt %.2f "
          "(uncovered "
          "%.2f), insurance fund %.2f%s\n",
          point + 1, shocks.size(), r.rounds.size(), static_cast<long long>(t.accounts), t.notional,
          t.bad_debt, t.uncovered, fund_end, r.round_limit_reached ? " (round limit reached)" : "");
    if (shocks.size() == 1) {
      summary["shock"] = prices_json(shocks[0], m);
      summary["rounds"] = r.rounds.size();
      summary["round_limit_reached"] = r.round_limit_reached;
      summary["accounts_in_error"] = r.accounts_in_error;
      summary["totals"] = {{"accounts", t.accounts},
                           {"notional", t.notional},
                           {"penalties", t.penalties},
                           {"bad_debt", t.bad_debt},
                           {"uncovered_bad_debt", t.uncovered}};
      summary["insurance_fund_end"] = fund_end;
      summary["final_prices"] = prices_json(r.final_spot, m);
      if (out_dir) {
        out_dir->write("rounds.csv", rounds_csv(r, m));
        out_dir->write("liquidations.csv", liquidations_csv(r, in.positions));
      }
    }
  }
  summary["grid_points"] = shocks.size();
  summary["grid_points_with_accounts_in_error"] = points_in_error;
  summary["load_seconds"] = load_seconds;
  summary["wall_seconds"] = total_seconds;
  summary["seconds_per_round"] =
      total_rounds ? total_seconds / static_cast<double>(total_rounds) : 0.0;
  summary["seconds_per_grid_point"] = total_seconds / static_cast<double>(shocks.size());
  progress.done();
  selection.instance->set_progress({});
  if (out_dir) {
    if (shocks.size() > 1 || !single) out_dir->write("grid.csv", grid);
    run_provenance provenance = context.provenance(o.book.book);
    describe_risk(provenance, in.risk);
    provenance.ranks = ranks ? ranks->size() : 1;
    out_dir->write("summary.json", summary_document(provenance, summary));
    out_dir->finish();
    if (!quiet) std::printf("results in %s\n", o.run.out.c_str());
  }
  // As margin (docs/design.md 5.1): numbers that are not finite fail the run, outputs written.
  return points_in_error > 0 ? exit_failure : exit_ok;
}

}  // namespace

command cascade_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<cascade_cli_options>();
  CLI::App* app = top.add_subcommand(
      "cascade",
      "Apply a price shock, then liquidate every account in `liquidate` at the average price "
      "along the square-root impact of the round's net notional (a penalty from own funds to the "
      "insurance fund, negative own funds as bad debt drawn from it), move each price by that "
      "impact, re-margin the whole book, and repeat until a round liquidates nobody. "
      "--shock-grid runs the cascade for every shock of a grid.");
  add_book_options(*app, o->book);
  add_depth_option(*app, o->book);
  const char* group = "Cascade";
  o->shock_opt = app->add_option("--shock", o->shock, "relative price moves, SYMBOL=X[,SYMBOL=Y]")
                     ->type_name("SPEC")
                     ->group(group);
  o->grid_opt =
      app->add_option(
             "--shock-grid", o->shock_grid,
             "a grid of shocks, SYMBOL=START:END:STEP[,...] (grids taken together point by point)")
          ->type_name("SPEC")
          ->group(group);
  o->shock_opt->excludes(o->grid_opt);
  app->add_option("--max-rounds", o->max_rounds, "stop after this many rounds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N")
      ->group(group);
  add_risk_options(*app, o->risk);
  add_backend_option(*app, o->run, backend_use::computes);
  add_threads_options(*app, o->run);
  add_verbosity_options(*app, o->run);
  add_out_directory_option(
      *app, o->run,
      "directory for rounds.csv, liquidations.csv and summary.json (grid.csv with --shock-grid)");
  app->footer(help_footer(
      "marginsync cascade --book data/sample --shock BTC=-0.15,ETH=-0.2 --out results/cascade",
      units_note));
  return {app, [o, &context] {
            reject_renamed_options(o->book);
            return run_cascade_command(*o, context);
          }};
}

}  // namespace msync::cli
