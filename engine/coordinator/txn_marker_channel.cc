#include "engine/coordinator/txn_marker_channel.h"

#include <map>
#include <set>

#include "engine/common/node_ids.h"

namespace ksim::coordinator {

bool TxnMarkerChannel::write_markers(const protocol::WritableTxnMarker& marker,
                                     const std::function<bool()>& still_wanted) {
  std::set<TopicPartition> left(marker.partitions.begin(), marker.partitions.end());
  sim::Network& net = world_.network();
  const sim::KindId kind = net.kind("WriteTxnMarkers");
  while (!left.empty()) {
    if (!still_wanted()) return false;
    std::map<int32_t, std::vector<TopicPartition>> by_leader;
    for (auto it = left.begin(); it != left.end();) {
      const MetadataImage& img = image_();
      if (!img.topic(it->topic)) {  // deleted: nothing left to mark
        it = left.erase(it);
        continue;
      }
      const PartitionRegistration* p = img.partition(it->topic, it->partition);
      if (p && p->leader >= 0) by_leader[p->leader].push_back(*it);
      ++it;
    }
    for (const auto& [leader, parts] : by_leader) {
      protocol::WriteTxnMarkersRequest req;
      protocol::WritableTxnMarker m = marker;
      m.partitions = parts;
      req.markers.push_back(std::move(m));
      ++requests_sent_;
      const sim::Reply r = net.call_sync(self_, sim_node_of(leader), kind, sim::make_payload(std::move(req)),
                                         64 + 24 * static_cast<uint32_t>(parts.size()),
                                         sim::milliseconds(request_timeout_ms_));
      if (r.status != sim::CallStatus::ok) continue;
      for (const auto& res : sim::payload_as<protocol::WriteTxnMarkersResponse>(r.payload).markers)
        for (const auto& [tp, err] : res.partitions) {
          if (err == Errc::NONE) left.erase(tp);
          // Final answers (Kafka's TransactionMarkerRequestCompletionHandler
          // stops there): the partition saw a newer epoch or coordinator.
          if (err == Errc::INVALID_PRODUCER_EPOCH || err == Errc::TRANSACTION_COORDINATOR_FENCED) {
            world_.probe("txn: marker refused for good (newer epoch or coordinator)");
            left.erase(tp);
          }
        }
    }
    if (left.empty()) break;
    world_.probe("txn: markers retried");
    world_.sleep_for(sim::milliseconds(retry_backoff_ms_));
  }
  return true;
}

}  // namespace ksim::coordinator
