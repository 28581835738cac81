#pragma once

// The parts of foreman-bench that live outside main.cpp.

#include "harness.hpp"

namespace foreman_bench {

/// Part 1 (d): POST /jobs from many keep-alive clients for a few seconds,
/// the worker held, against a fixed target (jobs/s).
void run_submit_throughput(const options& o, const temp_dir& dir);

/// Part 4: submit, GET /jobs/{id}, the worker's pick and foreman's memory at
/// 1,000 queued jobs and at --scale-queued, each as a ratio of the two; the
/// fill's rate and foreman's start-up on the full database.
void run_scale(const options& o, const temp_dir& dir);

} // namespace foreman_bench
