// The checkers: each reads the shared HistoryIndex and adds its anomalies to
// the verdict. `check_all` runs every one and computes the statistics.
#pragma once

#include "engine/check/check_input.h"
#include "engine/check/history_index.h"
#include "engine/check/verdict.h"

namespace ksim::check {

void check_lost_writes(const HistoryIndex& index, Verdict& out);        // lost_write.cc
void check_duplicates(const HistoryIndex& index, Verdict& out);         // duplicate.cc
void check_consistency(const HistoryIndex& index, Verdict& out);        // consistency.cc
void check_send_order(const HistoryIndex& index, Verdict& out);         // send_order.cc
void check_poll_order(const HistoryIndex& index, Verdict& out);         // poll_order.cc
void check_uncommitted_reads(const HistoryIndex& index, Verdict& out);  // uncommitted_read.cc
void check_ownership(const HistoryIndex& index, Verdict& out);          // ownership.cc
void check_unseen(const HistoryIndex& index, Verdict& out);             // unseen.cc
void check_transactions(const HistoryIndex& index, Verdict& out);       // transactions.cc
void check_compaction(const HistoryIndex& index, Verdict& out);         // compaction.cc
void check_pipelines(const HistoryIndex& index, Verdict& out);          // transactions.cc
void check_metadata_log(const HistoryIndex& index, Verdict& out);       // metadata_log.cc
void check_liveness(const HistoryIndex& index, Verdict& out);           // verdict.cc
void compute_stats(const HistoryIndex& index, Verdict& out);            // verdict.cc

Verdict check_all(const CheckInput& input);

}  // namespace ksim::check
