// KIP-853 voter keys: a voter is (node id, directory id). A node back on a
// wiped, re-formatted disk has a new directory id: it is an observer — it
// neither stands, nor votes, nor counts towards the high watermark — while
// with `directory_ids = false` (ksim.raft.directory.id=false) it is taken
// for the voter whose log it lost.
#include <catch2/catch.hpp>

#include "engine/raft/directory_id.h"
#include "raft_cluster.h"
#include "sim/disk.h"

using namespace raft_test;
using ksim::Offset;
using ksim::raft::DirectoryId;

namespace {

// What Cluster::wipe does: a new empty drive, formatted with a new directory id.
void wipe(RaftCluster& c, NodeId n) {
  c.w.crash(n);
  sim::Disk& d = c.w.disk(n);
  d.replace();
  const std::string props = ksim::raft::encode_meta_properties(static_cast<int32_t>(n.value),
                                                               ksim::raft::formatted_directory_id(c.w, n, 1));
  d.install(ksim::raft::kMetaPropertiesFile,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(props.data()), props.size()));
  c.epoch_seen.erase(n.value);  // a new replica: its epoch starts again at 0
  c.w.restart(n);
}

// Leader up, one follower wiped and back, the other follower down: can the
// leader still commit? Returns (committed, the wiped node's client).
std::pair<bool, std::shared_ptr<ksim::raft::RaftClient>> commit_with_a_wiped_follower(bool directory_ids) {
  RaftConfig cfg;
  cfg.directory_ids = directory_ids;
  RaftCluster c(5, 3, 0, cfg);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  REQUIRE(c.propose("before"));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  const NodeId l = *c.leader();
  std::vector<NodeId> followers;
  for (NodeId v : c.voters)
    if (v != l) followers.push_back(v);
  wipe(c, followers[0]);
  c.w.crash(followers[1]);
  const Offset hw = c.client(l)->high_watermark();
  REQUIRE(c.propose("after the wipe"));
  c.run_checked(sim::milliseconds(1500));  // under check-quorum's 3 s
  INFO(c.describe());
  REQUIRE(c.violations.empty());
  auto wiped = c.client(followers[0]);
  // Either way the wiped node fetched the whole log again.
  REQUIRE(wiped->log_end_offset() == c.client(l)->log_end_offset());
  return {c.client(l)->high_watermark() > hw, wiped};
}

}  // namespace

TEST_CASE("a voter back on a wiped disk is an observer and cannot help commit", "[raft][directory-id]") {
  auto [committed, wiped] = commit_with_a_wiped_follower(true);
  REQUIRE_FALSE(committed);
  REQUIRE_FALSE(wiped->is_voter());
  REQUIRE(wiped->directory_id() != wiped->voter_directory_id(wiped->id()));
  // The leader lists it as an observer on its new directory, not as the voter.
  REQUIRE(wiped->describe().voters.size() == 3);
}

TEST_CASE("without directory ids the wiped voter counts as the voter it replaced", "[raft][directory-id]") {
  auto [committed, wiped] = commit_with_a_wiped_follower(false);
  REQUIRE(committed);
  REQUIRE(wiped->is_voter());
}

TEST_CASE("meta.properties round-trips the directory id", "[raft][directory-id]") {
  const DirectoryId id{0x00c0ffee12345678ULL};
  const std::string text = ksim::raft::encode_meta_properties(4, id);
  REQUIRE(text == "version=1\nnode.id=4\ndirectory.id=00c0ffee12345678\n");
  REQUIRE(ksim::raft::decode_directory_id(text) == id);
  REQUIRE_FALSE(ksim::raft::decode_directory_id("version=1\nnode.id=4\n").has_value());
}
