// Fetcher: the consumer's data path (Kafka's Fetcher + FetchCollector +
// OffsetFetcher, classic consumer).
//
// Sending: one Fetch request per partition leader at a time, for every
// fetchable partition that has no buffered data, each carrying the position
// as fetch_offset and the cached leader epoch as current_leader_epoch
// (KIP-320: a leader in another epoch answers FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH instead of serving stale or future data). The broker
// long-polls (fetch.min.bytes, fetch.max.wait.ms) and returns only records
// below the high watermark.
//
// Buffering (prefetch): responses land in a FIFO of completed fetches as they
// arrive, whether or not the application is in poll(); poll() drains up to
// max.poll.records from the head and, before returning, sends the next round
// of fetches for partitions whose buffer is empty — so the next batch is on
// its way while the application processes this one, as in Java.
//
// Draining a completed fetch checks, as Java does, that the partition is
// still assigned, fetchable and that its position still equals the fetch's
// next offset (a seek or a rebalance meanwhile makes the buffered data
// stale: it is dropped, never returned). Errors are acted on when the fetch
// reaches the head: NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH /
// UNKNOWN_TOPIC_OR_PARTITION / KAFKA_STORAGE_ERROR request a metadata
// refresh; OFFSET_OUT_OF_RANGE resets with auto.offset.reset, or raises
// OffsetOutOfRangeException from poll() when it is `none`.
//
// Offset resets: partitions AWAITING_RESET get a ListOffsets (earliest = log
// start, latest = high watermark) to their leader; the answer becomes a seek
// recorded with its reason ("reset:earliest", "seek_to_end", ...).
//
// Invariant: records a poll returns for one partition are consecutive in
// offset order and start at the position the partition had (asserted).
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/clients/client_metadata.h"
#include "engine/clients/consumer_api.h"
#include "engine/clients/consumer_network_client.h"
#include "engine/clients/fetch_session_handler.h"
#include "engine/clients/subscription_state.h"
#include "engine/common/sampled_stat.h"

namespace ksim::clients {

struct FetchConfig {
  int32_t min_bytes = 1;
  int32_t max_bytes = 52428800;
  int32_t max_wait_ms = 500;
  int32_t partition_max_bytes = 1048576;
  int32_t max_poll_records = 500;
  protocol::IsolationLevel isolation = protocol::IsolationLevel::read_uncommitted;
  int64_t request_timeout_ms = 30000;
  int64_t retry_backoff_ms = 100;
  SampledStatConfig metrics_window;  // metrics.num.samples, metrics.sample.window.ms
};

class Fetcher {
 public:
  Fetcher(ConsumerNetworkClient& net, ClientMetadata& metadata, SubscriptionState& subscriptions, FetchConfig config);

  // Sends a Fetch to every leader without one in flight; returns how many.
  // Leaders in reconnect backoff are skipped (Java: client.isUnavailable(node)).
  int send_fetches();
  // When a leader skipped by the last send_fetches() leaves its backoff (none: max).
  sim::Instant next_fetch_attempt() const { return next_fetch_attempt_; }
  // Some buffered data is ready for poll() to collect.
  bool has_available_fetches() const;
  // Up to max.poll.records records (or `max_records` when positive: the
  // Python binding's one-message poll()); positions move past them. Throws
  // OffsetOutOfRangeException (auto.offset.reset=none) when nothing was collected.
  std::vector<ConsumerRecord> collect_fetch(int32_t max_records = -1);
  // Sends ListOffsets for partitions awaiting a reset (asynchronous).
  void reset_positions_if_needed();
  // Blocking ListOffsets (offsetsForTimes, beginning/endOffsets); nullopt for a
  // timestamp no record reaches. Throws TimeoutException at the deadline.
  std::map<TopicPartition, std::optional<OffsetAndTimestamp>> list_offsets(
      const std::map<TopicPartition, int64_t>& timestamps, sim::Instant deadline);
  // Drops buffered data of partitions no longer assigned.
  void clear_buffered_data_for_unassigned_partitions();
  // As the consumer closes (Kafka's AbstractFetch.maybeCloseFetchSessions):
  // a closing Fetch (KIP-227's final epoch) to every leader holding a session
  // of ours that is reachable, then waits for their answers until `deadline`
  // (a close is not held up longer: a leader not answered evicts the session
  // in its own time).
  void close_sessions(sim::Instant deadline);
  const FetchConfig& config() const { return config_; }
  // fetch-throttle-time-avg / -max: every Fetch response's throttle_time_ms
  // (0 included) over metrics.num.samples windows of metrics.sample.window.ms.
  std::map<std::string, double> metrics() const;

 private:
  struct CompletedFetch {
    TopicPartition tp;
    Offset fetch_offset;
    Errc error = Errc::NONE;
    Offset high_watermark = kNoOffset;
    Offset log_start_offset = kNoOffset;
    std::vector<storage::BatchPtr> batches;
    std::vector<protocol::AbortedTxn> aborted;
    // drain cursor
    bool initialized = false;
    bool consumed = false;
    Offset next_fetch_offset;
    LeaderEpoch last_epoch = kNoEpoch;
    size_t batch_index = 0;
    std::vector<storage::RecordView> current;  // records of batches[batch_index - 1]
    size_t record_index = 0;
    std::set<ProducerId> aborted_producers;
    size_t aborted_index = 0;
  };
  using FetchPtr = std::shared_ptr<CompletedFetch>;

  sim::Instant next_fetch_attempt_{std::numeric_limits<int64_t>::max() / 2};
  bool has_buffered(const TopicPartition& tp) const;
  // nullptr: the fetch is dropped (stale, or an error acted on).
  FetchPtr initialize(const FetchPtr& f);
  // Both append at most `max` records to `out` (one vector for a whole poll).
  void fetch_records(CompletedFetch& f, int32_t max, std::vector<ConsumerRecord>& out);
  void drain(CompletedFetch& f, int32_t max, std::vector<ConsumerRecord>& out);
  bool skip_batch(CompletedFetch& f, const storage::RecordBatch& b);
  // A Fetch with this consumer's settings and no partition or session yet.
  protocol::FetchRequest new_request() const;
  sim::KindId fetch_kind();

  ConsumerNetworkClient& net_;
  ClientMetadata& metadata_;
  SubscriptionState& subscriptions_;
  FetchConfig config_;
  std::deque<FetchPtr> completed_;
  FetchPtr next_in_line_;
  std::set<int32_t> nodes_with_pending_fetch_;
  // Per broker: the incremental fetch session (KIP-227), as Kafka's
  // consumer keeps one per node it fetches from.
  std::map<int32_t, FetchSessionHandler> sessions_;
  // KIP-219: a leader that answered with throttle_time_ms is not fetched from before then.
  std::map<int32_t, sim::Instant> throttled_until_;
  SampledStat fetch_throttle_time_;
  // The Fetch message kind, looked up at the first fetch (when the name was
  // looked up before: the network numbers kinds in the order first asked).
  std::optional<sim::KindId> fetch_kind_;
};

}  // namespace ksim::clients
