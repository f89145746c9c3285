// KRaft's timing knobs, by Kafka's own keys and with Kafka's defaults
// (org.apache.kafka.raft.QuorumConfig).
//
//   controller.quorum.election.timeout.ms     1000  a voter without a leader
//       stands for election after a random time in [T, 2T)
//   controller.quorum.fetch.timeout.ms        2000  a follower whose fetches have
//       not succeeded for this long stands for election; a leader that has not
//       heard fetches from a majority for 1.5x this long resigns (check-quorum)
//   controller.quorum.election.backoff.max.ms 1000  cap of a losing candidate's
//       random back-off
//   controller.quorum.request.timeout.ms      2000  (request.timeout.ms) per RPC
//   controller.quorum.retry.backoff.ms          20  pause before re-sending a
//       failed request to the same node
// plus the fetch long-poll: the leader parks a fetch that has nothing new for up
// to 500 ms (KafkaRaftClient's fetchMaxWaitMs, 500 in KafkaConfig's
// controller defaults).
#pragma once

#include <map>
#include <string>

#include "sim/time.h"

namespace ksim::raft {

struct RaftConfig {
  sim::Duration election_timeout = sim::milliseconds(1000);
  sim::Duration fetch_timeout = sim::milliseconds(2000);
  sim::Duration election_backoff_max = sim::milliseconds(1000);
  sim::Duration request_timeout = sim::milliseconds(2000);
  sim::Duration retry_backoff = sim::milliseconds(20);
  sim::Duration fetch_max_wait = sim::milliseconds(500);
  // KIP-853: a voter is the pair (node id, directory id), so a node that comes
  // back with an empty disk (a new directory id) is no longer that voter.
  // false (`ksim.raft.directory.id=false`): voters are node ids alone, as in
  // the static `controller.quorum.voters` quorums before Kafka 3.9.
  bool directory_ids = true;
  // KIP-996 pre-vote: a voter asks whether it could win before it bumps the
  // epoch, and voters that hear from a live leader say no. false
  // (`ksim.raft.pre.vote=false`): Kafka before 4.0 — a partitioned voter keeps
  // bumping its epoch and deposes the leader when it rejoins.
  bool pre_vote = true;

  // LeaderState.CHECK_QUORUM_TIMEOUT_FACTOR = 1.5
  sim::Duration check_quorum_timeout() const { return sim::nanoseconds(fetch_timeout.ns * 3 / 2); }

  // Parses Kafka's keys (values in ms); unknown keys and bad values throw
  // ConfigError naming the key. Missing keys keep their defaults.
  static RaftConfig from_properties(const std::map<std::string, std::string>& props);
};

}  // namespace ksim::raft
