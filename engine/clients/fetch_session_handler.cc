#include "engine/clients/fetch_session_handler.h"

namespace ksim {
namespace {

// The parameters a session caches (Kafka's FetchRequest.PartitionData equality).
bool same_parameters(const protocol::FetchPartition& a, const protocol::FetchPartition& b) {
  return a.fetch_offset == b.fetch_offset && a.current_leader_epoch == b.current_leader_epoch &&
         a.last_fetched_epoch == b.last_fetched_epoch && a.log_start_offset == b.log_start_offset &&
         a.partition_max_bytes == b.partition_max_bytes;
}

}  // namespace

void FetchSessionHandler::build(const std::vector<protocol::FetchPartition>& wanted, protocol::FetchRequest& req) {
  req.session_id = session_id_;
  req.session_epoch = epoch_;
  req.partitions.clear();
  req.forgotten.clear();
  if (epoch_ == kInitialFetchEpoch) {
    session_.clear();
    for (const protocol::FetchPartition& fp : wanted) session_.emplace(fp.tp, fp);
    req.partitions = wanted;
    return;
  }
  // Incremental: both sides are ordered by partition, so one merge pass finds
  // the new, changed and dropped partitions.
  auto it = session_.begin();
  for (const protocol::FetchPartition& fp : wanted) {
    while (it != session_.end() && it->first < fp.tp) {
      req.forgotten.push_back(it->first);
      it = session_.erase(it);
    }
    if (it != session_.end() && it->first == fp.tp) {
      if (!same_parameters(it->second, fp)) {
        it->second = fp;
        req.partitions.push_back(fp);
      }
      ++it;
    } else {
      session_.emplace_hint(it, fp.tp, fp);
      req.partitions.push_back(fp);
    }
  }
  while (it != session_.end()) {
    req.forgotten.push_back(it->first);
    it = session_.erase(it);
  }
}

bool FetchSessionHandler::handle_response(const protocol::FetchResponse& resp) {
  if (resp.error != Errc::NONE) {
    if (resp.error == Errc::FETCH_SESSION_ID_NOT_FOUND) {
      session_id_ = kInvalidFetchSessionId;  // nothing to close
      epoch_ = kInitialFetchEpoch;
    } else {
      handle_error();
    }
    return false;
  }
  if (epoch_ == kInitialFetchEpoch) {
    session_id_ = resp.session_id;
    epoch_ = resp.session_id == kInvalidFetchSessionId ? kInitialFetchEpoch : next_fetch_epoch(kInitialFetchEpoch);
  } else {
    epoch_ = next_fetch_epoch(epoch_);
  }
  return true;
}

void FetchSessionHandler::handle_error() { epoch_ = kInitialFetchEpoch; }

bool FetchSessionHandler::build_close(protocol::FetchRequest& req) {
  if (session_id_ == kInvalidFetchSessionId) return false;
  req.session_id = session_id_;
  req.session_epoch = protocol::kFinalFetchEpoch;
  req.partitions.clear();
  req.forgotten.clear();
  session_id_ = kInvalidFetchSessionId;
  epoch_ = kInitialFetchEpoch;
  session_.clear();
  return true;
}

}  // namespace ksim
