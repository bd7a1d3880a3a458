#pragma once
// The margin job's output files (docs/design.md section 4) written into a claimed output directory,
// summary.json beginning with the run's provenance block.
#include "io/output_files.hpp"
#include "margin/margin_job.hpp"

namespace msync {

// Writes accounts.csv, exposures.csv and summary.json into `out`. The provenance's seed, method,
// confidence and scenarios are taken from the run (what was used, after every override); the
// rest (command line, book, start) is the caller's.
void write_margin_outputs(const margin_run& run, const margin_request& request,
                          output_directory& out, run_provenance provenance);

}  // namespace msync
