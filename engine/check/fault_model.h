// The fault model: does Kafka's contract, under this run's configuration and
// faults, permit an anomaly? Each function returns the cause ("acks=1", ...)
// when it does, "" when the anomaly is a broken promise.
#pragma once

#include <string>

#include "engine/check/history_index.h"

namespace ksim::check {

// An acknowledged send missing from the final log.
std::string permitted_loss(const HistoryIndex& index, const OpView& send);
// A committed record of `tp` (acknowledged with acks=all, or read by a
// consumer, at `since_ns`) later gone or replaced: an unclean election of
// the partition after it, or power failures that took every copy Kafka's
// contract counts on.
std::string permitted_committed_loss(const HistoryIndex& index, const TopicPartition& tp, int64_t since_ns);
// A record of `tp` a consumer read, written in leader epoch `written_epoch`,
// later replaced: permitted when an unclean election of the partition ended
// that epoch, even if the read came after the election. Kafka has no leader
// leases: the deposed leader goes on serving fetches of the old epoch's
// records until the new metadata reaches it (hunt seed 5211).
std::string permitted_replaced_read(const HistoryIndex& index, const TopicPartition& tp, int32_t written_epoch);
// One producer's records landing out of send order.
std::string permitted_reorder(const OpView& earlier, const OpView& later);
// A value at more offsets than sends of it, at `offsets` of the final log `log`.
std::string permitted_duplicate(const std::vector<OpView>& sends, const FinalLog& log,
                                const std::vector<int64_t>& offsets);

}  // namespace ksim::check
