#include "engine/raft/directory_id.h"

#include <charconv>
#include <cstdio>

namespace ksim::raft {

std::string DirectoryId::str() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

DirectoryId formatted_directory_id(const sim::World& world, sim::NodeId node, uint32_t format) {
  sim::Rng rng = world.rng("raft/directory-id/" + std::to_string(node.value) + "/" + std::to_string(format));
  // Kafka reserves a few Uuids (ZERO, LOST, MIGRATING...): never mint 0.
  uint64_t v = rng.next_u64();
  return DirectoryId{v == 0 ? 1 : v};
}

std::string encode_meta_properties(int32_t node_id, DirectoryId dir) {
  return "version=1\nnode.id=" + std::to_string(node_id) + "\ndirectory.id=" + dir.str() + "\n";
}

std::optional<DirectoryId> decode_directory_id(const std::string& text) {
  const std::string key = "directory.id=";
  const size_t at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* b = text.data() + at + key.size();
  const char* e = text.data() + text.size();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(b, e, v, 16);
  if (ec != std::errc() || end == b) return std::nullopt;
  return DirectoryId{v};
}

}  // namespace ksim::raft
