// The accounts [a_begin, a_end) of a revaluation pass (revalue_pass.cpp), included once per
// instruction set there: with AVX-512's 32 registers the position loop's ten sums and its
// per-exposure constants stay in registers instead of going through the stack on every position.
// The arithmetic is scalar and the same in every version (no contraction into FMA, no
// reassociation): every version gives the same bits. No include guard: included on purpose.

// A position's terms as one vector (position_terms is one aligned line of eight doubles).
inline double8 terms_vector(const position_terms& k) {
  double8 line;
  std::memcpy(&line, &k, sizeof line);
  return line;
}

// account_revaluation.hpp's revalue_account over the view's position table (which the CPU backend
// always sets), with a position's six greek products and their six sums as one vector of eight
// lanes: the line of its instrument (position_terms) times q, lane by lane. Each lane is the
// scalar product and sum of revalue_account, in the same order (lanes 0 and 7, q value and q m,
// are summed and never read): the same bits. The rest of a position is add_position's.
inline account_totals revalue_account_table(const account_revaluation_view& v,
                                            std::uint64_t x_begin, std::uint64_t x_end,
                                            double collateral, double credit_limit,
                                            double& change) {
  static_assert(sizeof(position_terms) == sizeof(double8), "a position's terms are one vector");
  account_sums sums{collateral, 0.0, 0.0, change};
  double addon = 0.0;
  for (std::uint64_t x = x_begin; x < x_end; ++x) {
    const std::uint32_t u = v.exposure_underlying[x];
    const double spot = v.spot[u];
    const exposure_funding funding_terms = exposure_funding_of(v, u);
    double8 greeks = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const std::uint64_t p0 = v.exposure_position_begin[x], p1 = v.exposure_position_begin[x + 1];
    // The same loop with and without funding: where the exposure pays none, pay_funding would
    // subtract +0.0 from every position (nothing), so that version leaves it out.
    if (funding_terms.pays) {
      for (std::uint64_t p = p0; p < p1; ++p) {
        const std::uint32_t i = v.position_instrument[p];
        const position_terms& k = v.position_table[i];
        const std::uint8_t f = v.position_table_flags[i];
        const double q = v.position_quantity[p];
        add_position(sums, k, f, q, v.position_cost[p], spot);
        pay_funding(sums, k, f, q, funding_terms);
        greeks += q * terms_vector(k);
      }
    } else {
      for (std::uint64_t p = p0; p < p1; ++p) {
        const std::uint32_t i = v.position_instrument[p];
        const position_terms& k = v.position_table[i];
        const double q = v.position_quantity[p];
        add_position(sums, k, v.position_table_flags[i], q, v.position_cost[p], spot);
        greeks += q * terms_vector(k);
      }
    }
    finish_exposure(
        v, x, u, spot,
        exposure_greeks{greeks[1], greeks[2], greeks[3], greeks[4], greeks[5], greeks[6]}, addon);
  }
  change = sums.change;
  return account_totals{sums.own, sums.own + credit_limit, sums.gross, sums.floor, addon};
}

// Accounts [a_begin, a_end): each account's revaluation and, on the tick path, its state against
// the margins in force, while its exposures are still in cache.
__attribute__((flatten)) inline void revalue_accounts(const revalue_pass& pass,
                                                      const account_revaluation_view& view,
                                                      std::int64_t a_begin, std::int64_t a_end) {
  const book& b = *pass.positions;
  const bool funding = view.funding_rate != nullptr;
  for (std::int64_t a = a_begin; a < a_end; ++a) {
    // The collateral moved, less the funding accrued before the update's prices apply.
    double change = pass.change ? pass.change[a] : 0.0;
    const std::uint64_t x0 = b.account_exposure_begin[a], x1 = b.account_exposure_begin[a + 1];
    const account_totals totals = revalue_account_table(
        view, x0, x1, b.collateral[a], pass.credit_limit[b.account_tier[a]], change);
    if (funding) pass.change_out[a] = change;
    // The collateral change is added after the positions, as the device adds it after its revalue.
    const double equity = pass.change ? totals.equity + change : totals.equity;
    pass.out.own_funds[a] = pass.change ? totals.own_funds + change : totals.own_funds;
    pass.out.equity[a] = equity;
    pass.out.gross_notional[a] = totals.gross_notional;
    pass.out.floor_notional[a] = totals.floor_notional;
    pass.out.liquidity_addon[a] = totals.liquidity_addon;
    if (const tick_state_inputs* s = pass.states) {
      const account_tick t = account_tick_state(
          x0, x1, b.exposure_underlying.data(), view.exposure_delta, view.spot, view.vol, s->stale,
          s->z, s->tau_years, equity, s->initial_margin[a], s->maintenance_margin[a],
          s->breach_probability[a], s->preemptive_threshold,
          static_cast<stream_state>(s->previous[a]), s->recovery_band);
      s->next[a] = static_cast<std::uint8_t>(t.state);
    }
  }
}
