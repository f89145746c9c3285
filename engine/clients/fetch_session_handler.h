// FetchSessionHandler: the fetcher's side of an incremental fetch session
// (KIP-227; Kafka's clients FetchSessionHandler), one per fetcher and leader.
//
// It remembers what the leader's session holds (the parameters last sent per
// partition) and the metadata of the next request:
//   (0, 0)       no session: the next fetch is full and asks for one
//   (id, 0)      close `id` and open a new one with a full fetch (after an
//                error the fetcher cannot tell what the leader kept)
//   (id, E > 0)  incremental: send only the partitions that are new or whose
//                parameters changed, and `forgotten` the ones no longer fetched
// A response moves it on: a full fetch's answer carries the new session id
// (0: the leader had no room; stay full), an incremental answer the next
// epoch; FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH, a timeout
// or a broken connection make the next fetch full again.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/broker/protocol.h"

namespace ksim {

class FetchSessionHandler {
 public:
  // Fills `req`'s session fields, partitions and forgotten list for a fetch
  // of `wanted` (every partition to fetch now, with its parameters).
  void build(const std::vector<protocol::FetchPartition>& wanted, protocol::FetchRequest& req);
  // After a response: false if it carried a session error (no partition
  // data; the next fetch is full).
  bool handle_response(const protocol::FetchResponse& resp);
  // The fetch failed (timeout, connection): the next one opens a new session.
  void handle_error();
  // Kafka's notifyClose then build, as the consumer closes: fills `req` to
  // close the leader's session (the final epoch, no partitions; the leader
  // drops the session and answers at once) and forgets it. False if there
  // is no session to close.
  bool build_close(protocol::FetchRequest& req);

 private:
  int32_t session_id_ = 0;
  int32_t epoch_ = 0;  // of the request in flight until its answer (0: a full fetch)
  // What the leader's session holds, ordered by partition, one entry each: a
  // sorted vector (a build walks it whole on every fetch; a map's walk was a
  // pointer chase per partition), rebuilt by each merge into next_.
  std::vector<protocol::FetchPartition> session_;
  std::vector<protocol::FetchPartition> next_;
};

}  // namespace ksim
