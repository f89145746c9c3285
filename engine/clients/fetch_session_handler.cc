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
    // `wanted` is ordered by partition; a partition asked twice keeps its first parameters.
    session_.clear();
    for (const protocol::FetchPartition& fp : wanted)
      if (session_.empty() || session_.back().tp != fp.tp) session_.push_back(fp);
    req.partitions = wanted;
    return;
  }
  // Incremental: both sides are ordered by partition, so one merge pass finds
  // the new, changed and dropped partitions.
  std::vector<protocol::FetchPartition>& next = next_;
  next.clear();
  auto it = session_.begin();
  for (const protocol::FetchPartition& fp : wanted) {
    if (!next.empty() && next.back().tp == fp.tp) {  // asked twice: sent, the session keeps the first
      req.partitions.push_back(fp);
      continue;
    }
    while (it != session_.end() && it->tp < fp.tp) {
      req.forgotten.push_back(it->tp);
      ++it;
    }
    if (it != session_.end() && it->tp == fp.tp) {
      if (same_parameters(*it, fp)) {
        next.push_back(*it);
      } else {
        next.push_back(fp);
        req.partitions.push_back(fp);
      }
      ++it;
    } else {
      next.push_back(fp);
      req.partitions.push_back(fp);
    }
  }
  for (; it != session_.end(); ++it) req.forgotten.push_back(it->tp);
  session_.swap(next);
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
