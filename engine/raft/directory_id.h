// A KRaft replica's directory id (KIP-853) and the `meta.properties` file that
// holds it.
//
// Kafka's `kafka-storage format` writes `meta.properties` into every log
// directory, with a random `directory.id` minted at format time. KIP-853
// identifies a voter by the pair (node id, directory id): a node that comes
// back with an empty disk is formatted again, gets a NEW directory id, and so
// is a new replica — not the voter whose log it lost — until an operator adds
// it (AddVoter). Without that pair (static `controller.quorum.voters`, or
// `ksim.raft.directory.id=false`), the empty node is taken for the old voter
// and may vote away entries the old voter had helped commit.
//
// ksim formats lazily: a node without `meta.properties` runs with its
// bootstrap directory id — the one `kafka-storage format --initial-controllers`
// would have recorded for it (derived from the run seed and node, so every
// node knows every voter's without a message). Cluster::wipe installs a
// `meta.properties` with a fresh id, as the operator's re-format does.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include "sim/world.h"

namespace ksim::raft {

struct DirectoryId {
  uint64_t value = 0;
  auto operator<=>(const DirectoryId&) const = default;
  // 16 hex digits (Kafka prints a base64 Uuid).
  std::string str() const;
};

inline constexpr const char* kMetaPropertiesFile = "meta.properties";

// The id `kafka-storage format` gives `node` the `format`-th time (0: the
// cluster's initial format, whose ids the bootstrap voter set records).
DirectoryId formatted_directory_id(const sim::World& world, sim::NodeId node, uint32_t format);
inline DirectoryId bootstrap_directory_id(const sim::World& world, sim::NodeId node) {
  return formatted_directory_id(world, node, 0);
}

std::string encode_meta_properties(int32_t node_id, DirectoryId dir);
// The directory id in a meta.properties text; nullopt if it has none.
std::optional<DirectoryId> decode_directory_id(const std::string& text);

}  // namespace ksim::raft
