#pragma once
// A backend that passes every call to another one: tests derive from it and override the calls
// they watch, slow down or hold up. revalue_tick is left to the interface's default (funding,
// revalue and tick_states one call at a time), so each step goes through the overridable calls.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "marginsync/backend.hpp"

namespace msync::test {

class forwarding_backend : public backend {
 public:
  explicit forwarding_backend(std::unique_ptr<backend> inner) : inner_(std::move(inner)) {}

  std::string name() const override { return inner_->name(); }
  std::string device() const override { return inner_->device(); }
  std::string residency_note() const override { return inner_->residency_note(); }
  void set_progress(progress_callback c) override { inner_->set_progress(std::move(c)); }
  std::vector<stage_time> last_stages() const override { return inner_->last_stages(); }
  void load_book(book& b, const risk_params& p) override { inner_->load_book(b, p); }
  void patch_accounts(const account_patch& p) override { inner_->patch_accounts(p); }
  void revalue(const market_state& m, const std::vector<double>& c) override {
    inner_->revalue(m, c);
  }
  void scenario_risk(const scenario_source& s, const risk_params& p) override {
    inner_->scenario_risk(s, p);
  }
  std::vector<tick_change> tick_states(const tick_request& r) override {
    return inner_->tick_states(r);
  }
  void set_tick_states(const std::vector<std::uint8_t>& s) override { inner_->set_tick_states(s); }
  const revaluation& held_revaluation() override { return inner_->held_revaluation(); }
  const risk_result& held_risk() override { return inner_->held_risk(); }
  revaluation copy_revaluation() override { return inner_->copy_revaluation(); }
  revalued_accounts copy_revaluation_of(const std::vector<std::uint32_t>& a) override {
    return inner_->copy_revaluation_of(a);
  }
  risk_result copy_risk() override { return inner_->copy_risk(); }

 private:
  std::unique_ptr<backend> inner_;
};

}  // namespace msync::test
