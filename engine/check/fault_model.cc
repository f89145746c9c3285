#include "engine/check/fault_model.h"

#include <algorithm>
#include <map>
#include <utility>
#include <set>

namespace ksim::check {

// A write acknowledged by a leader that an unclean election had already
// deposed. Kafka has no leader leases: a leader that was paused or cut off
// while the controller elected another broker uncleanly goes on serving
// Produce requests with the ISR it knew (often itself alone, the reason the
// election was unclean) until the new metadata reaches it, and acknowledges
// acks=all writes the new leader never has; it truncates them when it
// follows. The unclean election, though it came before the acknowledgement,
// ended the acknowledging leader's epoch: the loss is the unclean election's.
// Returns the cause, or "" when no unclean election of another broker came
// between the acknowledging broker's last election and the acknowledgement.
static std::string deposed_by_unclean_election(const History& h, const TopicPartition& tp, int32_t leader,
                                               int64_t ack_ns) {
  if (leader < 0) return "";
  int64_t led_since = -1;  // when the acknowledging broker was last elected leader before the ack
  for (const ClusterEvent& e : h.events())
    if (e.at_ns <= ack_ns && e.at_ns > led_since && e.type == EventType::election && e.tp == tp && e.node == leader)
      led_since = e.at_ns;
  if (led_since < 0) return "";
  for (const ClusterEvent& e : h.events())
    if (e.at_ns > led_since && e.at_ns <= ack_ns && e.type == EventType::election && e.unclean && e.tp == tp &&
        e.node != leader)
      return "acknowledged by broker " + std::to_string(leader) + " as a deposed leader: the unclean election of broker " +
             std::to_string(e.node) + " at " + fmt_time(e.at_ns) + " had ended its epoch";
  return "";
}

std::string permitted_loss(const HistoryIndex& index, const OpView& send) {
  if (send.acks() == 0) return "acks=0: the producer never waited for the broker";
  if (send.acks() == 1) return "acks=1: acknowledged by the leader alone, before the followers had it";
  if (send.complete_ns() >= 0) {
    std::string deposed = deposed_by_unclean_election(index.history(), send.tp(), send.leader(), send.complete_ns());
    if (!deposed.empty()) return deposed;
  }
  return permitted_committed_loss(index, send.tp(), send.complete_ns() >= 0 ? send.complete_ns() : send.invoke_ns());
}

namespace {

// Without ELR (KIP-966) nothing takes a broker that lost its unflushed data
// out of an ISR: a broker power-failed and restarted at once cannot register
// until its old session expires, so until then the controller counts it as
// alive, and the others may leave the ISR around it (a controlled shutdown,
// a follower lagging behind a leader that no longer answers). The ISR can
// thus shrink to replicas that all lost the record; the last member stays in
// the ISR (it is never emptied) and is elected again with what its disk
// kept, and the others truncate to it. Kafka's handleBrokerUncleanShutdown
// closes this only with ELR enabled. A replica that rejoins the ISR has
// caught up again (its log end reached the high watermark) and has the
// record back. Returns the cause, or "" when the ISR never held only
// replicas that had lost their unflushed data since `since`.
std::string isr_of_power_failed(const HistoryIndex& index, const TopicPartition& tp, int64_t since,
                                std::vector<int32_t> isr) {
  std::set<int32_t> lost;  // lost unflushed data since `since` and not in the ISR again since
  auto all_lost = [&] {
    if (isr.empty()) return false;
    for (int32_t r : isr)
      if (lost.count(r) == 0) return false;
    return true;
  };
  for (const ClusterEvent& e : index.history().events()) {
    if (e.at_ns < since) continue;
    if (e.type == EventType::fault && (e.what.rfind("power_fail", 0) == 0 || e.what.rfind("wipe", 0) == 0)) {
      lost.insert(e.node);
    } else if ((e.type == EventType::election || e.type == EventType::isr_change) && e.tp == tp && !e.isr.empty()) {
      for (int32_t r : e.isr)
        if (std::find(isr.begin(), isr.end(), r) == isr.end()) lost.erase(r);  // caught up again
      isr = e.isr;
    } else {
      continue;
    }
    if (all_lost()) {
      std::string members;
      for (int32_t r : isr) members += (members.empty() ? "" : ",") + std::to_string(r);
      return "ELR off: the ISR shrank to {" + members + "}, replicas that had lost their unflushed data to a power failure, at " +
             fmt_time(e.at_ns) + " (Kafka keeps them in the ISR and elects them again)";
    }
  }
  return "";
}

}  // namespace

std::string permitted_replaced_read(const HistoryIndex& index, const TopicPartition& tp, int32_t written_epoch) {
  if (written_epoch < 0) return "";  // epoch unknown: nothing to go by
  for (const ClusterEvent& e : index.history().events())
    if (e.type == EventType::election && e.unclean && e.tp == tp && e.leader_epoch > written_epoch)
      return "the unclean election of broker " + std::to_string(e.node) + " at " + fmt_time(e.at_ns) + " ended epoch " +
             std::to_string(written_epoch) + ", in which the record was written (a deposed leader serves reads " +
             "of its epoch until it learns of the election)";
  return "";
}

std::string permitted_committed_loss(const HistoryIndex& index, const TopicPartition& tp, int64_t since) {
  const CheckInput& in = index.input();
  const int32_t min_isr = in.config.min_isr(tp.topic);
  std::set<int32_t> power_failed;
  for (const ClusterEvent& e : index.history().events()) {
    if (e.at_ns < since) continue;
    if (e.type == EventType::election && e.unclean && e.tp == tp)
      return "unclean election of broker " + std::to_string(e.node) + " at " + fmt_time(e.at_ns);
    // A wiped disk lost everything a power failure could, and more.
    if (e.type == EventType::fault && (e.what.rfind("power_fail", 0) == 0 || e.what.rfind("wipe", 0) == 0))
      power_failed.insert(e.node);
  }
  // The ISR when the write was acknowledged (from the elections and ISR
  // changes before it): if every member of it lost unflushed data, Kafka's
  // contract (no fsync) permits the loss whatever the other replicas did.
  std::vector<int32_t> isr_at_ack;
  for (const ClusterEvent& e : index.history().events()) {
    if (e.at_ns > since) break;
    if ((e.type == EventType::election || e.type == EventType::isr_change) && e.tp == tp && !e.isr.empty())
      isr_at_ack = e.isr;
  }
  if (!isr_at_ack.empty() && !power_failed.empty()) {
    bool all_isr = true;
    for (int32_t r : isr_at_ack) all_isr = all_isr && power_failed.count(r) > 0;
    if (all_isr) return "every member of the ISR at the acknowledgement lost its unflushed data to a power failure";
    if (!in.config.eligible_leader_replicas) {
      const std::string shrunk = isr_of_power_failed(index, tp, since, isr_at_ack);
      if (!shrunk.empty()) return shrunk;
    }
  }
  auto it = in.final_logs.find(tp);
  if (it != in.final_logs.end() && !it->second.replicas.empty()) {
    bool all = true, any = false;
    for (int32_t r : it->second.replicas) {
      all = all && power_failed.count(r) > 0;
      any = any || power_failed.count(r) > 0;
    }
    if (all) return "every replica lost its unflushed data to a power failure (Kafka does not fsync by default)";
    // With min.insync.replicas=1 the ISR may have been the leader alone: one
    // replica losing its unflushed data can take an acknowledged write with it.
    if (any && min_isr < 2)
      return "min.insync.replicas=" + std::to_string(min_isr) +
             " and a replica lost its unflushed data to a power failure (the ISR may have been that replica alone)";
  }
  // A crash (the page cache survives a process crash) never loses an
  // acks=all write under clean elections, whatever min.insync.replicas is.
  return "";
}

std::string permitted_reorder(const OpView& earlier, const OpView& later) {
  if (earlier.idempotent() && later.idempotent()) return "";
  const int32_t in_flight = std::max(earlier.max_in_flight(), later.max_in_flight());
  if (in_flight == 1) return "";
  return "no idempotence and max.in.flight.requests.per.connection=" +
         (in_flight > 0 ? std::to_string(in_flight) : std::string("?")) + ": a retried batch may land after a later one";
}

// An idempotent (not transactional) producer that bumps its epoch (KIP-360:
// OUT_OF_ORDER_SEQUENCE_NUMBER on the sequence after its last acknowledged
// one, UNKNOWN_PRODUCER_ID, an expired batch left unresolved) rewrites the
// sequences of every in-flight batch of the partition from 0 under the new
// epoch and resends them (TransactionManager.bumpIdempotentProducerEpoch ->
// startSequencesAtBeginning). A batch the old epoch had written but never
// acknowledged is then written again: the broker deduplicates a retry only
// against the last batches of the producer's current epoch (hunt seed 1411:
// a dropped request left a gap, the broker took the next batch as a new
// producer's first, the producer hit OUT_OF_ORDER_SEQUENCE_NUMBER and bumped).
// Expected when no producer epoch holds more copies than there were sends;
// two copies in one epoch are a dedupe failure.
std::string permitted_duplicate(const std::vector<OpView>& sends, const FinalLog& log,
                                const std::vector<int64_t>& offsets) {
  for (const OpView& s : sends)
    if (!s.idempotent()) return "no idempotence: a retried send can be written twice";
  if (sends.empty() || offsets.size() < 2) return "";
  for (const OpView& s : sends)
    if (s.transactional()) return "";
  std::map<std::pair<int64_t, int32_t>, size_t> copies;  // (producer id, epoch) -> copies
  std::string epochs;
  for (int64_t o : offsets) {
    const std::pair<int64_t, int32_t> w = log.producer_of(o);
    if (w.first < 0 || w.second < 0) return "";
    if (++copies[w] > sends.size()) return "";
    epochs += (epochs.empty() ? "" : ", ") + std::string("offset ") + std::to_string(o) + " in producer epoch " +
              std::to_string(w.second);
  }
  return "the idempotent producer bumped its epoch (KIP-360) and resent its in-flight batches from sequence 0 "
         "under the new epoch; a batch the old epoch wrote but never acknowledged is written again (" +
         epochs + "), as Kafka's client does";
}

}  // namespace ksim::check
